"""Background loops that live exactly as long as the app serves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def task_while_serving(work: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """Run `work` as a task while inside; cancel it and wait for it at shutdown."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        # Cancelled again until it ends: a library that swallows one cancellation mid-call
        # (seen during a repair at shutdown) would otherwise leave the loop asleep for a whole
        # interval and the server hanging in its shutdown.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=_RECANCEL_SECONDS)
        with contextlib.suppress(asyncio.CancelledError):
            await task


_RECANCEL_SECONDS = 0.5
