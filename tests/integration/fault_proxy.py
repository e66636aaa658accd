"""A loopback TCP proxy in front of one server, on a thread of its own, that a test uses to cut
or stall the connections of one party: a replica's replication link, the sentinels, one
service instance.

A connection's party is the process that opened it (found through /proc: the socket's inode,
then the process holding it, then its parents), so nothing in the code under test knows the
proxy is there. Linux only, like the rest of these fault tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

Address = tuple[str, int]
OTHER = "other"


def _socket_inode(local_port: int, remote_port: int) -> str | None:
    """The inode of the loopback socket from `local_port` to `remote_port` (/proc/net/tcp*).
    Searched, not split line by line: a reconnecting party leaves thousands of closed sockets
    in these tables (inode 0: no process holds them), and they are read once per connection."""
    line = re.compile(
        rf"^ *\d+: [0-9A-F]+:{local_port:04X} [0-9A-F]+:{remote_port:04X} (?:\S+ +){{6}}([1-9]\d*)",
        re.MULTILINE,
    )
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            if found := line.search(Path(table).read_text()):
                return found[1]
    return None


def _holder(inode: str, likely: Iterable[int]) -> int | None:
    """The process holding the socket: among `likely` first, then among all. A party cut off
    reconnects again and again, and reading every process's descriptors for each of its
    connections would keep this process (and the proxy's own forwarding) busy for most of a
    fault, delaying the lease pings of the instances not cut."""
    target = f"socket:[{inode}]"
    for pid in likely:
        if _holds(pid, target):
            return pid
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _holds(int(entry.name), target):
            return int(entry.name)
    return None


def _holds(pid: int, target: str) -> bool:
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == target:
                    return True
    return False


def _descendants(pid: int) -> Iterator[int]:
    """The process, its children, theirs..."""
    yield pid
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    yield from _descendants(int(child))


def _lineage(pid: int) -> Iterator[int]:
    """The process and its parents, up to init."""
    while pid > 1:
        yield pid
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        pid = int(stat.rsplit(")", 1)[1].split()[1])


@dataclass
class _Link:
    lineage: list[int]  # the process that opened it, then its parents
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class FaultProxy:
    """Forwards 127.0.0.1:`port` to `target`. `parties()` maps pids to names; a connection
    from any other process is OTHER."""

    def __init__(self, target: Address, parties: Callable[[], dict[int, str]]) -> None:
        self.target = target
        self._parties = parties
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._links: list[_Link] = []
        self._cut: set[str] = set()
        self._stalled: dict[str, asyncio.Event] = {}
        self._server: asyncio.Server | None = None
        # Accepted connections whose `_accept` has not started yet: closed at shutdown, as a
        # task cancelled before its first step never runs its `finally`.
        self._unattended: set[asyncio.StreamWriter] = set()
        self._accepting: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak ones
        self.port = 0

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        server = self._call(asyncio.start_server(self._accepted, "127.0.0.1", 0))
        assert isinstance(server, asyncio.Server)
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_: object) -> None:
        self._call(self._shut_down())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _shut_down(self) -> None:
        """Close everything it accepted, however far along, while parties keep connecting (a
        sentinel retries a dead primary every few hundred milliseconds): whatever is left
        unclosed is collected later with a ResourceWarning, in whichever test runs then."""
        if self._server is not None:
            await _stop_accepting(self._server)
        await self._close_links(lambda _: True)
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        for writer in self._unattended:
            writer.transport.abort()
        await asyncio.sleep(0)  # the aborts' last callbacks, which release the sockets
        await asyncio.get_running_loop().shutdown_default_executor()

    @property
    def address(self) -> Address:
        return ("127.0.0.1", self.port)

    def parties_connected(self) -> list[str]:
        return [self._party(link.lineage) for link in self._links]

    def cut(self, *parties: str) -> None:
        """Close the parties' connections and refuse their new ones until `heal`."""
        self._cut.update(parties)
        self._call(self._close_links(lambda link: self._party(link.lineage) in parties))

    def stall(self, *parties: str) -> None:
        """Stop forwarding the parties' bytes, both ways, keeping their connections open."""
        for party in parties:
            self._stalled.setdefault(party, asyncio.Event())  # unset: blocked

    def heal(self, *parties: str) -> None:
        for party in parties:
            self._cut.discard(party)
            gate = self._stalled.pop(party, None)
            if gate is not None:
                self._loop.call_soon_threadsafe(gate.set)

    def _call(self, coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)  # type: ignore[arg-type]

    def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._unattended.add(writer)
        task = asyncio.create_task(self._accept(reader, writer))
        self._accepting.add(task)
        task.add_done_callback(self._accepting.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._unattended.discard(writer)  # from here, the `finally` below closes it
        linked = False
        try:
            peer_port = writer.get_extra_info("peername")[1]
            lineage = await asyncio.to_thread(self._lineage_of, peer_port)
            if self._party(lineage) in self._cut:
                return
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
            link = _Link(lineage, writer, upstream)
            self._links.append(link)
            link.tasks = [
                asyncio.create_task(self._pump(link, reader, upstream)),
                asyncio.create_task(self._pump(link, upstream_reader, writer)),
            ]
            linked = True
        except OSError:
            pass
        finally:
            if not linked:  # refused, the server gone, or the proxy shutting down
                writer.transport.abort()

    def _lineage_of(self, peer_port: int) -> list[int]:
        inode = _socket_inode(peer_port, self.port)
        if inode is None:
            return []
        named = [process for party in list(self._parties()) for process in _descendants(party)]
        pid = _holder(inode, named)
        return [] if pid is None else list(_lineage(pid))

    def _party(self, lineage: list[int]) -> str:
        """Asked each time: a process may be named after it connected."""
        parties = self._parties()
        return next((parties[pid] for pid in lineage if pid in parties), OTHER)

    async def _pump(
        self, link: _Link, source: asyncio.StreamReader, sink: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await source.read(65536):
                while (gate := self._stalled.get(self._party(link.lineage))) is not None:
                    await gate.wait()
                if self._party(link.lineage) in self._cut:
                    break
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            for side in (link.client, link.server):
                side.transport.abort()
            with contextlib.suppress(ValueError):
                self._links.remove(link)

    async def _close_links(self, which: Callable[[_Link], bool]) -> None:
        for link in [link for link in self._links if which(link)]:
            for side in (link.client, link.server):
                side.transport.abort()
            for task in link.tasks:
                task.cancel()


async def _stop_accepting(server: asyncio.Server) -> None:
    """`server.close()`, without its race on CPython 3.11: a connection accepted in the same turn
    of the loop as the close gets a transport whose set-up fails (`Server._attach` asserts the
    server still open), which nothing then closes. Stop listening first, let the connections
    already accepted get their transports, then close."""
    loop = asyncio.get_running_loop()
    for listening in server.sockets:
        loop.remove_reader(listening.fileno())
    await asyncio.sleep(0)
    server.close()
