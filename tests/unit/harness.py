"""Use cases wired on the in-memory adapters, as a user's own tests would wire them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from revocation.adapters.app_credentials import StaticAppCredentials
from revocation.adapters.clock import ManualClock
from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.adapters.memory import InMemoryBlacklist, InMemoryTokenLog
from revocation.adapters.memory_audit import InMemoryAuditTrail
from revocation.adapters.replay_queue import ReplayQueue
from revocation.adapters.replay_tally import InMemoryReplayTally
from revocation.adapters.telemetry import RecordingTelemetry
from revocation.adapters.throttle import InMemoryFailureThrottle
from revocation.domain.app_gate import AppGate
from revocation.domain.logged_mirror import LoggedMirror
from revocation.domain.logged_tokens import LoggedTokens
from revocation.domain.policy import BlacklistPolicy
from revocation.domain.ports import Background, Blacklist, ReplayTally, TokenCodec, TokenLog
from revocation.domain.replays import KnownEndings, ReplayPolicy, ReplayRules
from revocation.domain.revoked_tokens import RevokedTokens
from revocation.domain.use_cases import (
    AuthenticateToken,
    InternalLogoutAll,
    InternalSessionHistory,
    IssueToken,
    LogoutAllDevices,
    LogoutToken,
    RespondToReplays,
    RevokeSession,
    SessionHistory,
)
from tests.fakes import ManualBackground
from tests.revocations import TEST_PEER

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
APP_ID = "laravel"
APP_KEY = "laravel-app-key"
TTL = 3600
MAX_BLACKLIST_TTL = 600
LEEWAY = 5


@dataclass
class Harness:
    """A fresh set of fakes; swap `token_log` / `blacklist` to simulate an outage."""

    clock: ManualClock = field(default_factory=lambda: ManualClock(start=time.time()))
    token_log: TokenLog = field(default_factory=InMemoryTokenLog)
    blacklist: Blacklist | None = None
    require_logged: bool = True
    redis_answers_alone: bool = False  # REVOCATION_CACHE=redis|local: a complete mirror
    max_failures: int = 3
    skew: int = 0  # UNLOGGED_IAT_SKEW_SECONDS
    telemetry: RecordingTelemetry = field(default_factory=RecordingTelemetry)
    background: ManualBackground = field(default_factory=ManualBackground)

    def __post_init__(self) -> None:
        if self.blacklist is None:
            self.blacklist = InMemoryBlacklist(self.clock, complete=self.redis_answers_alone)
        self.logged_tokens = LoggedTokens(leeway_seconds=LEEWAY)  # one per process, like the app
        self.revoked_tokens = RevokedTokens(max_entries=1_000)
        self.codec: TokenCodec = PyJWTCodec(
            algorithms=("HS256",),
            verification_key=SECRET,
            signing_key=SECRET,
            issuer="unit-tests",
            audience=None,
            leeway_seconds=LEEWAY,
        )
        self.policy = BlacklistPolicy(
            max_ttl_seconds=MAX_BLACKLIST_TTL,
            leeway_seconds=LEEWAY,
            redis_answers_alone=self.redis_answers_alone,
            max_token_lifetime_seconds=TTL,
        )
        # What the checks noted as replays: `self.replays.take()`, as the round would.
        self.replays = ReplayQueue(telemetry=self.telemetry, peer=lambda: TEST_PEER)
        self.throttle = InMemoryFailureThrottle(
            clock=self.clock, max_failures=self.max_failures, window_seconds=60
        )
        self.tally: ReplayTally = InMemoryReplayTally(self.clock)
        self.known_endings = KnownEndings()

    @property
    def fast(self) -> Blacklist:
        assert self.blacklist is not None
        return self.blacklist

    def logged_mirror(self) -> LoggedMirror:
        return LoggedMirror(
            blacklist=self.fast, policy=self.policy, clock=self.clock, telemetry=self.telemetry
        )

    def issue_token(self) -> IssueToken:
        return IssueToken(
            codec=self.codec,
            token_log=self.token_log,
            clock=self.clock,
            logged_mirror=self.logged_mirror(),
            issuer="unit-tests",
            ttl_seconds=TTL,
        )

    def authenticate(self) -> AuthenticateToken:
        return AuthenticateToken(
            codec=self.codec,
            blacklist=self.fast,
            token_log=self.token_log,
            telemetry=self.telemetry,
            require_logged=self.require_logged,
            policy=self.policy,
            clock=self.clock,
            logged_tokens=self.logged_tokens,
            logged_mirror=self.logged_mirror(),
            revoked_tokens=self.revoked_tokens,
            replays=self.replays,
            unlogged_iat_skew_seconds=self.skew,
        )

    def logout(self) -> LogoutToken:
        return LogoutToken(
            token_log=self.token_log,
            blacklist=self.fast,
            clock=self.clock,
            policy=self.policy,
            telemetry=self.telemetry,
        )

    def logout_all(self, background: Background | None = None) -> LogoutAllDevices:
        """With this harness's `background` unless given another: rows are blocked once the
        test runs it (`await harness.background.finish()`), as after a response."""
        return LogoutAllDevices(
            token_log=self.token_log,
            blacklist=self.fast,
            clock=self.clock,
            policy=self.policy,
            telemetry=self.telemetry,
            background=background or self.background,
        )

    def gate(self) -> AppGate:
        return AppGate(
            credentials=StaticAppCredentials(APP_ID, APP_KEY),
            throttle=self.throttle,
            telemetry=self.telemetry,
        )

    def internal_logout_all(self) -> InternalLogoutAll:
        return InternalLogoutAll(gate=self.gate(), logout_all_devices=self.logout_all())

    def revoke_session(self) -> RevokeSession:
        return RevokeSession(token_log=self.token_log, clock=self.clock, logout_token=self.logout())

    @property
    def audit_trail(self) -> InMemoryAuditTrail:
        """What the revocations recorded (the in-memory token log's trail)."""
        assert isinstance(self.token_log, InMemoryTokenLog)
        return self.token_log.audit_trail

    def history(self) -> SessionHistory:
        return SessionHistory(audit_trail=self.audit_trail)

    def internal_history(self) -> InternalSessionHistory:
        return InternalSessionHistory(gate=self.gate(), session_history=self.history())

    def respond_to_replays(
        self, policy: ReplayPolicy = "alert", *, grace: int = 10, window: int = 300
    ) -> RespondToReplays:
        return RespondToReplays(
            token_log=self.token_log,
            tally=self.tally,
            telemetry=self.telemetry,
            clock=self.clock,
            rules=ReplayRules(policy=policy, grace_seconds=grace, window_seconds=window),
            leeway_seconds=LEEWAY,
            logout_all_devices=self.logout_all(),
            known_endings=self.known_endings,
        )


def bearer(token: str) -> str:
    return f"Bearer {token}"
