"""Every setting in one table: its environment variable, default, parser and meaning.

`Settings` takes its fields' defaults from here, `Settings.from_env` reads the environment
through it, and docs/settings.md is rendered from it (`python -m
revocation.entrypoints.settings_table`; a test keeps the file equal to the table).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from revocation.entrypoints.database_urls import DatabaseUrlError, normalise_database_url


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


DERIVED: Any = object()  # a default computed from other settings (`Settings.__post_init__`)
Parser = Callable[[str, str], object]  # (variable name, raw text) -> value, or SettingsError


@dataclass(frozen=True, slots=True)
class Setting:
    variable: str
    field: str
    default: object
    parse: Parser
    doc: str
    shown_default: str | None = None  # how the reference writes a derived or empty default
    # Secrets may come from a file named by `<VARIABLE>_FILE` (Docker and Kubernetes secrets).
    from_file: bool = False

    def read(self, environ: Mapping[str, str]) -> object:
        raw = environ.get(self.variable, "")
        file_name = environ.get(f"{self.variable}_FILE", "") if self.from_file else ""
        if file_name and raw:
            raise SettingsError(f"set {self.variable} or {self.variable}_FILE, not both")
        if file_name:
            return self.parse(self.variable, read_secret_file(f"{self.variable}_FILE", file_name))
        return self.default if raw == "" else self.parse(self.variable, raw)

    @property
    def documented_variable(self) -> str:
        file_variant = f" (or `{self.variable}_FILE`)" if self.from_file else ""
        return f"`{self.variable}`{file_variant}"

    @property
    def documented_default(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        shown = ",".join(self.default) if isinstance(self.default, tuple) else self.default
        return f"`{str(shown).lower() if isinstance(shown, bool) else shown}`"


def read_secret_file(variable: str, file_name: str) -> str:
    """A secret file's text without its trailing newline; a missing or empty file is an error."""
    path = Path(file_name)
    try:
        content = path.read_text(encoding="utf-8").rstrip("\r\n")
    except FileNotFoundError:
        raise SettingsError(f"{variable}: no file at {path.absolute()}") from None
    except UnicodeDecodeError:  # its message quotes a byte of the secret
        raise SettingsError(f"{variable}: {path.absolute()} is not UTF-8 text") from None
    except OSError as error:
        raise SettingsError(
            f"{variable}: cannot read {path.absolute()}: {error.strerror}"
        ) from None
    if not content.strip():
        raise SettingsError(f"{variable}: {path.absolute()} is empty")
    return content


def text(_: str, raw: str) -> str:
    return raw


def database_url(name: str, raw: str) -> str:
    try:
        return normalise_database_url(raw)
    except DatabaseUrlError as error:
        raise SettingsError(f"{name}: {error}") from None


def integer(minimum: int) -> Parser:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, not {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}")
        return value

    return parse


