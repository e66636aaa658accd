"""The `revocation` command line: every option with its meaning and default (`--help`)."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

from revocation.entrypoints import asgi_server

DISTRIBUTION = "token-revocation"
DEV_HELP = (
    "use the published development secrets (JWT_SECRET, APP_ID, APP_KEY) where none are set: "
    "only with a SQLite DATABASE_URL and a loopback address, since anyone can forge tokens "
    "with them"
)


def positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def installed_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The parser; each command's `command` default names its function in the cli module."""
    parser = argparse.ArgumentParser(
        prog="revocation",
        description="Revoke JWTs everywhere, at once: the service and its maintenance commands. "
        "Settings come from the environment (docs/settings.md).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dev", action="store_true", help=DEV_HELP)
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="name")

    def add(name: str, summary: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=summary,
            parents=[common],
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )

    serve = add("serve", "run the HTTP service (the database must be migrated)")
    serve.add_argument(
        "--server",
        choices=asgi_server.SERVERS,
        default=asgi_server.DEFAULT_SERVER,
        help="the ASGI server",
    )
    serve.add_argument("--host", help="address to listen on (default: HOST, 127.0.0.1)")
    serve.add_argument("--port", type=positive_int, help="port to listen on (default: PORT, 8000)")
    serve.add_argument("--workers", type=positive_int, default=1, help="server processes")
    add("migrate", "create or update the database's tables (safe to repeat)")
    issue = add("issue-token", "issue a token for a user, log it, print it on stdout")
    issue.add_argument("--user-id", required=True, help="the user, an integer from 1 to 2^63-1")
    issue.add_argument("--device", help="a label for the session (shown in its list)")
    purge = add("purge-expired", "delete token log rows expired beyond JWT_LEEWAY_SECONDS")
    purge.add_argument(
        "--batch-size", type=positive_int, default=1000, help="rows per delete statement"
    )
    audit = add("purge-audit", "delete audit records older than AUDIT_RETENTION_DAYS")
    audit.add_argument(
        "--batch-size", type=positive_int, default=1000, help="records per delete statement"
    )
    return parser
