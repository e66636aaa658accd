"""Every setting, read once from the environment by a pure function."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

TokenCheck = Literal["logged", "not-blocked"]
# off: every check reads the database (the spec's flow); redis: Redis answers alone while its
# mirror is complete; local: redis, answered from process memory kept coherent by tracking.
RevocationCache = Literal["off", "redis", "local"]

# Fixed, labelled, >= 32 bytes (PyJWT warns below that). Only ever used when
# REVOCATION_ENV=development; production refuses to start without real secrets.
DEV_JWT_SECRET = "development-only-jwt-secret-never-use-in-production"  # noqa: S105
DEV_APP_ID = "development-app-id"
DEFAULT_DATABASE_URL = "sqlite:///revocation.sqlite3"  # embedded: no server needed
DEV_APP_KEY = "development-only-app-key-never-use-in-production"
# A browser's Origin header: no path, no trailing slash, so a configured "https://a.example/"
# would never match anything; refusing it at start-up beats a silent CORS failure.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The service's configuration; see the README's settings table."""

    environment: Literal["production", "development"] = "production"
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_cluster: bool = False  # REDIS_URL names any node of a Redis Cluster
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_secret: str | None = None
    jwt_private_key: str | None = None
    jwt_public_key: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = 10
    unlogged_iat_skew_seconds: int = 0
    access_token_ttl_seconds: int = 3600
    blacklist_expiry_seconds: int = 3600
    token_check: TokenCheck = "logged"  # noqa: S105 - a mode name, not a secret
    app_id: str = ""
    app_key: str = ""
    redis_socket_timeout_seconds: float = 0.25
    redis_connect_timeout_seconds: float = 0.5
    database_timeout_seconds: float = 5.0
    database_pool_size: int = 10
    redis_max_connections: int = 64
    redis_pool_timeout_seconds: float = 1.0
    lgt_all_max_failures: int = 5
    lgt_all_failure_window_seconds: int = 300
    trusted_proxies: tuple[str, ...] = field(default=())
    cors_allowed_origins: tuple[str, ...] = field(default=())  # empty: CORS off
    max_body_bytes: int = 16_384
    host: str = "127.0.0.1"
    port: int = 8000
    blacklist_repair_interval_seconds: int = 30  # 0: Redis is never repaired from the database
    revocation_cache: RevocationCache = "off"  # from_env: local whenever Redis allows it
    revocation_lease_ms: int = 25  # must be the same on every instance
    revocation_cache_size: int = 100_000  # Redis values kept per process
    verified_token_cache_size: int = 10_000  # 0: every request verifies its signature
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    refusal_log_interval_seconds: float = 60.0
    metrics_enabled: bool = True
    purge_interval_seconds: int = 0  # 0: the server never purges by itself
    purge_batch_size: int = 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build and validate settings from environment variables (names in the README)."""
        env = _Reader(environ)
        environment = env.choice("REVOCATION_ENV", ("production", "development"), "production")
        development = environment == "development"
        algorithms = tuple(a.strip() for a in env.text("JWT_ALGORITHMS", "HS256").split(","))
        hmac_only = all(a.startswith("HS") for a in algorithms)
        cluster = env.choice("REDIS_CLUSTER", ("true", "false"), "false") == "true"
        access_ttl = env.integer("ACCESS_TOKEN_TTL_SECONDS", 3600, minimum=1)
        settings = cls(
            environment=environment,  # type: ignore[arg-type]
            database_url=env.text("DATABASE_URL", DEFAULT_DATABASE_URL),
            redis_url=env.optional("REDIS_URL"),
            redis_cluster=cluster,
            jwt_algorithms=algorithms,
            jwt_secret=env.optional("JWT_SECRET")
            or (DEV_JWT_SECRET if development and hmac_only else None),
            jwt_private_key=env.optional("JWT_PRIVATE_KEY"),
            jwt_public_key=env.optional("JWT_PUBLIC_KEY"),
            jwt_issuer=env.optional("JWT_ISSUER"),
            jwt_audience=env.optional("JWT_AUDIENCE"),
            jwt_leeway_seconds=env.integer("JWT_LEEWAY_SECONDS", 10, minimum=0),
            unlogged_iat_skew_seconds=env.integer("UNLOGGED_IAT_SKEW_SECONDS", 0, minimum=0),
            access_token_ttl_seconds=access_ttl,
            blacklist_expiry_seconds=env.integer(
                "REDIS_BLACKLIST_OBJECT_EXPIRY_IN_SEC", access_ttl, minimum=1
            ),
            token_check=env.choice("TOKEN_CHECK", ("logged", "not-blocked"), "logged"),  # type: ignore[arg-type]
            app_id=env.optional("APP_ID") or (DEV_APP_ID if development else ""),
            app_key=env.optional("APP_KEY") or (DEV_APP_KEY if development else ""),
            redis_socket_timeout_seconds=env.number("REDIS_SOCKET_TIMEOUT_SECONDS", 0.25),
            redis_connect_timeout_seconds=env.number("REDIS_CONNECT_TIMEOUT_SECONDS", 0.5),
            database_timeout_seconds=env.number("DATABASE_TIMEOUT_SECONDS", 5.0),
            database_pool_size=env.integer("DATABASE_POOL_SIZE", 10, minimum=1),
            redis_max_connections=env.integer("REDIS_MAX_CONNECTIONS", 64, minimum=1),
            redis_pool_timeout_seconds=env.number("REDIS_POOL_TIMEOUT_SECONDS", 1.0),
            lgt_all_max_failures=env.integer("LGT_ALL_MAX_FAILURES", 5, minimum=0),
            lgt_all_failure_window_seconds=env.integer(
                "LGT_ALL_FAILURE_WINDOW_SECONDS", 300, minimum=1
            ),
            trusted_proxies=env.networks("TRUSTED_PROXIES"),
            cors_allowed_origins=env.origins("CORS_ALLOWED_ORIGINS"),
            max_body_bytes=env.integer("MAX_BODY_BYTES", 16_384, minimum=1024),
            host=env.text("HOST", "127.0.0.1"),
            port=env.integer("PORT", 8000, minimum=1),
            blacklist_repair_interval_seconds=env.integer(
                "BLACKLIST_REPAIR_INTERVAL_SECONDS", 30, minimum=0
            ),
            log_format=env.choice(  # type: ignore[arg-type]
                "LOG_FORMAT", ("json", "text"), "text" if development else "json"
            ),
            log_level=env.choice("LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
            refusal_log_interval_seconds=env.number("REFUSAL_LOG_INTERVAL_SECONDS", 60.0),
            metrics_enabled=env.choice("METRICS_ENABLED", ("true", "false"), "true") == "true",
            purge_interval_seconds=env.integer("PURGE_INTERVAL_SECONDS", 0, minimum=0),
            purge_batch_size=env.integer("PURGE_BATCH_SIZE", 1000, minimum=1),
            revocation_cache=env.choice(  # type: ignore[arg-type]
                "REVOCATION_CACHE",
                ("off", "redis", "local"),
                "local" if env.optional("REDIS_URL") and not cluster else "off",
            ),
            revocation_lease_ms=env.integer("REVOCATION_LEASE_MS", 25, minimum=1),
            revocation_cache_size=env.integer("REVOCATION_CACHE_SIZE", 100_000, minimum=100),
            verified_token_cache_size=env.integer("VERIFIED_TOKEN_CACHE_SIZE", 10_000, minimum=0),
        )
        settings.validate()
        return settings

    @property
    def is_development(self) -> bool:
        return self.environment == "development"

    @property
    def requires_logged_tokens(self) -> bool:
        return self.token_check == "logged"  # noqa: S105 - a mode name, not a secret

    @property
    def uses_hmac(self) -> bool:
        return all(algorithm.startswith("HS") for algorithm in self.jwt_algorithms)

    def validate(self) -> None:
        """Refuse to start on a missing secret, naming what to set."""
        if self.uses_hmac and not self.jwt_secret:
            raise SettingsError("JWT_SECRET is required (or REVOCATION_ENV=development)")
        if not self.uses_hmac and not self.jwt_public_key:
            raise SettingsError("JWT_PUBLIC_KEY is required for asymmetric JWT_ALGORITHMS")
        if not (self.app_id and self.app_key):
            raise SettingsError("APP_ID and APP_KEY are required (or REVOCATION_ENV=development)")
        if self.uses_hmac and self.jwt_secret and len(self.jwt_secret.encode()) < 32:
            raise SettingsError("JWT_SECRET must be at least 32 bytes")
        if self.redis_cluster and not self.redis_url:
            raise SettingsError("REDIS_CLUSTER=true needs REDIS_URL (any node of the cluster)")
        if self.revocation_cache != "off" and (self.redis_cluster or not self.redis_url):
            # Tracking and the mirror marker would be needed on every primary: not built.
            raise SettingsError(
                f"REVOCATION_CACHE={self.revocation_cache} needs REDIS_URL and no REDIS_CLUSTER"
            )

    @property
    def revocation_lease_seconds(self) -> float:
        return self.revocation_lease_ms / 1000

    @property
    def redis_answers_alone(self) -> bool:
        return self.revocation_cache != "off"


@dataclass(frozen=True, slots=True)
class _Reader:
    environ: Mapping[str, str]

    def optional(self, name: str) -> str | None:
        return self.environ.get(name) or None

    def text(self, name: str, default: str) -> str:
        return self.environ.get(name) or default

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def integer(self, name: str, default: int, *, minimum: int) -> int:
        raw = self.environ.get(name)
        try:
            value = default if not raw else int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, not {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}")
        return value

    def number(self, name: str, default: float) -> float:
        raw = self.environ.get(name)
        try:
            value = default if not raw else float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {raw!r}") from None
        if not value > 0:
            raise SettingsError(f"{name} must be positive")
        return value

    def networks(self, name: str) -> tuple[str, ...]:
        """Addresses and CIDR networks (`10.0.0.0/8`), each as a network (`/32` if alone)."""
        raw = [part.strip() for part in self.text(name, "").split(",") if part.strip()]
        try:
            return tuple(str(ipaddress.ip_network(part, strict=False)) for part in raw)
        except ValueError as error:
            raise SettingsError(f"{name}: {error}") from None

    def origins(self, name: str) -> tuple[str, ...]:
        """Exact origins as browsers send them (`scheme://host[:port]`, no path), or `*`."""
        raw = tuple(part.strip() for part in self.text(name, "").split(",") if part.strip())
        for origin in raw:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise SettingsError(f"{name}: {origin!r} is not scheme://host[:port]")
        return raw
