"""The settings for browser clients (CORS) and Redis Cluster."""

from __future__ import annotations

import pytest

from revocation.entrypoints.containers import Container
from revocation.entrypoints.settings import Settings, SettingsError

PRODUCTION = {"JWT_SECRET": "p" * 40, "APP_ID": "laravel", "APP_KEY": "k" * 24}


class TestCorsAllowedOrigins:
    def test_off_by_default(self) -> None:
        assert Settings.from_env(PRODUCTION).cors_allowed_origins == ()

    def test_reads_a_comma_separated_list(self) -> None:
        env = {**PRODUCTION, "CORS_ALLOWED_ORIGINS": " https://app.example, http://[::1]:5173 ,"}
        settings = Settings.from_env(env)
        assert settings.cors_allowed_origins == ("https://app.example", "http://[::1]:5173")

    @pytest.mark.parametrize(
        "origin", ["https://app.example/", "app.example", "https://app.example/login", "ftp://a"]
    )
    def test_refuses_what_no_browser_sends_as_an_origin(self, origin: str) -> None:
        with pytest.raises(SettingsError, match="CORS_ALLOWED_ORIGINS"):
            Settings.from_env({**PRODUCTION, "CORS_ALLOWED_ORIGINS": origin})


class TestRedisCluster:
    def test_off_by_default(self) -> None:
        assert not Settings.from_env(PRODUCTION).redis_cluster

    def test_needs_a_node_url(self) -> None:
        with pytest.raises(SettingsError, match="REDIS_URL"):
            Settings.from_env({**PRODUCTION, "REDIS_CLUSTER": "true"})

    @pytest.mark.parametrize(("flag", "client"), [("true", "RedisCluster"), ("false", "Redis")])
    async def test_the_container_builds_the_client_it_names(self, flag: str, client: str) -> None:
        env = {**PRODUCTION, "REDIS_URL": "redis://127.0.0.1:7000/0", "REDIS_CLUSTER": flag}
        container = Container(settings=Settings.from_env(env))
        assert type(container.redis()).__name__ == client
        await container.redis().aclose()  # nothing was connected: building does no I/O


class TestRedisTopologies:
    @pytest.mark.parametrize(
        ("redis", "client", "feed", "primary"),
        [
            ({"REDIS_URL": "redis://127.0.0.1:7000/0"}, "Redis", "TrackingListener", "Fixed"),
            (
                {"REDIS_SENTINELS": "127.0.0.1:26379"},
                "_SentinelClient",
                "TrackingListener",
                "Sentinel",
            ),
            (
                {"REDIS_URL": "redis://127.0.0.1:7000/0", "REDIS_CLUSTER": "true"},
                "RedisCluster",
                "ClusterTracking",
                None,
            ),
        ],
    )
    async def test_each_topology_gets_its_client_and_its_tracking(
        self, redis: dict[str, str], client: str, feed: str, primary: str | None
    ) -> None:
        container = Container(settings=Settings.from_env({**PRODUCTION, **redis}))
        assert type(container.redis()).__name__ == client
        tracking = container.tracking()
        assert type(tracking).__name__ == feed
        if primary is not None:
            assert type(tracking._primary).__name__ == f"{primary}Primary"  # type: ignore[union-attr]
        await container.redis().aclose()

    @pytest.mark.parametrize(
        ("env", "wait"),
        [
            ({"REDIS_SENTINELS": "127.0.0.1:26379"}, None),
            ({"REDIS_SENTINELS": "127.0.0.1:26379", "REDIS_WAIT_REPLICAS": "1"}, (1, 100)),
            (
                {
                    "REDIS_URL": "redis://r:7000/0",
                    "REDIS_WAIT_REPLICAS": "1",
                    "REDIS_WAIT_TIMEOUT_MS": "7",
                },
                (1, 7),
            ),
            (
                {
                    "REDIS_SENTINELS": "127.0.0.1:26379",
                    "REDIS_WAIT_REPLICAS": "1",
                    "REVOCATION_CACHE": "off",
                },
                None,
            ),
        ],
    )
    async def test_revocations_wait_for_replicas_only_where_redis_answers_alone(
        self, env: dict[str, str], wait: tuple[int, int] | None
    ) -> None:
        container = Container(settings=Settings.from_env({**PRODUCTION, **env}))
        replica_wait = container.redis_blacklist()._replica_wait
        assert (
            None if replica_wait is None else (replica_wait.replicas, replica_wait.timeout_ms)
        ) == wait
        await container.redis().aclose()


