"""The composition root: which adapter implements each port, built from Settings."""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.app_credentials import StaticAppCredentials
from adapters.background import AsyncioBackground
from adapters.clock import SystemClock
from adapters.jwt_codec import PyJWTCodec
from adapters.memory import InMemoryBlacklist
from adapters.mirror_marker import RedisMirrorMarker
from adapters.piccolo.engines import build_engine
from adapters.piccolo.token_log import PiccoloTokenLog
from adapters.prometheus_telemetry import PrometheusTelemetry
from adapters.redis_blacklist import RedisBlacklist, build_redis_client
from adapters.redis_throttle import RedisFailureThrottle
from adapters.telemetry import LoggingTelemetry
from adapters.throttle import InMemoryFailureThrottle
from adapters.watched_blacklist import WatchedBlacklist
from domain.app_gate import AppGate
from domain.policy import BlacklistPolicy
from domain.use_cases import (
    AuthenticateToken,
    InternalIssueToken,
    InternalLogoutAll,
    IssueToken,
    ListSessions,
    LogoutAllDevices,
    LogoutToken,
    RevokeSession,
)
from domain.use_cases.repair_blacklist import RepairBlacklist
from entrypoints.settings import Settings


def build_codec(settings: Settings) -> PyJWTCodec:
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


def blacklist_kind(settings: Settings) -> str:
    return "redis" if settings.redis_url else "memory"


class Container(containers.DeclarativeContainer):
    """Adapters are Singletons (one pool each per process); use cases are cheap Factories."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    # Metrics (per container: a registry of its own) that pass every event on to the logs.
    metrics = providers.Singleton(PrometheusTelemetry, inner=providers.Singleton(LoggingTelemetry))
    # Its own provider: overriding it (a test's recorder) leaves /metrics and its timers working.
    telemetry = providers.Callable(lambda metrics: metrics, metrics)
    codec = providers.Singleton(build_codec, settings)
    policy = providers.Singleton(
        BlacklistPolicy,
        max_ttl_seconds=settings.provided.blacklist_expiry_seconds,
        leeway_seconds=settings.provided.jwt_leeway_seconds,
    )

    database = providers.Singleton(
        build_engine,
        settings.provided.database_url,
        command_timeout=settings.provided.database_timeout_seconds,
    )
    token_log = providers.Singleton(PiccoloTokenLog, database)

    redis = providers.Singleton(
        build_redis_client,
        settings.provided.redis_url,
        socket_timeout=settings.provided.redis_socket_timeout_seconds,
        connect_timeout=settings.provided.redis_connect_timeout_seconds,
        cluster=settings.provided.redis_cluster,
    )
    blacklist = providers.Selector(
        providers.Callable(blacklist_kind, settings),
        # Watched: the repair task re-pushes from the database after any Redis failure.
        redis=providers.Singleton(WatchedBlacklist, providers.Singleton(RedisBlacklist, redis)),
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
        providers.Callable(blacklist_kind, settings),
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

    authenticate_token = providers.Factory(
        AuthenticateToken,
        codec=codec,
        blacklist=blacklist,
        token_log=token_log,
        telemetry=telemetry,
        require_logged=settings.provided.requires_logged_tokens,
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
    mirror_marker = providers.Singleton(RedisMirrorMarker, redis)  # only built with Redis
    repair_blacklist = providers.Factory(
        RepairBlacklist,
        token_log=token_log,
        blacklist=blacklist,
        marker=mirror_marker,
        clock=clock,
        policy=policy,
    )
