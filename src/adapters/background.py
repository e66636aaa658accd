"""Work that follows a response: asyncio tasks the app waits for when it shuts down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from revocation.domain.ports import Background

logger = logging.getLogger(__name__)


class AsyncioBackground:
    """Runs each piece of work as a task on the running loop; `drain()` awaits them all."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def run(self, name: str, work: Callable[[], Awaitable[object]]) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(name, work), name=name)
        self._tasks.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every task still running on this loop (at shutdown)."""
        loop = asyncio.get_running_loop()
        while pending := [task for task in self._tasks if task.get_loop() is loop]:
            await asyncio.gather(*pending, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def draining(self) -> AsyncIterator[None]:
        """While the app serves; at shutdown, wait for what is still running."""
        try:
            yield
        finally:
            await self.drain()

    @staticmethod
    async def _guarded(name: str, work: Callable[[], Awaitable[object]]) -> None:
        try:
            await work()
        except Exception:  # logged: the caller answered already, nobody else would see it
            logger.exception("background work %s failed", name)


_: type[Background] = AsyncioBackground
