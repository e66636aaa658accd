"""Reads of the fast layer asked for in the same turn of the event loop, sent to Redis as one.

Under load, many checks of tokens this process has not cached yet (a gateway's cold tokens) wait
on Redis at once. Each read on its own costs a redis-py call (the pool, packing, parsing) and,
in Redis, a script that names its node; most of a cold check's time went there. Read together,
they cost one call and one script per node: the same answers, each still naming the node that
served it, for a fraction of the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from revocation.adapters.redis.client import Identities

Answer = tuple[list[bytes | None], Identities]  # the keys' values, and which node served each
Read = Callable[[list[bytes]], Awaitable[Answer]]
# Past this many reads in one turn, the rest go in another batch: a script's keys stay few.
MAX_BATCH = 64
# A failed shared read, on a Cluster, read again per reader: this many at once.
MAX_RETRIES_AT_ONCE = 8


class CoalescedReads:
    """`read(keys)` answers as `inner(keys)` would; reads asked for before the loop's next turn
    share one call of `inner` (keys asked twice are read once).

    With `isolate_failures` (a Cluster: one read there may span several nodes), a shared read
    that failed is read again reader by reader, so one node's failure fails only the reads of
    its keys. On one Redis, a failure is the same for every reader: no second try.
    """

    def __init__(self, inner: Read, *, isolate_failures: bool = False) -> None:
        self._inner = inner
        self._isolate = isolate_failures
        self._retrying = asyncio.Semaphore(MAX_RETRIES_AT_ONCE)
        self._waiting: list[tuple[list[bytes], asyncio.Future[Answer]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def read(self, keys: list[bytes]) -> Answer:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send)  # after the callbacks ready now: their reads join
        self._waiting.append((keys, answer))
        if len(self._waiting) >= MAX_BATCH:
            self._send()
        return await answer

    def _send(self) -> None:
        batch, self._waiting = self._waiting, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._read_for(batch))
            self._sending.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._sending.discard)

    async def _read_for(self, batch: list[tuple[list[bytes], asyncio.Future[Answer]]]) -> None:
        """Every reader of the batch answered or failed, whatever goes wrong (none left waiting)."""
        try:
            await self._answer(batch)
        except asyncio.CancelledError:  # at shutdown: so are its readers
            for _, answer in batch:
                answer.cancel()
            raise
        except Exception as error:
            if self._isolate and len(batch) > 1:
                waiting = [reader for reader in batch if not reader[1].done()]
                await asyncio.gather(*(self._read_alone(reader) for reader in waiting))
                return
            for _, answer in batch:  # each reader gets the failure its own read would have
                if not answer.done():  # a reader cancelled meanwhile wants nothing
                    answer.set_exception(error)

    async def _read_alone(self, reader: tuple[list[bytes], asyncio.Future[Answer]]) -> None:
        async with self._retrying:  # a few at a time: the pool is shared with every request
            await self._read_for([reader])

    async def _answer(self, batch: list[tuple[list[bytes], asyncio.Future[Answer]]]) -> None:
        """One read for the batch's keys, each reader answered; raises if the read fails."""
        keys = list(dict.fromkeys(key for asked, _ in batch for key in asked))
        values, served = await self._inner(keys)
        found = dict(zip(keys, values, strict=True))
        answers = [
            ([found[key] for key in asked], {k: served[k] for k in asked}) for asked, _ in batch
        ]
        for (_, answer), values_served in zip(batch, answers, strict=True):
            if not answer.done():
                answer.set_result(values_served)
