from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from revocation.entrypoints.settings import DEV_APP_KEY, DEV_JWT_SECRET, Settings, SettingsError
from revocation.entrypoints.settings_table import SETTINGS, reference

PRODUCTION = {"JWT_SECRET": "p" * 40, "APP_ID": "laravel", "APP_KEY": "k" * 24}


class TestSettingsFromEnv:
    def test_production_is_the_default_and_needs_every_secret(self) -> None:
        with pytest.raises(SettingsError, match="JWT_SECRET"):
            Settings.from_env({})
        with pytest.raises(SettingsError, match="APP_ID and APP_KEY"):
            Settings.from_env({"JWT_SECRET": "p" * 40})

    def test_development_mode_uses_fixed_labelled_secrets(self) -> None:
        settings = Settings.from_env({"REVOCATION_ENV": "development"})
        assert settings.jwt_secret == DEV_JWT_SECRET
        assert settings.app_key == DEV_APP_KEY
        assert "development" in DEV_JWT_SECRET
        assert len(DEV_JWT_SECRET.encode()) >= 32

    def test_embedded_defaults_need_no_server(self) -> None:
        settings = Settings.from_env(PRODUCTION)
        assert settings.database_url.startswith("sqlite:///")
        assert settings.redis_url is None
        assert settings.jwt_algorithms == ("HS256",)
        assert settings.requires_logged_tokens

    def test_blacklist_expiry_defaults_to_the_token_lifetime(self) -> None:
        settings = Settings.from_env({**PRODUCTION, "ACCESS_TOKEN_TTL_SECONDS": "900"})
        assert settings.blacklist_expiry_seconds == 900
        explicit = Settings.from_env({**PRODUCTION, "REDIS_BLACKLIST_OBJECT_EXPIRY_IN_SEC": "60"})
        assert explicit.blacklist_expiry_seconds == 60

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("REDIS_BLACKLIST_OBJECT_EXPIRY_IN_SEC", "soon"),
            ("ACCESS_TOKEN_TTL_SECONDS", "0"),
            ("TOKEN_CHECK", "maybe"),
            ("REVOCATION_ENV", "staging"),
            ("TRUSTED_PROXIES", "not-an-ip"),
            ("JWT_SECRET", "short"),
            ("REDIS_SOCKET_TIMEOUT_SECONDS", "-1"),
        ],
    )
    def test_a_malformed_value_is_a_clear_error(self, name: str, value: str) -> None:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**PRODUCTION, name: value})

    def test_trusted_proxies_are_addresses_or_networks(self) -> None:
        settings = Settings.from_env({**PRODUCTION, "TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
        assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1/32")

    def test_asymmetric_algorithms_need_a_public_key(self) -> None:
        with pytest.raises(SettingsError, match="JWT_PUBLIC_KEY"):
            Settings.from_env({**PRODUCTION, "JWT_ALGORITHMS": "RS256"})


SENTINEL = {"REDIS_SENTINELS": "10.0.0.1:26379, [::1]:26380"}
CLUSTER = {"REDIS_URL": "redis://r:6379/0", "REDIS_CLUSTER": "true"}


class TestRevocationCacheSettings:
    @pytest.mark.parametrize("redis", [{"REDIS_URL": "redis://r:6379/0"}, SENTINEL, CLUSTER])
    def test_local_is_the_default_with_any_redis(self, redis: dict[str, str]) -> None:
        settings = Settings.from_env({**PRODUCTION, **redis})
        assert settings.revocation_cache == "local"
        assert settings.revocation_lease_ms == 25

    def test_off_without_redis(self) -> None:
        assert Settings.from_env(PRODUCTION).revocation_cache == "off"

    @pytest.mark.parametrize("mode", ["redis", "local"])
    def test_a_cache_without_redis_is_refused(self, mode: str) -> None:
        with pytest.raises(SettingsError, match="REVOCATION_CACHE"):
            Settings.from_env({**PRODUCTION, "REVOCATION_CACHE": mode})

    @pytest.mark.parametrize("redis", [SENTINEL, CLUSTER])
    def test_redis_alone_is_refused_where_redis_fails_over(self, redis: dict[str, str]) -> None:
        with pytest.raises(SettingsError, match="REVOCATION_CACHE=redis needs one Redis"):
            Settings.from_env({**PRODUCTION, **redis, "REVOCATION_CACHE": "redis"})

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("REVOCATION_CACHE", "on"),
            ("REVOCATION_LEASE_MS", "0"),
            ("REVOCATION_CACHE_SIZE", "10"),
            ("VERIFIED_TOKEN_CACHE_SIZE", "-1"),
        ],
    )
    def test_a_malformed_cache_setting_is_a_clear_error(self, name: str, value: str) -> None:
        env = {**PRODUCTION, "REDIS_URL": "redis://r:6379/0", name: value}
        with pytest.raises(SettingsError, match=name):
            Settings.from_env(env)

    def test_the_kill_switch_turns_it_off(self) -> None:
        env = {**PRODUCTION, "REDIS_URL": "redis://r:6379/0", "REVOCATION_CACHE": "off"}
        assert Settings.from_env(env).revocation_cache == "off"


