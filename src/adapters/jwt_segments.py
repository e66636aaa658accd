"""PyJWT's signature layer with its check of each base64url segment done in C.

PyJWT refuses a segment holding anything but the base64url alphabet (and at most two "="), as it
should; it tests the alphabet one character at a time in a Python generator. A token this process
has not met pays one decode per check, so a gateway's cold tokens pay that every time: the codec
verified a bench-shaped token (HS256, 209 characters) in about 26 us, and in 19 with this class.

`SegmentsInC` is PyJWS with that one function rewritten: the same checks in the same order, the
same errors, the alphabet test by `bytes.translate` (which deletes the alphabet's bytes: anything
left is not base64url). The unit tests hold it to the installed PyJWT's own function on
generated segments, so a PyJWT release that changes its rules fails them instead of being
shadowed by an older copy here.
"""

from __future__ import annotations

import binascii

from jwt.api_jws import PyJWS
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode

BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class SegmentsInC(PyJWS):
    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if padding > 2 or (padding and len(segment) % 4 != 0):
            raise DecodeError(f"Invalid {name} padding")
        if len(stripped) % 4 == 1 or stripped.translate(None, BASE64URL_ALPHABET):
            raise DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as error:
            raise DecodeError(f"Invalid {name} padding") from error
        if base64url_encode(decoded) != stripped:  # only the canonical spelling of the bytes
            raise DecodeError(f"Invalid {name} padding")
        return decoded