def positive(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not value > 0:
        raise SettingsError(f"{name} must be positive")
    return value


def choice(*allowed: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        if raw not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
        return raw

    return parse


def level(name: str, raw: str) -> str:
    """A logging level name, in any case (`info` is `INFO`)."""
    levels = ("DEBUG", "INFO", "WARNING", "ERROR")
    if raw.upper() not in levels:
        raise SettingsError(f"{name} must be one of {', '.join(levels)} (any case), not {raw!r}")
    return raw.upper()


def flag(name: str, raw: str) -> bool:
    return choice("true", "false")(name, raw) == "true"


def names(_: str, raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(","))


def addresses(name: str, raw: str) -> tuple[tuple[str, int], ...]:
    """`host:port` pairs, comma-separated (`[::1]:26379` for IPv6)."""
    pairs = []
    for part in (part.strip() for part in raw.split(",")):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise SettingsError(f"{name}: {part!r} is not host:port")
        pairs.append((host.strip("[]"), int(port)))
    return tuple(pairs)


def networks(name: str, raw: str) -> tuple[str, ...]:
    """Addresses and CIDR networks (`10.0.0.0/8`), each as a network (`/32` if alone)."""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    try:
        return tuple(str(ipaddress.ip_network(part, strict=False)) for part in parts)
    except ValueError as error:
        raise SettingsError(f"{name}: {error}") from None


# A browser's Origin header: no path, no trailing slash, so a configured "https://a.example/"
# would never match anything; refusing it at start-up beats a silent CORS failure.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+")


def origins(name: str, raw: str) -> tuple[str, ...]:
    """Exact origins as browsers send them (`scheme://host[:port]`, no path), or `*`."""
    parts = tuple(part.strip() for part in raw.split(",") if part.strip())
    for origin in parts:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise SettingsError(f"{name}: {origin!r} is not scheme://host[:port]")
    return parts


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


def pem_blocks(name: str, raw: str) -> tuple[str, ...]:
    """One or more PEM blocks, one after the other (a file's content, or joined with `\n`)."""
    blocks = tuple(match.group(0) for match in _PEM_BLOCK.finditer(raw.replace("\\n", "\n")))
    if not blocks:
        raise SettingsError(f"{name} must hold one or more PEM public keys")
    return blocks


S = Setting
SETTINGS: tuple[Setting, ...] = (
    S("REVOCATION_ENV", "environment", "production", choice("production", "development"),
      "`development` allows the fixed development secrets below"),
    S("DATABASE_URL", "database_url", "sqlite:///revocation.sqlite3", database_url,
      "`postgresql://…` (also `postgres://`, `postgresql+asyncpg://`) or `sqlite:///path`, a "
      "file relative to the working directory (`sqlite:////abs/path`: absolute)",
      from_file=True),
    S("REDIS_URL", "redis_url", DERIVED, text,
      "unset: in-process blacklist (one process only); with `REDIS_SENTINELS`, only its scheme, "
      "credentials and database count", "unset (with Sentinel: `redis://`)", from_file=True),
    S("REDIS_CLUSTER", "redis_cluster", False, flag,
      "`true`: `REDIS_URL` names any node of a Redis Cluster"),
    S("REDIS_SENTINELS", "redis_sentinels", (), addresses,
      "`host:port` of each sentinel, comma-separated: the primary is the node they name, and "
      "every connection follows it through failovers", "unset"),
    S("REDIS_SENTINEL_SERVICE", "redis_sentinel_service", "mymaster", text,
      "the name the sentinels monitor the primary by"),
    S("REDIS_SENTINEL_PASSWORD", "redis_sentinel_password", None, text,
      "the sentinels' own password (`requirepass` in sentinel.conf)", "unset", from_file=True),
    S("REDIS_WAIT_REPLICAS", "redis_wait_replicas", 0, integer(0),
      "where Redis answers alone, a logout answers only once this many replicas have its "
      "block (`WAIT`), so a failover keeps it in Redis; past `REDIS_WAIT_TIMEOUT_MS` it "
      "answers 503 (its durable write stands) and the database decides for those keys until "
      "a repair. Safety does not depend on it (a promoted replica is never trusted before a "
      "repair); with N, every primary needs N replicas connected at all times, else logouts "
      "answer 503"),
    S("REDIS_WAIT_TIMEOUT_MS", "redis_wait_timeout_ms", 100, integer(1),
      "how long a logout waits for those replicas"),
    S("JWT_ALGORITHMS", "jwt_algorithms", ("HS256",), names,
      "comma-separated allow-list; HMAC and asymmetric families can't mix"),
    S("JWT_SECRET", "jwt_secret", DERIVED, text, "HMAC secret, ≥ 32 bytes", "none (dev: fixed)",
      from_file=True),
    S("JWT_PUBLIC_KEY", "jwt_public_key", None, text,
      "PEM public key for RS/ES/PS/EdDSA algorithms", "none", from_file=True),
    S("JWT_PRIVATE_KEY", "jwt_private_key", None, text,
      "PEM private key, only to issue tokens with an asymmetric algorithm; its public half "
      "is `JWT_PUBLIC_KEY`, and the tokens it signs carry that key's `kid` (RFC 7638 "
      "thumbprint)", "none", from_file=True),
    S("JWT_VERIFICATION_KEYS", "jwt_verification_keys", (), pem_blocks,
      "more PEM public keys, one block after another, that verify tokens beside "
      "`JWT_PUBLIC_KEY` (all listed in `/.well-known/jwks.json`). Rotation: publish the next "
      "key here first; then make it `JWT_PRIVATE_KEY`/`JWT_PUBLIC_KEY` and keep the old public "
      "key here until the last token it signed expires", "none", from_file=True),
    S("JWT_ISSUER", "jwt_issuer", None, text,
      "when set, required and checked; our tokens carry it", "unset"),
    S("JWT_AUDIENCE", "jwt_audience", None, text,
      "when set, required and checked; our tokens carry it", "unset"),
    S("JWT_LEEWAY_SECONDS", "jwt_leeway_seconds", 10, integer(0),
      "clock-skew allowance for `exp`/`nbf`/`iat`, added to blacklist TTLs"),
    S("UNLOGGED_IAT_SKEW_SECONDS", "unlogged_iat_skew_seconds", 0, integer(0),
      "for tokens not in the log (another issuer's `iat`, another clock): a logout-all also "
      "kills those with `iat` up to this many seconds after its second; logged tokens keep "
      "the precise rule"),
    S("ACCESS_TOKEN_TTL_SECONDS", "access_token_ttl_seconds", 3600, integer(1),
      "lifetime of tokens this service issues"),
    S("REDIS_BLACKLIST_OBJECT_EXPIRY_IN_SEC", "blacklist_expiry_seconds", DERIVED, integer(1),
      "cap on a blacklist entry's life", "= `ACCESS_TOKEN_TTL_SECONDS`"),
    S("TOKEN_CHECK", "token_check", "logged", choice("logged", "not-blocked"),
      "`logged`: token must be in the log and active; `not-blocked`: must not be blocked"),
    S("APP_ID", "app_id", DERIVED, text, "the internal callers' app id (lgt-all, issuance)",
      "none (dev: fixed)"),
    S("APP_KEY", "app_key", DERIVED, text, "the internal callers' app key",
      "none (dev: fixed)", from_file=True),
    S("LGT_ALL_MAX_FAILURES", "lgt_all_max_failures", 5, integer(0),
      "wrong credentials compared per peer per window before it is throttled (0: off); each "
      "comparison is reserved atomically before it happens, so however many requests race, no "
      "more are compared; a success releases its reservation and erases no failure; shared by "
      "every instance through Redis (in process memory without it, or while Redis fails)"),
    S("LGT_ALL_FAILURE_WINDOW_SECONDS", "lgt_all_failure_window_seconds", 300, integer(1),
      "the brake's window, from a peer's first attempt"),
    S("TRUSTED_PROXIES", "trusted_proxies", (), networks,
      "addresses or CIDR networks (`10.0.0.0/8`) whose `X-Forwarded-For` is believed: every "
      "header line counts, in order, walked from the right past trusted hops; the first other "
      "hop is the peer", "empty"),
    S("CORS_ALLOWED_ORIGINS", "cors_allowed_origins", (), origins,
      "comma-separated origins (`https://app.example`, no path) or `*` whose pages may call "
      "the API (never the verify route)", "empty (CORS off)"),
    S("REDIS_SOCKET_TIMEOUT_SECONDS", "redis_socket_timeout_seconds", 0.25, positive,
      "a hung Redis costs a command at most this"),
    S("REDIS_CONNECT_TIMEOUT_SECONDS", "redis_connect_timeout_seconds", 0.5, positive,
      "a dead Redis costs a connection attempt at most this"),
    S("REDIS_MAX_CONNECTIONS", "redis_max_connections", 64, integer(1),
      "the Redis pool per process (a Cluster client: per node, refusing past it)"),
    S("REDIS_POOL_TIMEOUT_SECONDS", "redis_pool_timeout_seconds", 1.0, positive,
      "how long a burst waits for a pooled Redis connection before that counts as Redis "
      "unavailable"),
    S("DATABASE_TIMEOUT_SECONDS", "database_timeout_seconds", 5.0, positive,
      "connect and statement timeout (a wait for a pooled connection included)"),
    S("DATABASE_POOL_SIZE", "database_pool_size", 10, integer(1),
      "Postgres connections per process"),
    S("BLACKLIST_REPAIR_INTERVAL_SECONDS", "blacklist_repair_interval_seconds", 30, integer(0),
      "how often Redis is checked for repair: after start-up and after any Redis failure it is "
      "re-filled from the database (at once after a flush or failover); `0`: off"),
    S("MAX_BODY_BYTES", "max_body_bytes", 16_384, integer(1024), "larger request bodies get 413"),
    S("HOST", "host", "127.0.0.1", text, "where `revocation serve` listens"),
    S("PORT", "port", 8000, integer(1), "where `revocation serve` listens"),
    S("LOG_FORMAT", "log_format", DERIVED, choice("json", "text"),
      "`json`: one object per line with `request_id`; `text`: for a terminal",
      "`json` (dev: `text`)"),
    S("LOG_LEVEL", "log_level", "INFO", level,
      "the lowest level logged (`DEBUG`, `INFO`, `WARNING`, `ERROR`, in any case)"),
    S("REFUSAL_LOG_INTERVAL_SECONDS", "refusal_log_interval_seconds", 60.0, positive,
      "refused tokens are logged as one `token_rejections` line per reason per interval (with "
      "a count and one example request id), never a line per request"),
    S("METRICS_ENABLED", "metrics_enabled", True, flag,
      "`false` removes `GET /metrics` and the request and check timers"),
    S("PURGE_INTERVAL_SECONDS", "purge_interval_seconds", 0, integer(0),
      "the server deletes expired token logs every N seconds; `0`: off (use `purge-expired`)"),
    S("PURGE_BATCH_SIZE", "purge_batch_size", 1000, integer(1),
      "rows per delete statement of that cleanup"),
    S("REVOCATION_CACHE", "revocation_cache", DERIVED, choice("off", "redis", "local"),
      "`off`: every check reads the database; `redis`: Redis answers alone while its mirror is "
      "complete (one Redis that never fails over only); `local`: that, from process memory "
      "kept coherent by Redis tracking, trusted only while the primary that built the mirror "
      "serves it", "`local` with Redis, else `off`"),
    S("REVOCATION_LEASE_MS", "revocation_lease_ms", 25, integer(1),
      "the cache's lease, and how long a logout waits after its Redis write; the same on "
      "every instance"),
    S("REVOCATION_CACHE_SIZE", "revocation_cache_size", 100_000, integer(100),
      "Redis values (and logged tokens) remembered per process"),
    S("VERIFIED_TOKEN_CACHE_SIZE", "verified_token_cache_size", 10_000, integer(0),
      "verified tokens remembered per process, and as many tokens refused as revoked; `0`: "
      "verify every signature"),
    # The audit trail and replays (docs/audit.md).
    S("AUDIT_RETENTION_DAYS", "audit_retention_days", 365, integer(0),
      "revocation records (who ended which session, why) are kept this long, beyond their "
      "tokens' rows; deleted by the periodic purge (`PURGE_INTERVAL_SECONDS`) and `revocation "
      "purge-audit`; `0`: kept forever"),
    S("REPLAY_POLICY", "replay_policy", "alert", choice("off", "alert", "revoke-user"),
      "what a revoked token presented again with a valid signature causes: `alert`, one "
      "`revoked_token_replayed` event per token per window; `revoke-user`, that and the user "
      "logged out everywhere (once per token, never for tokens a logout-all ended); `off`, "
      "nothing beyond the `token_rejections` count"),
    S("REPLAY_GRACE_SECONDS", "replay_grace_seconds", 10, integer(0),
      "replays this soon after the revocation (a client's requests still in flight) are "
      "counted, never alerted nor acted on"),
    S("REPLAY_ALERT_WINDOW_SECONDS", "replay_alert_window_seconds", 300, integer(1),
      "at most one alert per revoked token per window, across every instance (through Redis; "
      "per process without it, or while it fails)"),
)  # fmt: skip
BY_FIELD = {setting.field: setting for setting in SETTINGS}


def default(field: str) -> Any:
    """The table's default of a Settings field (DERIVED: computed from the others)."""
    return BY_FIELD[field].default


def reference() -> str:
    """The documented settings reference (docs/settings.md), rendered from the table."""
    rows = [f"| {s.documented_variable} | {s.documented_default} | {s.doc} |" for s in SETTINGS]
    return "\n".join(
        [
            "# Settings",
            "",
            "All from the environment; `Settings.from_env` validates them at start-up and names "
            "any problem. A setting shown with a `_FILE` variant may instead be read from the "
            "file it names (a Docker or Kubernetes secret; its trailing newline is dropped; a "
            "missing or empty file stops start-up). Rendered from "
            "`src/entrypoints/settings_table.py` by "
            "`python -m revocation.entrypoints.settings_table`.",
            "",
            "| Variable | Default | Meaning |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


if __name__ == "__main__":
    print(reference(), end="")
