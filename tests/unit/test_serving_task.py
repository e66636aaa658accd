"""Background loops end with the app, even when something inside swallows a cancellation."""

from __future__ import annotations

import asyncio
import time

from revocation.adapters.serving_task import task_while_serving


async def test_a_loop_that_swallows_one_cancellation_still_ends_at_shutdown() -> None:
    swallowed = 0

    async def stubborn_loop() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(30)  # one interval of a periodic loop
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed += 1  # what a library caught mid-call, once

    started = time.monotonic()
    async with task_while_serving(stubborn_loop(), "stubborn"):
        await asyncio.sleep(0.01)
    assert swallowed == 1
    assert time.monotonic() - started < 5
