"""Every setting, read once from the environment by a pure function (the table of what each one
is: settings_table)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from revocation.entrypoints.settings_table import (
    DERIVED,
    SETTINGS,
    SettingsError,
    default,
)

__all__ = ["DEV_APP_ID", "DEV_APP_KEY", "DEV_JWT_SECRET", "Settings", "SettingsError"]

Environment = Literal["production", "development"]
TokenCheck = Literal["logged", "not-blocked"]
RevocationCache = Literal["off", "redis", "local"]
LogFormat = Literal["json", "text"]
ReplayPolicy = Literal["off", "alert", "revoke-user"]

# Fixed, labelled, >= 32 bytes (PyJWT warns below that). Only ever used when
# REVOCATION_ENV=development; production refuses to start without real secrets.
DEV_JWT_SECRET = "development-only-jwt-secret-never-use-in-production"  # noqa: S105
DEV_APP_ID = "development-app-id"
DEV_APP_KEY = "development-only-app-key-never-use-in-production"
_DEV_HINT = (
    " (or, to try the service on this machine with SQLite: `revocation COMMAND --dev`, or "
    "REVOCATION_ENV=development)"
)


@dataclass(frozen=True, slots=True)
class Settings:
    """The service's configuration (docs/settings.md). A default marked DERIVED in the table is
    computed from the other settings when the object is built, however it is built."""

    environment: Environment = default("environment")
    database_url: str = default("database_url")
    redis_url: str | None = default("redis_url")
    redis_cluster: bool = default("redis_cluster")
    redis_sentinels: tuple[tuple[str, int], ...] = default("redis_sentinels")
    redis_sentinel_service: str = default("redis_sentinel_service")
    redis_sentinel_password: str | None = default("redis_sentinel_password")
    redis_wait_replicas: int = default("redis_wait_replicas")
    redis_wait_timeout_ms: int = default("redis_wait_timeout_ms")
    jwt_algorithms: tuple[str, ...] = default("jwt_algorithms")
    jwt_secret: str | None = default("jwt_secret")
    jwt_public_key: str | None = default("jwt_public_key")
    jwt_private_key: str | None = default("jwt_private_key")
    jwt_verification_keys: tuple[str, ...] = default("jwt_verification_keys")
    jwt_issuer: str | None = default("jwt_issuer")
    jwt_audience: str | None = default("jwt_audience")
    jwt_leeway_seconds: int = default("jwt_leeway_seconds")
    unlogged_iat_skew_seconds: int = default("unlogged_iat_skew_seconds")
    access_token_ttl_seconds: int = default("access_token_ttl_seconds")
    blacklist_expiry_seconds: int = default("blacklist_expiry_seconds")
    token_check: TokenCheck = default("token_check")
    app_id: str = default("app_id")
    app_key: str = default("app_key")
    lgt_all_max_failures: int = default("lgt_all_max_failures")
    lgt_all_failure_window_seconds: int = default("lgt_all_failure_window_seconds")
    trusted_proxies: tuple[str, ...] = default("trusted_proxies")
    cors_allowed_origins: tuple[str, ...] = default("cors_allowed_origins")
    redis_socket_timeout_seconds: float = default("redis_socket_timeout_seconds")
    redis_connect_timeout_seconds: float = default("redis_connect_timeout_seconds")
    redis_max_connections: int = default("redis_max_connections")
    redis_pool_timeout_seconds: float = default("redis_pool_timeout_seconds")
    database_timeout_seconds: float = default("database_timeout_seconds")
    database_pool_size: int = default("database_pool_size")
    blacklist_repair_interval_seconds: int = default("blacklist_repair_interval_seconds")
    max_body_bytes: int = default("max_body_bytes")
    host: str = default("host")
    port: int = default("port")
    log_format: LogFormat = default("log_format")
    log_level: str = default("log_level")
    refusal_log_interval_seconds: float = default("refusal_log_interval_seconds")
    metrics_enabled: bool = default("metrics_enabled")
    purge_interval_seconds: int = default("purge_interval_seconds")
    purge_batch_size: int = default("purge_batch_size")
    revocation_cache: RevocationCache = default("revocation_cache")
    revocation_lease_ms: int = default("revocation_lease_ms")
    revocation_cache_size: int = default("revocation_cache_size")
    verified_token_cache_size: int = default("verified_token_cache_size")
    audit_retention_days: int = default("audit_retention_days")
    replay_policy: ReplayPolicy = default("replay_policy")
    replay_grace_seconds: int = default("replay_grace_seconds")
    replay_alert_window_seconds: int = default("replay_alert_window_seconds")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, only: Collection[str] | None = None
    ) -> Settings:
        """Build and validate settings from environment variables (docs/settings.md).

        `only`: read just these fields, the others keep their defaults, and leave validation to
        the caller (a command that opens the database needs no secret).
        """
        chosen = [setting for setting in SETTINGS if only is None or setting.field in only]
        values: dict[str, Any] = {setting.field: setting.read(environ) for setting in chosen}
        settings = cls(**values)
        if only is None:
            settings.validate()
        return settings

    def __post_init__(self) -> None:
        development = self.environment == "development"
        # With Sentinel the URL only carries credentials and the database: it may be omitted.
        sentinel_url = "redis://" if self.redis_sentinels else None
        redis_url = sentinel_url if self.redis_url is DERIVED else self.redis_url
        derived = {
            "redis_url": redis_url,
            # The labelled development secrets, never in production.
            "jwt_secret": DEV_JWT_SECRET if development and self.uses_hmac else None,
            "app_id": DEV_APP_ID if development else "",
            "app_key": DEV_APP_KEY if development else "",
            "blacklist_expiry_seconds": self.access_token_ttl_seconds,
            "log_format": "text" if development else "json",
            # The fastest mode: safe on one Redis, Sentinel or Cluster alike.
            "revocation_cache": "local" if redis_url else "off",
        }
        for field in fields(self):
            if getattr(self, field.name) is DERIVED:
                object.__setattr__(self, field.name, derived[field.name])

    @property
    def requires_logged_tokens(self) -> bool:
        return self.token_check == "logged"  # noqa: S105 - a mode name, not a secret

    @property
    def fails_over(self) -> bool:
        """Whether another Redis node may become the primary of a key."""
        return bool(self.redis_sentinels) or self.redis_cluster

    @property
    def uses_hmac(self) -> bool:
        return all(algorithm.startswith("HS") for algorithm in self.jwt_algorithms)

    def validate(self) -> None:
        """Refuse to start on a missing secret, naming what to set."""
        self.validate_jwt()
        if not (self.app_id and self.app_key):
            raise SettingsError(f"APP_ID and APP_KEY are required{_DEV_HINT}")
        if self.redis_cluster and not self.redis_url:
            raise SettingsError("REDIS_CLUSTER=true needs REDIS_URL (any node of the cluster)")
        if self.redis_cluster and self.redis_sentinels:
            raise SettingsError("REDIS_SENTINELS and REDIS_CLUSTER=true exclude each other")
        if self.revocation_cache != "off" and not self.redis_url:
            raise SettingsError(f"REVOCATION_CACHE={self.revocation_cache} needs Redis")
        if self.revocation_cache == "redis" and self.fails_over:
            # It trusts a marker on whichever node serves it: a promoted replica's too.
            raise SettingsError(
                "REVOCATION_CACHE=redis needs one Redis that never fails over; with Sentinel "
                "or Cluster use local (the default)"
            )

    def validate_jwt(self) -> None:
        """The token settings alone: what issuing and checking tokens needs."""
        if self.uses_hmac and not self.jwt_secret:
            raise SettingsError(f"JWT_SECRET is required{_DEV_HINT}")
        if not self.uses_hmac and not self.jwt_public_key:
            raise SettingsError("JWT_PUBLIC_KEY is required for asymmetric JWT_ALGORITHMS")
        if self.uses_hmac and self.jwt_secret and len(self.jwt_secret.encode()) < 32:
            raise SettingsError("JWT_SECRET must be at least 32 bytes")

    @property
    def revocation_lease_seconds(self) -> float:
        return self.revocation_lease_ms / 1000
