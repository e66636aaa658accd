"""`revocation serve | migrate | issue-token | purge-expired | purge-audit`: the service from a
shell."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence

from revocation.adapters.piccolo.engines import start_engine, stop_engine
from revocation.adapters.piccolo.migrate import migrate
from revocation.domain.model import parse_user_id
from revocation.entrypoints import asgi_server
from revocation.entrypoints.containers import Container
from revocation.entrypoints.logs import logging_config
from revocation.entrypoints.periodic import purge_audit_once, purge_once
from revocation.entrypoints.settings import Settings, SettingsError

logger = logging.getLogger("revocation")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as error:
        print(f"revocation: configuration error: {error}", file=sys.stderr)
        return 2
    command: Callable[[argparse.Namespace, Settings], int] = args.command
    return command(args, settings)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    asgi_server.run(
        "revocation.entrypoints.app:app_from_env",
        server=args.server,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        log_config=logging_config(settings.log_format, settings.log_level),
    )
    return 0


def run_migrations(_: argparse.Namespace, settings: Settings) -> int:
    async def apply(container: Container) -> None:
        await migrate(container.database())

    _with_database(settings, apply)
    print(f"revocation: migrations applied to {_redacted(settings.database_url)}")
    return 0


def issue_token(args: argparse.Namespace, settings: Settings) -> int:
    user_id = parse_user_id(args.user_id)
    if user_id is None:
        print("revocation: --user-id must be an integer from 1 to 2^63-1", file=sys.stderr)
        return 2

    async def issue(container: Container) -> None:
        issued = await container.issue_token()(user_id=user_id, device=args.device)
        print(issued.token)

    _with_database(settings, issue)
    return 0


def purge_expired(args: argparse.Namespace, settings: Settings) -> int:
    async def purge(container: Container) -> None:
        total = await purge_once(
            container.token_log(),
            container.clock(),
            leeway=settings.jwt_leeway_seconds,
            batch_size=args.batch_size,
        )
        print(f"revocation: purged {total} expired token log rows")

    _with_database(settings, purge)
    return 0


def purge_audit(args: argparse.Namespace, settings: Settings) -> int:
    if settings.audit_retention_days == 0:
        print("revocation: AUDIT_RETENTION_DAYS=0 keeps audit records forever: nothing purged")
        return 0

    async def purge(container: Container) -> None:
        total = await purge_audit_once(
            container.audit_trail(),
            container.clock(),
            retention_days=settings.audit_retention_days,
            batch_size=args.batch_size,
        )
        print(f"revocation: purged {total} audit records older than the retention")

    _with_database(settings, purge)
    return 0


def _with_database(settings: Settings, work: Callable[[Container], Awaitable[None]]) -> None:
    async def run() -> None:
        container = Container(settings=settings)
        engine = container.database()
        await start_engine(engine)
        try:
            await work(container)
        finally:
            await stop_engine(engine)

    asyncio.run(run())


def _redacted(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if "@" in rest else url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="revocation", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    serve_parser = commands.add_parser("serve", help="run the HTTP service (granian or uvicorn)")
    serve_parser.add_argument(
        "--server", choices=asgi_server.SERVERS, default=asgi_server.DEFAULT_SERVER
    )
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.add_argument("--workers", type=int, default=1)
    serve_parser.set_defaults(command=serve)
    commands.add_parser("migrate", help="apply the committed migrations").set_defaults(
        command=run_migrations
    )
    issue_parser = commands.add_parser("issue-token", help="issue and log a token for a user")
    issue_parser.add_argument("--user-id", required=True)
    issue_parser.add_argument("--device")
    issue_parser.set_defaults(command=issue_token)
    purge_parser = commands.add_parser("purge-expired", help="delete expired token log rows")
    purge_parser.add_argument("--batch-size", type=int, default=1000)
    purge_parser.set_defaults(command=purge_expired)
    audit_parser = commands.add_parser(
        "purge-audit", help="delete audit records older than AUDIT_RETENTION_DAYS"
    )
    audit_parser.add_argument("--batch-size", type=int, default=1000)
    audit_parser.set_defaults(command=purge_audit)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
