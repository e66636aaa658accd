"""The commands' database: named at start and in every error, checked for migrations, and every
failure turned into one sentence (CommandError) instead of a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator

from revocation.adapters.piccolo.engines import start_engine, stop_engine
from revocation.adapters.piccolo.migrate import pending_migrations
from revocation.domain.errors import TokenLogUnavailable
from revocation.entrypoints.containers import Container
from revocation.entrypoints.database_urls import describe, sqlite_path
from revocation.entrypoints.settings import Settings

logger = logging.getLogger("revocation.cli")


class CommandError(Exception):
    """A command cannot go on; its message is the one line the user sees."""


def announce_database(settings: Settings) -> None:
    logger.info("database: %s", describe(settings.database_url))


def with_database(
    settings: Settings,
    work: Callable[[Container], Awaitable[None]],
    *,
    migrated: bool = True,
) -> None:
    """Run `work` with the database open; `migrated`: refuse a database that is not migrated."""
    announce_database(settings)
    if migrated:
        _refuse_missing_file(settings)

    async def run() -> None:
        container = Container(settings=settings)
        engine = container.database()
        await start_engine(engine)
        try:
            if migrated:
                await _refuse_unmigrated(container, settings)
            await work(container)
        finally:
            await stop_engine(engine)

    try:
        with _quiet_database_warnings():
            asyncio.run(run())
    except TokenLogUnavailable as error:
        raise CommandError(unavailable(settings, error)) from None


def check_migrated_if_reachable(settings: Settings) -> None:
    """For `serve`: a database that answers must be migrated; one that is down may come back
    (the service answers 503 until then)."""
    try:
        with_database(settings, _nothing)
    except CommandError as error:
        if sqlite_path(settings.database_url) or "not migrated" in str(error):
            raise
        logger.warning("%s: starting anyway, answering 503 until it answers", error)


async def _nothing(_: Container) -> None:
    return None


def unavailable(settings: Settings, error: TokenLogUnavailable) -> str:
    cause = error.__cause__
    detail = f": {type(cause).__name__}: {cause}" if cause else ""
    return f"database unavailable, {error} at {describe(settings.database_url)}{detail}"


def _refuse_missing_file(settings: Settings) -> None:
    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        raise CommandError(
            f"no database at {path} (DATABASE_URL={settings.database_url}, relative to the "
            f"working directory): create it with `revocation migrate` from this directory"
        )


async def _refuse_unmigrated(container: Container, settings: Settings) -> None:
    pending = await pending_migrations(container.database())
    if pending:
        raise CommandError(
            f"{describe(settings.database_url)} is not migrated ({len(pending)} migrations "
            f"missing, the first {pending[0]}): run `revocation migrate` with the same "
            "DATABASE_URL"
        )


@contextlib.contextmanager
def _quiet_database_warnings() -> Iterator[None]:
    """The adapter logs each database failure; a command says it once itself, with the cause."""
    adapter = logging.getLogger("revocation.adapters.piccolo.engines")
    level = adapter.level
    adapter.setLevel(logging.ERROR)
    try:
        yield
    finally:
        adapter.setLevel(level)
