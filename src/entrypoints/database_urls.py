"""DATABASE_URL as users copy it from other tools, reduced to the two forms the engines take.

SQLAlchemy and Django write the driver into the scheme (`postgresql+asyncpg://`,
`sqlite+aiosqlite:///`); the rest of such a URL means the same here, so the driver part is
dropped. Anything else is refused with the list of what is accepted.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

POSTGRES = "postgresql://"
SQLITE = "sqlite:///"
# Scheme (before `://`) -> the one the engines take. The drivers only change the client library.
_SCHEMES = {
    **{
        f"{base}{driver}": "postgresql"
        for base in ("postgresql", "postgres")
        for driver in ("", "+asyncpg", "+psycopg", "+psycopg2")
    },
    **{f"sqlite{driver}": "sqlite" for driver in ("", "+aiosqlite", "+pysqlite")},
}
ACCEPTED = ", ".join(f"{scheme}://" for scheme in _SCHEMES)


class DatabaseUrlError(ValueError):
    """A DATABASE_URL this service cannot use; the message says what it accepts."""


def normalise_database_url(url: str) -> str:
    """`postgresql://…` or `sqlite:///<file>` for any accepted spelling; DatabaseUrlError else."""
    # The value is never quoted back: it may carry a password (a keyword DSN, a typo).
    scheme, separator, rest = url.partition("://")
    accepted = _SCHEMES.get(scheme.lower()) if separator else None
    if accepted is None:
        shown = f"{scheme}://" if separator else "the value (no scheme://)"
        raise DatabaseUrlError(f"{shown} is not a database URL this service takes ({ACCEPTED})")
    if accepted == "postgresql":
        _check_host_and_port(rest)
        return POSTGRES + rest
    if not rest.startswith("/") or rest in ("/", "/:memory:") or "mode=memory" in rest:
        # Piccolo opens a new SQLite connection per query: each would see a new, empty
        # in-memory database.
        raise DatabaseUrlError("SQLite needs a database file (sqlite:///path), not in memory")
    return SQLITE + rest.removeprefix("/")


def _check_host_and_port(rest: str) -> None:
    """A host and port the driver can read: a password with `/`, `#`, `?` or `@` unescaped
    would otherwise surface, in part, in the driver's own error."""
    try:
        parts = urlsplit(POSTGRES + rest)
        _ = parts.port
    except ValueError:
        raise DatabaseUrlError(
            "the URL's host or port cannot be read (percent-encode / # ? @ in the password)"
        ) from None


def sqlite_path(url: str) -> Path | None:
    """The absolute path of a `sqlite:///` URL's file (relative to the working directory)."""
    if not url.startswith(SQLITE):
        return None
    return Path(url.removeprefix(SQLITE)).absolute()


def redacted(url: str) -> str:
    """The URL without its password, to print."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if "@" in rest else url


def describe(url: str) -> str:
    """How messages name the database: a SQLite file's absolute path, else the redacted URL."""
    path = sqlite_path(url)
    return f"the SQLite file {path}" if path else redacted(url)
