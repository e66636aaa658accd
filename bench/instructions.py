"""`python -m bench.instructions`: what one gateway verify request costs the service, counted.

On a shared 2-vCPU machine the wall clock moves by more between two runs (10 % and more) than
most changes to the hot path are worth. valgrind's callgrind counts the instructions executed
instead: the same code, tokens and settings give the same count to about 0.1 %, whatever else
the machine is doing. A count is not a time (cache misses and SHA-256 in hardware are not in
it), so a change it favours is still timed under the server (`python -m bench`) before it is
believed.

What is counted: the real app (`app_from_env`, REVOCATION_CACHE=local, its lifespan run) on a
throwaway redis-server and a database of its own, the ASGI app called directly with warm tokens
(checked until a pass over them needs no Redis read), `--requests` times. A warm request never
waits on I/O, so each is driven by one `send()` of its coroutine, inside `operator.call`: the
one C function the count is toggled on (`--toggle-collect`), so start-up and the background
tasks are left out. Each kind (`valid`, `revoked`) runs in its own process. `--wall` times the
same loop instead (best of 5), without valgrind.

Needs valgrind (Debian: apt-get install valgrind), redis-server and a Postgres
(`BENCH_POSTGRES_URL`). About a minute per kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import operator
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench import seed
from bench.hot_path import wait_for_mirror
from bench.infra import (
    REPO,
    migrate,
    own_database,
    require_tool,
    service_env,
    throwaway_redis,
)
from revocation.entrypoints.http.verify import VERIFY_PATH

KINDS = {"valid": 200, "revoked": 401}  # the tokens' kind -> the status every answer must have
# Under valgrind everything runs about 50 times slower: the cache's 25 ms lease would lapse
# between two of its pings and every request would go to Redis. Its length changes nothing else
# on a warm request.
_LEASE_MS = "3000"
_WALL_REPEATS = 5
_WARM_UP_PASSES = 100
_SETTLE_SECONDS = 0.1
_ROUND = 100  # counted requests between two turns of the loop
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")

Message = dict[str, Any]


class _Waited(RuntimeError):
    """A request that should have been answered at once waited on I/O."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--requests", type=int, default=2_000, help="counted requests per kind")
    parser.add_argument("--tokens", type=int, default=100, help="distinct tokens per kind")
    parser.add_argument("--kinds", default="valid,revoked", help=f"of {', '.join(KINDS)}")
    parser.add_argument("--wall", action="store_true", help="time the loop; no valgrind")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--database", default="revocation_bench_instructions")
    parser.add_argument(
        "--child", nargs=3, metavar=("FIXTURE", "KIND", "REQUESTS"), help=argparse.SUPPRESS
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.child:
        fixture, kind, requests = args.child
        _child(fixture, kind, int(requests), wall=args.wall)
        return 0
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    if not kinds or set(kinds) - set(KINDS):
        raise SystemExit(f"bench.instructions: --kinds takes some of {', '.join(KINDS)}")
    valgrind = None if args.wall else require_tool("valgrind")
    with (
        throwaway_redis() as redis_url,
        own_database(args.admin_url, args.database) as db_url,
        tempfile.TemporaryDirectory() as scratch,
    ):
        env = service_env(db_url, redis_url, cache="local")
        migrate(env)
        tokens = seed.issue_tokens(env, args.tokens)
        fixture = os.path.join(scratch, "fixture.json")
        with open(fixture, "w", encoding="utf-8") as file:
            json.dump({"valid": tokens.valid, "revoked": tokens.revoked}, file)
        unit = "us per request (best of 5)" if valgrind is None else "instructions per request"
        print(f"Gateway verify, in process, warm tokens ({args.tokens} per kind), {unit}")
        for kind in kinds:
            figure = _measure(valgrind, fixture, kind, args.requests, env)
            print(
                f"  {kind:8} {figure:>10,.2f}"
                if valgrind is None
                else f"  {kind:8} {figure:>10,.0f}"
            )
    return 0


def _measure(
    valgrind: str | None, fixture: str, kind: str, requests: int, env: dict[str, str]
) -> float:
    """The figure of one kind, from a process of its own."""
    command = [sys.executable, "-m", "bench.instructions", "--child", fixture, kind, str(requests)]
    if valgrind is None:
        command.append("--wall")
    else:
        toggle = [
            "--tool=callgrind",
            "--toggle-collect=_operator_call",
            "--callgrind-out-file=/dev/null",
        ]
        command = [valgrind, *toggle, *command]
    # One hash seed for every run: with Python's random one, dicts probe differently from one
    # process to the next, and the count moved by 2 % between runs of the same code.
    child_env = {**env, "REVOCATION_LEASE_MS": _LEASE_MS, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, env=child_env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench.instructions {kind}: {done.stderr[-3000:]}")
    if valgrind is None:
        return float(done.stdout.split()[-1])
    return instructions_per_request(done.stderr, requests)


def instructions_per_request(valgrind_output: str, requests: int) -> float:
    """callgrind's "Collected" count over the requests (the count is toggled on around them)."""
    counts = _COLLECTED.findall(valgrind_output)
    if len(counts) != 1:
        raise RuntimeError(f"callgrind printed {len(counts)} 'Collected' counts, expected one")
    return int(counts[0]) / requests


def _child(fixture: str, kind: str, requests: int, *, wall: bool) -> None:
    with open(fixture, encoding="utf-8") as file:
        tokens: list[str] = json.load(file)[kind]
    import uvloop

    uvloop.run(_drive_app(tokens, KINDS[kind], requests, wall=wall))


async def _drive_app(tokens: list[str], status: int, requests: int, *, wall: bool) -> None:
    from revocation.entrypoints.app import app_from_env

    app: Any = app_from_env()  # called with plain dicts, as a server does
    startup: asyncio.Queue[Message] = asyncio.Queue()
    answers: asyncio.Queue[Message] = asyncio.Queue()
    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, startup.get, answers.put)
    )
    await startup.put({"type": "lifespan.startup"})
    if (await answers.get())["type"] != "lifespan.startup.complete":
        raise RuntimeError("the app did not start")
    redis_url = os.environ["REDIS_URL"]
    if not await asyncio.to_thread(wait_for_mirror, redis_url, ["local"], 300.0):
        raise RuntimeError("the mirror was never marked complete")
    scopes = [_scope(token) for token in tokens]
    await _warm_up(app, scopes, status)
    drive = _driver(app, scopes)
    if wall:
        best = min(_timed(drive, requests) for _ in range(_WALL_REPEATS))
        print(f"{best / requests * 1e6:.2f}")
    else:
        # In rounds, the loop free between them (uncounted): the lease is renewed only when its
        # pings' answers are read, and a round longer than the lease would go to Redis.
        for first in range(0, requests, _ROUND):
            operator.call(_drive_round, drive, first, min(first + _ROUND, requests))
            await asyncio.sleep(_SETTLE_SECONDS)
    await startup.put({"type": "lifespan.shutdown"})
    await answers.get()
    await lifespan


