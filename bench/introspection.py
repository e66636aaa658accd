"""`python -m bench.introspection`: RFC 7662 introspection next to the verify route and the
hand-written reference, in one run, on valid tokens (the service in its default cache mode).

Introspection pays what the verify route pays (the same check) plus a form to parse and the
client's credentials to check behind the brake; the targets compare it with the reference.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
from collections.abc import Callable, Sequence

import httpx

from bench import hot_path, report, seed
from bench.hot_path import Figures
from bench.infra import (
    App,
    app_process,
    free_port,
    migrate,
    own_database,
    reference_command,
    require_tool,
    service_command,
    service_env,
    throwaway_redis,
)
from bench.load import Load, run_wrk
from revocation.entrypoints.http.oauth import INTROSPECTION_PATH
from revocation.entrypoints.http.verify import VERIFY_PATH

# wrk's request hook: each request introspects the next token of the list, round robin.
_INTROSPECT = """
local tokens = {%s}
local i = 0
request = function()
  i = i %% #tokens + 1
  return wrk.format("POST", nil, {["Authorization"] = "%s",
    ["Content-Type"] = "application/x-www-form-urlencoded"}, "token=" .. tokens[i])
end
"""
INTROSPECTION, VERIFY, REFERENCE_ROW = "introspection", "verify route", "reference"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    require_tool("wrk")
    with throwaway_redis() as redis_url, own_database(args.admin_url, args.database) as db_url:
        env = service_env(db_url, redis_url)
        migrate(env)
        tokens = seed.issue_tokens(env, args.tokens).valid
        service_port, reference_port = free_port(), free_port()
        with (
            app_process(
                "service", service_command(service_port, "granian", 1), env, service_port
            ) as service,
            app_process(
                REFERENCE_ROW, reference_command(reference_port, "granian", 1), env, reference_port
            ) as reference,
        ):
            hot_path.wait_for_mirror(redis_url, [report.DEFAULT_MODE])
            basic = _basic(env["APP_ID"], env["APP_KEY"])
            _check_active(service, tokens, basic)
            script = _INTROSPECT % (", ".join(f'"{token}"' for token in tokens), basic)
            runs = {
                VERIFY: _runner(args, service.base_url + VERIFY_PATH, tokens),
                INTROSPECTION: _runner(args, service.base_url + INTROSPECTION_PATH, (), script),
                REFERENCE_ROW: _runner(args, reference.base_url + VERIFY_PATH, tokens),
            }
            figures = _measure(runs, args.rounds)
    setup = f"granian, 1 worker, wrk -t1 -c{args.connections}, {args.rounds} x {args.seconds:g} s"
    print(f"Introspection ({setup}, medians; a shared machine: noisy)")
    print(_table(figures))
    print(report.verdicts_table(_verdicts(figures)))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.introspection", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=100)
    default_admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    parser.add_argument("--admin-url", default=os.environ.get("BENCH_POSTGRES_URL", default_admin))
    parser.add_argument("--database", default="revocation_bench_introspection")
    return parser


def _runner(
    args: argparse.Namespace, url: str, tokens: Sequence[str], script: str | None = None
) -> Callable[[], Load]:
    def run() -> Load:
        return run_wrk(
            url, seconds=args.seconds, connections=args.connections, tokens=tokens, script=script
        )

    return run


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _check_active(service: App, tokens: Sequence[str], basic: str) -> None:
    """Before any load: every token introspects as active (a 200 alone proves nothing)."""
    for token in tokens:
        answer = httpx.post(
            service.base_url + INTROSPECTION_PATH,
            data={"token": token},
            headers={"Authorization": basic},
        )
        if answer.json().get("active") is not True:
            raise RuntimeError(f"introspection: {answer.status_code} {answer.text}")


def _measure(runs: dict[str, Callable[[], Load]], rounds: int) -> dict[str, Figures]:
    """Rounds outermost, the order reversed every other round, so drift hits all alike."""
    loads: dict[str, list[Load]] = {name: [] for name in runs}
    for number in range(rounds):
        for name in runs if number % 2 == 0 else reversed(list(runs)):
            load = runs[name]()
            if load.non_2xx or load.socket_errors:
                raise RuntimeError(f"{name}: {load.non_2xx} non-2xx, {load.socket_errors} errors")
            loads[name].append(load)
    return {
        name: Figures(
            rps=statistics.median(load.rps for load in found),
            p50_ms=statistics.median(load.p50_ms for load in found),
            p99_ms=statistics.median(load.p99_ms for load in found),
            rounds=len(found),
        )
        for name, found in loads.items()
    }


def _table(figures: dict[str, Figures]) -> str:
    reference = figures[REFERENCE_ROW]
    rows = [
        [
            name,
            f"{f.rps:,.0f}",
            f"{f.rps / reference.rps:.2f}",
            f"{f.p50_ms:.2f}",
            f"{f.p99_ms:.2f}",
            f"{f.p99_ms / reference.p99_ms:.2f}",
        ]
        for name, f in figures.items()
    ]
    return report.table(["valid token", "req/s", "x ref", "p50 ms", "p99 ms", "p99 / ref"], rows)


def _verdicts(figures: dict[str, Figures]) -> list[report.Verdict]:
    ours, theirs = figures[INTROSPECTION], figures[REFERENCE_ROW]
    return [
        report.Verdict(
            "introspection: throughput >= 3x reference",
            ours.rps >= 3 * theirs.rps,
            f"{ours.rps / theirs.rps:.2f}x",
        ),
        report.Verdict(
            "introspection: p99 <= reference p99",
            ours.p99_ms <= theirs.p99_ms,
            f"{ours.p99_ms:.2f} vs {theirs.p99_ms:.2f} ms",
        ),
    ]


if __name__ == "__main__":
    raise SystemExit(main())
