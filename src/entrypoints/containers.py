"""The composition root: which adapter implements each port, built from Settings."""

from __future__ import annotations

from dependency_injector import containers, providers

from revocation.adapters.app_credentials import StaticAppCredentials
from revocation.adapters.background import AsyncioBackground
from revocation.adapters.clock import SystemClock
from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.adapters.local_blacklist import LocallyCachedBlacklist
from revocation.adapters.memory import InMemoryBlacklist
from revocation.adapters.mirror_marker import MARKER_KEY, RedisMirrorMarker
from revocation.adapters.piccolo.engines import build_engine
from revocation.adapters.piccolo.token_log import PiccoloTokenLog
from revocation.adapters.prometheus_telemetry import PrometheusTelemetry
from revocation.adapters.redis_blacklist import RedisBlacklist, RedisOptions, build_redis_client
from revocation.adapters.redis_throttle import RedisFailureThrottle
from revocation.adapters.redis_tracking import TrackingListener
from revocation.adapters.telemetry import LoggingTelemetry, RefusalSummary
from revocation.adapters.throttle import InMemoryFailureThrottle
from revocation.adapters.verified_tokens import VerifiedTokenCache
from revocation.adapters.watched_blacklist import WatchedBlacklist
from revocation.domain.app_gate import AppGate
from revocation.domain.logged_tokens import LoggedTokens
from revocation.domain.policy import BlacklistPolicy
from revocation.domain.ports import Clock, TokenCodec
from revocation.domain.use_cases import (
    AuthenticateToken,
    InternalIssueToken,
    InternalLogoutAll,
    IssueToken,
    ListSessions,
    LogoutAllDevices,
    LogoutToken,
    RevokeSession,
)
from revocation.domain.use_cases.repair_blacklist import RepairBlacklist
from revocation.entrypoints.settings import Settings

# Separate from the spec flow's marker: a repair in a mode that answers from Redis alone
# re-pushes entries with their full lifetime, and only such a repair may vouch for that mode.
FULL_MIRROR_MARKER_KEY = MARKER_KEY + b":full"
# Every key the blacklist and the marker use starts with one of these (RedisBlacklist's "rv").
TRACKED_PREFIXES = (b"rv{", b"rv:")


def build_codec(settings: Settings, clock: Clock) -> TokenCodec:
    codec = build_jwt_codec(settings)
    if settings.verified_token_cache_size == 0:
        return codec
    return VerifiedTokenCache(
        codec,
        clock=clock,
        leeway_seconds=settings.jwt_leeway_seconds,
        max_entries=settings.verified_token_cache_size,
    )


def build_jwt_codec(settings: Settings) -> PyJWTCodec:
    if settings.uses_hmac:
        secret = settings.jwt_secret or ""
        signing_key: str | None = secret
        verification_key = secret
    else:
        signing_key = settings.jwt_private_key
        verification_key = settings.jwt_public_key or ""
    return PyJWTCodec(
        algorithms=settings.jwt_algorithms,
        verification_key=verification_key,
        signing_key=signing_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
    )


def storage_kind(settings: Settings) -> str:
    return "redis" if settings.redis_url else "memory"


def blacklist_kind(settings: Settings) -> str:
    """memory, redis (read on every check) or local (Redis values cached in this process)."""
    if not settings.redis_url:
        return "memory"
    return "local" if settings.revocation_cache == "local" else "redis"


def mirror_marker_key(settings: Settings) -> bytes:
    return FULL_MIRROR_MARKER_KEY if settings.redis_answers_alone else MARKER_KEY


def complete_marker(settings: Settings) -> bytes | None:
    """The marker a lookup reads, when the fast layer may answer alone."""
    return mirror_marker_key(settings) if settings.redis_answers_alone else None