async def _no_body() -> Message:
    """`receive` of a GET: its one message, no body."""
    return {"type": "http.request", "body": b"", "more_body": False}


def _driver(app: Any, scopes: list[Message]) -> Callable[[int], None]:
    async def send(message: Message) -> None:
        pass

    count = len(scopes)

    def drive(number: int) -> None:
        coroutine = app(dict(scopes[number % count]), _no_body, send)
        try:
            coroutine.send(None)
        except StopIteration:
            return
        coroutine.close()  # abandoned where it waited: its `finally` clauses run
        raise _Waited("a warm request waited: it is not the path this counts")

    return drive


def _drive_round(drive: Callable[[int], None], first: int, end: int) -> None:
    for number in range(first, end):
        drive(number)


def _timed(drive: Callable[[int], None], requests: int) -> float:
    started = time.perf_counter()
    _drive_round(drive, 0, requests)
    return time.perf_counter() - started


async def _warm_up(app: Any, scopes: list[Message], status: int) -> None:
    """Passes over the tokens until each is answered without waiting: verified, and its state
    cached. (A first check marks its token logged in Redis, whose invalidation then drops cached
    states: those are read again on a later pass.)"""
    drive = _driver(app, scopes)
    for _ in range(_WARM_UP_PASSES):
        for scope in scopes:
            await _expect(app, scope, status)
        await asyncio.sleep(_SETTLE_SECONDS)  # invalidations of what the pass wrote come in
        try:
            _drive_round(drive, 0, len(scopes))
        except _Waited:
            continue
        return
    raise RuntimeError(f"requests still waited after {_WARM_UP_PASSES} passes over the tokens")


async def _expect(app: Any, scope: Message, status: int) -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(dict(scope), _no_body, send)
    if sent[0]["status"] != status:
        raise RuntimeError(f"answered {sent[0]['status']}, expected {status}")


def _scope(token: str) -> Message:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": VERIFY_PATH,
        "raw_path": VERIFY_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {token}".encode())],
    }


if __name__ == "__main__":
    raise SystemExit(main())