REDIS = "redis://127.0.0.1:7000/0"
KEPT = "kept brake reservations"  # given back at shutdown
AFTER_ANSWERS = ["background work", KEPT, "replays"]  # the answers' follow-up work, off their path
WITH_REDIS = ["database pool", "redis client", *AFTER_ANSWERS, "blacklist repair"]
SUMMARIES = "refusal summaries"


class TestLifespan:
    @pytest.mark.parametrize(
        ("env", "in_memory", "steps"),
        [
            ({}, True, [*AFTER_ANSWERS, SUMMARIES]),
            ({}, False, ["database pool", *AFTER_ANSWERS, SUMMARIES]),
            ({"REDIS_URL": REDIS, "REVOCATION_CACHE": "off"}, False, [*WITH_REDIS, SUMMARIES]),
            ({"REDIS_URL": REDIS, "REVOCATION_CACHE": "redis"}, False, [*WITH_REDIS, SUMMARIES]),
            (
                {"REDIS_URL": REDIS, "PURGE_INTERVAL_SECONDS": "60"},
                False,
                [*WITH_REDIS[:2], "tracking", *WITH_REDIS[2:], "purge", "audit purge", SUMMARIES],
            ),
            (
                {"PURGE_INTERVAL_SECONDS": "60", "AUDIT_RETENTION_DAYS": "0"},
                False,
                ["database pool", *AFTER_ANSWERS, "purge", SUMMARIES],
            ),
            ({"REDIS_URL": REDIS}, True, [*AFTER_ANSWERS, SUMMARIES]),
            ({"REPLAY_POLICY": "off"}, True, ["background work", KEPT, SUMMARIES]),
        ],
    )
    def test_starts_what_the_wiring_uses_in_order(
        self, env: dict[str, str], in_memory: bool, steps: list[str]
    ) -> None:
        settings = Settings.from_env({**PRODUCTION, **env})
        container = Container(settings=settings, in_memory=in_memory)
        assert container.lifespan().names == steps


class TestRevocationCacheWiring:
    @pytest.mark.parametrize(
        ("mode", "inner", "suffix"),
        [
            ("off", "RedisBlacklist", b":mirror"),
            ("redis", "RedisBlacklist", b":mirror:full"),
            ("local", "LocallyCachedBlacklist", b":mirror:full"),
        ],
    )
    async def test_the_container_builds_what_the_mode_names(
        self, mode: str, inner: str, suffix: bytes
    ) -> None:
        env = {**PRODUCTION, "REDIS_URL": "redis://127.0.0.1:7000/0", "REVOCATION_CACHE": mode}
        container = Container(settings=Settings.from_env(env))
        assert container.wiring() == mode
        assert type(container.blacklist()).__name__ == inner
        assert container.redis_blacklist()._full_mirror == (mode != "off")
        assert container.policy().redis_answers_alone == (mode != "off")
        markers = container.mirror_marker()._markers
        assert len(markers) == 512  # one per bucket: each lives beside the keys it vouches for
        assert all(marker.endswith(suffix) for marker in markers)
        assert container.mirror_marker()._settle == (0.025 if mode == "local" else 0)
        # the repair writes straight to Redis: no lease wait per write
        assert type(container.repair_blacklist()._blacklist).__name__ == "RedisBlacklist"
        await container.redis().aclose()  # nothing was connected: building does no I/O

    @pytest.mark.parametrize(("size", "codec"), [("0", "PyJWTCodec"), ("5", "VerifiedTokenCache")])
    def test_the_verified_token_cache_can_be_turned_off(self, size: str, codec: str) -> None:
        env = {**PRODUCTION, "VERIFIED_TOKEN_CACHE_SIZE": size}
        assert type(Container(settings=Settings.from_env(env)).codec()).__name__ == codec