class Container(containers.DeclarativeContainer):
    """Adapters are Singletons (one pool each per process); use cases are cheap Factories."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    # Metrics (per container: a registry of its own) that pass every event on to the logs.
    # Refused tokens are logged as one summary per reason per interval (a timer flushes it).
    refusal_summary = providers.Singleton(
        RefusalSummary, interval_seconds=settings.provided.refusal_log_interval_seconds
    )
    metrics = providers.Singleton(
        PrometheusTelemetry, inner=providers.Singleton(LoggingTelemetry, refusal_summary)
    )
    # Its own provider: overriding it (a test's recorder) leaves /metrics and its timers working.
    telemetry = providers.Callable(lambda metrics: metrics, metrics)
    codec = providers.Singleton(build_codec, settings, clock)
    policy = providers.Singleton(
        BlacklistPolicy,
        max_ttl_seconds=settings.provided.blacklist_expiry_seconds,
        leeway_seconds=settings.provided.jwt_leeway_seconds,
        redis_answers_alone=settings.provided.redis_answers_alone,
        max_token_lifetime_seconds=settings.provided.access_token_ttl_seconds,
    )

    database = providers.Singleton(
        build_engine,
        settings.provided.database_url,
        command_timeout=settings.provided.database_timeout_seconds,
        pool_max_size=settings.provided.database_pool_size,
    )
    token_log = providers.Singleton(PiccoloTokenLog, database)

    redis = providers.Singleton(
        build_redis_client,
        settings.provided.redis_url,
        providers.Singleton(
            RedisOptions,
            socket_timeout=settings.provided.redis_socket_timeout_seconds,
            connect_timeout=settings.provided.redis_connect_timeout_seconds,
            max_connections=settings.provided.redis_max_connections,
            pool_timeout=settings.provided.redis_pool_timeout_seconds,
        ),
        cluster=settings.provided.redis_cluster,
    )
    redis_blacklist = providers.Singleton(
        RedisBlacklist, redis, complete_marker=providers.Callable(complete_marker, settings)
    )
    # Only built (and started by the app's lifespan) when REVOCATION_CACHE=local.
    tracking = providers.Singleton(
        TrackingListener,
        settings.provided.redis_url,
        prefixes=TRACKED_PREFIXES,
        lease_seconds=settings.provided.revocation_lease_seconds,
        connect_timeout=settings.provided.redis_connect_timeout_seconds,
    )
    blacklist = providers.Selector(
        providers.Callable(blacklist_kind, settings),
        # Watched: the repair task re-pushes from the database after any Redis failure.
        redis=providers.Singleton(WatchedBlacklist, redis_blacklist),
        local=providers.Singleton(
            WatchedBlacklist,
            providers.Singleton(
                LocallyCachedBlacklist,
                redis_blacklist,
                tracking,
                lease_seconds=settings.provided.revocation_lease_seconds,
                max_entries=settings.provided.revocation_cache_size,
            ),
        ),
        memory=providers.Singleton(InMemoryBlacklist, clock),
    )

    local_throttle = providers.Singleton(
        InMemoryFailureThrottle,
        clock=clock,
        max_failures=settings.provided.lgt_all_max_failures,
        window_seconds=settings.provided.lgt_all_failure_window_seconds,
    )
    # With Redis, every instance counts the same failures; without it, each process its own.
    throttle = providers.Selector(
        providers.Callable(storage_kind, settings),
        redis=providers.Singleton(
            RedisFailureThrottle,
            redis,
            max_failures=settings.provided.lgt_all_max_failures,
            window_seconds=settings.provided.lgt_all_failure_window_seconds,
            fallback=local_throttle,
        ),
        memory=local_throttle,
    )
    gate = providers.Singleton(
        AppGate,
        credentials=providers.Singleton(
            StaticAppCredentials, settings.provided.app_id, settings.provided.app_key
        ),
        throttle=throttle,
        telemetry=telemetry,
    )

    # What this process learnt from the log: kept across requests, so one per container.
    logged_tokens = providers.Singleton(
        LoggedTokens,
        max_entries=settings.provided.revocation_cache_size,
        leeway_seconds=settings.provided.jwt_leeway_seconds,
    )
    authenticate_token = providers.Factory(
        AuthenticateToken,
        codec=codec,
        blacklist=blacklist,
        token_log=token_log,
        telemetry=telemetry,
        require_logged=settings.provided.requires_logged_tokens,
        policy=policy,
        clock=clock,
        logged_tokens=logged_tokens,
        unlogged_iat_skew_seconds=settings.provided.unlogged_iat_skew_seconds,
    )
    logout_token = providers.Factory(
        LogoutToken,
        token_log=token_log,
        blacklist=blacklist,
        clock=clock,
        policy=policy,
        telemetry=telemetry,
    )
    # Blocks a logged-out-everywhere user's rows after the response; the app drains it.
    background = providers.Singleton(AsyncioBackground)
    logout_all_devices = providers.Factory(
        LogoutAllDevices,
        token_log=token_log,
        blacklist=blacklist,
        clock=clock,
        policy=policy,
        telemetry=telemetry,
        background=background,
    )
    internal_logout_all = providers.Factory(
        InternalLogoutAll, gate=gate, logout_all_devices=logout_all_devices
    )
    issue_token = providers.Factory(
        IssueToken,
        codec=codec,
        token_log=token_log,
        clock=clock,
        issuer=providers.Callable(lambda s: s.jwt_issuer or "", settings),
        ttl_seconds=settings.provided.access_token_ttl_seconds,
    )
    internal_issue_token = providers.Factory(InternalIssueToken, gate=gate, issue_token=issue_token)
    list_sessions = providers.Factory(ListSessions, token_log=token_log, clock=clock)
    revoke_session = providers.Factory(
        RevokeSession, token_log=token_log, clock=clock, logout_token=logout_token
    )
    mirror_marker = providers.Singleton(  # only built with Redis
        RedisMirrorMarker,
        redis,
        key=providers.Callable(mirror_marker_key, settings),
        settle_seconds=providers.Callable(
            lambda s: s.revocation_lease_seconds if blacklist_kind(s) == "local" else 0, settings
        ),
    )
    # The repair writes straight to Redis: a lease wait after each of its writes would make a
    # repair of 10,000 watermarks take minutes; the marker waits once, before saying "done".
    repair_target = providers.Selector(
        providers.Callable(blacklist_kind, settings),
        redis=redis_blacklist,
        local=redis_blacklist,
        memory=blacklist,
    )
    repair_blacklist = providers.Factory(
        RepairBlacklist,
        token_log=token_log,
        blacklist=repair_target,
        marker=mirror_marker,
        clock=clock,
        policy=policy,
    )