class TestRedisTopologySettings:
    def test_sentinels_name_the_primary_and_the_url_may_be_left_out(self) -> None:
        settings = Settings.from_env({**PRODUCTION, **SENTINEL})
        assert settings.redis_sentinels == (("10.0.0.1", 26379), ("::1", 26380))
        assert (settings.redis_url, settings.redis_sentinel_service) == ("redis://", "mymaster")

    @pytest.mark.parametrize("redis", [{"REDIS_URL": "redis://r:6379/0"}, SENTINEL, CLUSTER])
    def test_no_replica_wait_unless_asked(self, redis: dict[str, str]) -> None:
        settings = Settings.from_env({**PRODUCTION, **redis})
        assert (settings.redis_wait_replicas, settings.redis_wait_timeout_ms) == (0, 100)
        asked = Settings.from_env({**PRODUCTION, **redis, "REDIS_WAIT_REPLICAS": "2"})
        assert asked.redis_wait_replicas == 2

    @pytest.mark.parametrize("value", ["10.0.0.1", "10.0.0.1:port", ":26379", "a:1,"])
    def test_a_malformed_sentinel_is_a_clear_error(self, value: str) -> None:
        with pytest.raises(SettingsError, match="REDIS_SENTINELS"):
            Settings.from_env({**PRODUCTION, "REDIS_SENTINELS": value})

    def test_sentinel_and_cluster_exclude_each_other(self) -> None:
        with pytest.raises(SettingsError, match="exclude each other"):
            Settings.from_env({**PRODUCTION, **SENTINEL, **CLUSTER})


class TestTheSettingsTable:
    def test_every_field_is_one_row_of_the_table(self) -> None:
        assert [field.name for field in dataclasses.fields(Settings)] == [
            setting.field for setting in SETTINGS
        ]

    def test_the_documented_reference_is_the_table(self) -> None:
        documented = (Path(__file__).parents[2] / "docs" / "settings.md").read_text()
        assert documented == reference(), "run: python -m revocation.entrypoints.settings_table"

    def test_derived_defaults_are_the_same_however_settings_are_built(self) -> None:
        with_redis = {**PRODUCTION, "REDIS_URL": "redis://r:6379/0"}
        built = Settings(redis_url="redis://r:6379/0", jwt_secret="p" * 40, app_id="a", app_key="k")
        read = Settings.from_env(with_redis)
        for name in ("revocation_cache", "blacklist_expiry_seconds", "log_format"):
            assert getattr(built, name) == getattr(read, name)
        assert (built.revocation_cache, read.revocation_cache) == ("local", "local")
