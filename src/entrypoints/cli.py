"""`revocation serve | migrate | issue-token | purge-expired | purge-audit`: the service from a
shell. Every failure it can foresee is one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from revocation.adapters.piccolo.migrate import migrate
from revocation.domain.model import parse_user_id
from revocation.entrypoints import asgi_server
from revocation.entrypoints.cli_database import (
    CommandError,
    check_migrated_if_reachable,
    with_database,
)
from revocation.entrypoints.cli_parser import build_parser
from revocation.entrypoints.cli_progress import Progress
from revocation.entrypoints.cli_serve import refuse_what_the_server_would
from revocation.entrypoints.cli_settings import settings_for
from revocation.entrypoints.containers import Container
from revocation.entrypoints.database_urls import describe
from revocation.entrypoints.logs import configure_logging, logging_config
from revocation.entrypoints.periodic import purge_audit_once, purge_once
from revocation.entrypoints.settings import Settings, SettingsError

logger = logging.getLogger("revocation.cli")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = settings_for(args)
    except (SettingsError, CommandError) as error:
        print(f"revocation: configuration error: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    try:
        return COMMANDS[args.name](args, settings)
    except CommandError as error:
        _fail(str(error), settings)
        return 1
    except KeyboardInterrupt:
        return 130


def serve(args: argparse.Namespace, settings: Settings) -> int:
    host, port = args.host or settings.host, args.port or settings.port
    check_migrated_if_reachable(settings)
    refuse_what_the_server_would(settings, host, port)
    asgi_server.run(
        "revocation.entrypoints.app:app_from_env",
        server=args.server,
        host=host,
        port=port,
        workers=args.workers,
        log_config=logging_config(settings.log_format, settings.log_level),
    )
    return 0


def run_migrations(_: argparse.Namespace, settings: Settings) -> int:
    async def apply(container: Container) -> None:
        await migrate(container.database())

    with_database(settings, apply, migrated=False)
    print(f"revocation: migrations applied to {describe(settings.database_url)}")
    return 0


def issue_token(args: argparse.Namespace, settings: Settings) -> int:
    user_id = parse_user_id(args.user_id)
    if user_id is None:
        print("revocation: --user-id must be an integer from 1 to 2^63-1", file=sys.stderr)
        return 2

    async def issue(container: Container) -> None:
        issued = await container.issue_token()(user_id=user_id, device=args.device)
        print(issued.token)

    with_database(settings, issue)
    return 0


def purge_expired(args: argparse.Namespace, settings: Settings) -> int:
    progress = Progress(sys.stderr, "expired token log rows purged")

    async def purge(container: Container) -> None:
        total = await purge_once(
            container.token_log(),
            container.clock(),
            leeway=settings.jwt_leeway_seconds,
            batch_size=args.batch_size,
            progress=progress,
        )
        progress.close()
        print(f"revocation: purged {total} expired token log rows")

    with_database(settings, purge)
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

    with_database(settings, purge)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "serve": serve,
    "migrate": run_migrations,
    "issue-token": issue_token,
    "purge-expired": purge_expired,
    "purge-audit": purge_audit,
}


def _fail(message: str, settings: Settings) -> None:
    if settings.log_format == "json":
        logger.error(message)  # one JSON line, as the log collector expects
    else:
        print(f"revocation: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    return build_parser()


if __name__ == "__main__":
    raise SystemExit(main())
