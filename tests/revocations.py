"""Who-and-why values for tests that are about something else: every revocation still names
one, as every caller in the service must."""

from __future__ import annotations

from revocation.domain.audit import Actor, Reason, Revocation

TEST_PEER = "192.0.2.10"  # TEST-NET-1: documentation addresses
LOGOUT = Revocation(Reason.LOGOUT, Actor("user"), TEST_PEER)
LOGOUT_ALL = Revocation(Reason.LOGOUT_ALL, Actor("user"), TEST_PEER)
