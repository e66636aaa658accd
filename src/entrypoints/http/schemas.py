"""Request and response bodies, exactly as the spec writes them."""

from __future__ import annotations

import msgspec

LOGGED_OUT = "Successfully Logged Out."
LOGGED_OUT_EVERYWHERE = "Successfully Logged Out From All Device."


class Message(msgspec.Struct, frozen=True):
    message: str


class ErrorBody(msgspec.Struct, frozen=True):
    title: str


class IssuedTokenBody(msgspec.Struct, frozen=True):
    token: str
    token_type: str
    expires_at: int
    jti: str
