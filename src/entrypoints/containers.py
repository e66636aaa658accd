"""The composition root: which adapter implements each port, built from Settings, and what
starts and stops with the app (`Container.lifespan`)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from dependency_injector import containers, providers
from redis.asyncio import Redis

from revocation.adapters.app_credentials import StaticAppCredentials
from revocation.adapters.background import AsyncioBackground
from revocation.adapters.clock import SystemClock
from revocation.adapters.jwt_codec import PyJWTCodec
from revocation.adapters.memory import InMemoryBlacklist, InMemoryTokenLog
from revocation.adapters.piccolo.audit_trail import PiccoloAuditTrail
from revocation.adapters.piccolo.engines import build_engine
from revocation.adapters.piccolo.token_log import PiccoloTokenLog
from revocation.adapters.prometheus_telemetry import PrometheusTelemetry
from revocation.adapters.redis.blacklist import RedisBlacklist, ReplicaWait
from revocation.adapters.redis.cached_blacklist import LocallyCachedBlacklist
from revocation.adapters.redis.client import (
    KeyLayout,
    RedisClient,
    RedisFailures,
    RedisOptions,
    build_redis_client,
)
from revocation.adapters.redis.cluster import ClusterTracking, ClusterView
from revocation.adapters.redis.mirror_marker import RedisMirrorMarker, RepairWitness
from revocation.adapters.redis.replay_tally import RedisReplayTally
from revocation.adapters.redis.sentinel import (
    SentinelPrimary,
    build_sentinel_client,
    follow_primary,
)
from revocation.adapters.redis.throttle import RedisFailureThrottle
from revocation.adapters.redis.tracking import FixedPrimary, Primary, TrackingListener
from revocation.adapters.replay_queue import IgnoredReplays, ReplayQueue, Respond
from revocation.adapters.replay_tally import InMemoryReplayTally
from revocation.adapters.telemetry import LoggingTelemetry, RefusalSummary
from revocation.adapters.throttle import InMemoryFailureThrottle
from revocation.adapters.throttle_kept import KeepingThrottle
from revocation.adapters.throttle_turns import QueuedThrottle
from revocation.adapters.verified_tokens import VerifiedTokenCache
from revocation.domain.app_gate import AppGate
from revocation.domain.logged_mirror import LoggedMirror
from revocation.domain.logged_tokens import LoggedTokens
from revocation.domain.policy import BlacklistPolicy
from revocation.domain.ports import Clock, TokenCodec
from revocation.domain.replays import KnownEndings, Replay, ReplayRules
from revocation.domain.revoked_tokens import RevokedTokens
from revocation.domain.use_cases import (
    AuthenticateToken,
    InternalIssueToken,
    InternalLogoutAll,
    InternalSessionHistory,
    IntrospectToken,
    IssueToken,
    ListSessions,
    LogoutAllDevices,
    LogoutToken,
    RespondToReplays,
    RevokeOAuthToken,
    RevokeSession,
    SessionHistory,
)
from revocation.domain.use_cases.repair_blacklist import RepairBlacklist
from revocation.entrypoints.blacklist_repair import RepairLoop
from revocation.entrypoints.http.peer import TrustedProxies, current_peer
from revocation.entrypoints.lifespan import Wiring, service_lifespan
from revocation.entrypoints.settings import Settings


def wiring_of(settings: Settings, in_memory: bool) -> Wiring:
    if in_memory or not settings.redis_url:
        return "memory"
    return settings.revocation_cache


def build_jwt_codec(settings: Settings) -> PyJWTCodec:
    secret = settings.jwt_secret if settings.uses_hmac else None
    return PyJWTCodec(
        algorithms=settings.jwt_algorithms,
        verification_key=secret or settings.jwt_public_key or "",
        signing_key=secret or settings.jwt_private_key,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
        previous_verification_keys=() if secret else settings.jwt_verification_keys,
    )


def build_codec(settings: Settings, clock: Clock, codec: PyJWTCodec) -> TokenCodec:
    if settings.verified_token_cache_size == 0:
        return codec
    return VerifiedTokenCache(
        codec,
        clock=clock,
        leeway_seconds=settings.jwt_leeway_seconds,
        max_entries=settings.verified_token_cache_size,
    )


def redis_options(settings: Settings) -> RedisOptions:
    return RedisOptions(
        socket_timeout=settings.redis_socket_timeout_seconds,
        connect_timeout=settings.redis_connect_timeout_seconds,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout_seconds,
    )


def redis_client(settings: Settings) -> RedisClient:
    """One Redis, the primary the sentinels name, or a Cluster: connects on first use."""
    url, options = settings.redis_url or "", redis_options(settings)
    if settings.redis_sentinels:
        return build_sentinel_client(
            settings.redis_sentinels,
            settings.redis_sentinel_service,
            url,
            options,
            sentinel_password=settings.redis_sentinel_password,
        )
    return build_redis_client(url, options, cluster=settings.redis_cluster)


def redis_primary(settings: Settings) -> Primary:
    """Where the tracking connection finds the primary, and who still vouches for it."""
    if settings.redis_sentinels:
        return SentinelPrimary(
            settings.redis_sentinels,
            settings.redis_sentinel_service,
            redis_options(settings),
            password=settings.redis_sentinel_password,
        )
    return FixedPrimary(settings.redis_url or "")


def tracking_feed(
    settings: Settings,
    client: RedisClient,
    failures: RedisFailures,
    keys: KeyLayout,
    metrics: PrometheusTelemetry,
) -> TrackingListener | ClusterTracking:
    """The local cache's tracking connection (one per primary in a Cluster), reporting its
    probes' lag to the metrics; with Sentinel, the client's connections follow its primary."""
    url = settings.redis_url or ""
    feed: TrackingListener | ClusterTracking
    if settings.redis_cluster:
        feed = ClusterTracking(
            ClusterView(url, redis_options(settings)),
            url,
            failures,
            prefixes=keys.tracked_prefixes,
            lease_seconds=settings.revocation_lease_seconds,
            connect_timeout=settings.redis_connect_timeout_seconds,
        )
    else:
        primary = redis_primary(settings)
        if isinstance(primary, SentinelPrimary) and isinstance(client, Redis):
            follow_primary(client, primary)
        feed = TrackingListener(
            url,
            failures,
            primary=primary,
            prefixes=keys.tracked_prefixes,
            lease_seconds=settings.revocation_lease_seconds,
            connect_timeout=settings.redis_connect_timeout_seconds,
        )
    feed.on_probe(metrics.invalidation_lagged)
    return feed


def replica_wait(settings: Settings, policy: BlacklistPolicy) -> ReplicaWait | None:
    """Where Redis answers alone, a revocation waits for the replicas that a failover may
    promote; elsewhere every check reads the log, which no failover loses."""
    if not (policy.redis_answers_alone and settings.redis_wait_replicas):
        return None
    return ReplicaWait(settings.redis_wait_replicas, settings.redis_wait_timeout_ms)


def replay_responder(respond_to_replays: Callable[[], RespondToReplays]) -> Respond:
    """A round of the replay watch: a fresh use case per round, as per request."""

    async def respond(replays: list[Replay]) -> None:
        await respond_to_replays()(replays=replays)

    return respond


class Container(containers.DeclarativeContainer):
    """Adapters are Singletons (one pool each per process); use cases are cheap Factories.

    `in_memory=True` swaps the whole storage (token log, blacklist, brake) for the in-memory
    adapters, with no server at all: what a team's own tests use.
    """

    settings = providers.Dependency(instance_of=Settings)
    in_memory = providers.Object(False)
    wiring = providers.Callable(wiring_of, settings, in_memory)

    clock = providers.Singleton(SystemClock)
    # Refused tokens are logged as one summary per reason per interval (a timer flushes it).
    refusal_summary = providers.Singleton(
        RefusalSummary, interval_seconds=settings.provided.refusal_log_interval_seconds
    )
    # Metrics (per container: a registry of its own) that pass every event on to the logs.
    metrics = providers.Singleton(
        PrometheusTelemetry, inner=providers.Singleton(LoggingTelemetry, refusal_summary)
    )
    # Its own provider: overriding it (a test's recorder) leaves /metrics and its timers working.
    telemetry = providers.Callable(lambda metrics: metrics, metrics)
    # The keys (and the JWKS that publishes them), and the verified-token cache in front.
    jwt_codec = providers.Singleton(build_jwt_codec, settings)
    codec = providers.Singleton(build_codec, settings, clock, jwt_codec)
    policy = providers.Singleton(
        BlacklistPolicy,
        max_ttl_seconds=settings.provided.blacklist_expiry_seconds,
        leeway_seconds=settings.provided.jwt_leeway_seconds,
        redis_answers_alone=providers.Callable(lambda w: w in ("redis", "local"), wiring),
        max_token_lifetime_seconds=settings.provided.access_token_ttl_seconds,
    )

    database = providers.Singleton(
        build_engine,
        settings.provided.database_url,
        command_timeout=settings.provided.database_timeout_seconds,
        pool_max_size=settings.provided.database_pool_size,
    )
    token_log = providers.Selector(
        providers.Callable(lambda memory: "memory" if memory else "database", in_memory),
        memory=providers.Singleton(InMemoryTokenLog),
        database=providers.Singleton(PiccoloTokenLog, database),
    )
    # Written by the token log's revocations (same transaction); read by the history.
    audit_trail = providers.Selector(
        providers.Callable(lambda memory: "memory" if memory else "database", in_memory),
        memory=providers.Callable(lambda log: log.audit_trail, token_log),
        database=providers.Singleton(PiccoloAuditTrail, database),
    )

    # Redis: built only by the wirings that use it.
    keys = providers.Object(KeyLayout())
    redis_failures = providers.Singleton(RedisFailures)
    redis = providers.Singleton(redis_client, settings)
    # Which node took each bucket's writes while a repair runs: its marker is stamped only there.
    repair_witness = providers.Singleton(
        RepairWitness,
        providers.Callable(
            lambda keys, policy: functools.partial(keys.marker_of, full=policy.redis_answers_alone),
            keys,
            policy,
        ),
    )
    # Where Redis answers alone, each lookup also reads the full mirror's markers.
    redis_blacklist = providers.Singleton(
        RedisBlacklist,
        redis,
        redis_failures,
        keys=keys,
        full_mirror=policy.provided.redis_answers_alone,
        replica_wait=providers.Callable(replica_wait, settings, policy),
        witness=repair_witness,
    )
    tracking = providers.Singleton(tracking_feed, settings, redis, redis_failures, keys, metrics)
    blacklist = providers.Selector(
        wiring,
        memory=providers.Singleton(InMemoryBlacklist, clock),
        off=redis_blacklist,
        redis=redis_blacklist,
        local=providers.Singleton(
            LocallyCachedBlacklist,
            redis_blacklist,
            tracking,
            lease_seconds=settings.provided.revocation_lease_seconds,
            max_entries=settings.provided.revocation_cache_size,
            cluster=settings.provided.redis_cluster,
        ),
    )
    mirror_marker = providers.Singleton(
        RedisMirrorMarker,
        redis,
        redis_failures,
        markers=providers.Callable(
            lambda keys, policy: keys.markers(full=policy.redis_answers_alone), keys, policy
        ),
        # With local caches, the repair's writes must reach every cache before any of them
        # trusts Redis alone: the marker waits one lease before saying "done".
        settle_seconds=providers.Callable(
            lambda w, s: s.revocation_lease_seconds if w == "local" else 0, wiring, settings
        ),
        witness=repair_witness,
    )

    local_throttle = providers.Singleton(
        InMemoryFailureThrottle,
        clock=clock,
        max_failures=settings.provided.lgt_all_max_failures,
        window_seconds=settings.provided.lgt_all_failure_window_seconds,
    )
    # With Redis, every instance shares the windows; without it, each process has its own.
    throttle = providers.Selector(
        providers.Callable(lambda w: "memory" if w == "memory" else "redis", wiring),
        redis=providers.Singleton(
            RedisFailureThrottle,
            redis,
            redis_failures,
            max_failures=settings.provided.lgt_all_max_failures,
            window_seconds=settings.provided.lgt_all_failure_window_seconds,
            fallback=local_throttle,
            # A kept reservation's lease outlives its use by more than a resolve can take (a
            # pooled connection, and a retry on a new one after a dropped connection).
            lease_margin_seconds=providers.Callable(
                lambda s: (
                    1.0
                    + s.redis_pool_timeout_seconds
                    + 2 * s.redis_connect_timeout_seconds
                    + 2 * s.redis_socket_timeout_seconds
                ),
                settings,
            ),
        ),
        memory=local_throttle,
    )
    # Replays of revoked tokens: counted fleet-wide through Redis (in process without it).
    local_replay_tally = providers.Singleton(InMemoryReplayTally, clock)
    replay_tally = providers.Selector(
        providers.Callable(lambda w: "memory" if w == "memory" else "redis", wiring),
        redis=providers.Singleton(
            RedisReplayTally, redis, redis_failures, fallback=local_replay_tally
        ),
        memory=local_replay_tally,
    )
    replay_queue = providers.Singleton(
        ReplayQueue,
        telemetry=telemetry,
        peer=providers.Callable(
            current_peer, providers.Singleton(TrustedProxies, settings.provided.trusted_proxies)
        ),
    )
    replay_watch = providers.Selector(
        providers.Callable(lambda s: "off" if s.replay_policy == "off" else "on", settings),
        on=replay_queue,
        off=providers.Singleton(IgnoredReplays),
    )

    # A client authenticating many times at once (introspection) queues here, not polling;
    # one authenticating on every request reuses its last success's reservation for a while.
    queued_throttle = providers.Singleton(
        QueuedThrottle, throttle, max_in_flight=settings.provided.lgt_all_max_failures
    )
    kept_throttle = providers.Singleton(KeepingThrottle, queued_throttle)
    gate = providers.Singleton(
        AppGate,
        credentials=providers.Singleton(
            StaticAppCredentials, settings.provided.app_id, settings.provided.app_key
        ),
        throttle=kept_throttle,
        telemetry=telemetry,
    )

    # What this process learnt from the log: kept across requests, so one per container.
    logged_tokens = providers.Singleton(
        LoggedTokens,
        max_entries=settings.provided.revocation_cache_size,
        leeway_seconds=settings.provided.jwt_leeway_seconds,
    )
    # What this process refused as revoked, by the verified-token cache's claims objects: as
    # many as that cache holds (beyond it, the claims are new objects and never hit).
    revoked_tokens = providers.Singleton(
        RevokedTokens, max_entries=settings.provided.verified_token_cache_size
    )
    # Where checks take the fast layer's word: which tokens are logged, so each costs the fleet
    # one database read at most (none when issued here).
    logged_mirror = providers.Factory(
        LoggedMirror, blacklist=blacklist, policy=policy, clock=clock, telemetry=telemetry
    )
    authenticate_token = providers.Factory(
        AuthenticateToken,
        codec=codec,
        blacklist=blacklist,
        token_log=token_log,
        telemetry=telemetry,
        policy=policy,
        clock=clock,
        logged_tokens=logged_tokens,
        logged_mirror=logged_mirror,
        revoked_tokens=revoked_tokens,
        replays=replay_watch,
        require_logged=settings.provided.requires_logged_tokens,
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
    # Blocks a logged-out-everywhere user's rows after the response; drained at shutdown.
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
    # OAuth's doors to the same check and the same logout.
    introspect_token = providers.Factory(
        IntrospectToken, gate=gate, authenticate=authenticate_token
    )
    revoke_oauth_token = providers.Factory(
        RevokeOAuthToken, gate=gate, codec=codec, logout_token=logout_token
    )
    issue_token = providers.Factory(
        IssueToken,
        codec=codec,
        token_log=token_log,
        clock=clock,
        logged_mirror=logged_mirror,
        issuer=providers.Callable(lambda s: s.jwt_issuer or "", settings),
        ttl_seconds=settings.provided.access_token_ttl_seconds,
    )
    internal_issue_token = providers.Factory(InternalIssueToken, gate=gate, issue_token=issue_token)
    list_sessions = providers.Factory(ListSessions, token_log=token_log, clock=clock)
    revoke_session = providers.Factory(
        RevokeSession, token_log=token_log, clock=clock, logout_token=logout_token
    )
    session_history = providers.Factory(SessionHistory, audit_trail=audit_trail)
    internal_session_history = providers.Factory(
        InternalSessionHistory, gate=gate, session_history=session_history
    )
    respond_to_replays = providers.Factory(
        RespondToReplays,
        token_log=token_log,
        tally=replay_tally,
        telemetry=telemetry,
        clock=clock,
        rules=providers.Singleton(
            ReplayRules,
            policy=settings.provided.replay_policy,
            grace_seconds=settings.provided.replay_grace_seconds,
            window_seconds=settings.provided.replay_alert_window_seconds,
        ),
        leeway_seconds=settings.provided.jwt_leeway_seconds,
        logout_all_devices=logout_all_devices,
        known_endings=providers.Singleton(KnownEndings),
    )
    # The repair writes straight to Redis: a lease wait after each of its writes would make a
    # repair of 10,000 watermarks take minutes; the marker waits once, before saying "done".
    repair_blacklist = providers.Factory(
        RepairBlacklist,
        token_log=token_log,
        blacklist=redis_blacklist,
        marker=mirror_marker,
        clock=clock,
        policy=policy,
    )
    repair_loop = providers.Singleton(
        RepairLoop,
        repair_blacklist.provider,
        redis_failures,
        mirror_marker,
        settings.provided.blacklist_repair_interval_seconds,
    )

    # Start-up and shutdown of what the wiring above uses, in order: one per app start.
    lifespan = providers.Factory(
        service_lifespan,
        settings,
        wiring,
        in_memory,
        database=database.provider,
        token_log=token_log.provider,
        redis=redis.provider,
        tracking=tracking.provider,
        repair_loop=repair_loop.provider,
        background=background.provider,
        kept_throttle=kept_throttle.provider,
        refusals=refusal_summary.provider,
        clock=clock.provider,
        audit_trail=audit_trail.provider,
        replays=replay_queue.provider,
        respond_to_replays=providers.Callable(replay_responder, respond_to_replays.provider),
    )
