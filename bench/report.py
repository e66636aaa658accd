"""The printed tables, and the table of PASS/FAIL verdicts (bench.targets decides them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.hot_path import Figures
from bench.logout_all import Scaling

REFERENCE = "reference"
BARE = "bare ASGI app"  # the server's ceiling: no framework, no check
DEFAULT_MODE = "local"  # the service's REVOCATION_CACHE default with one Redis
# The default mode with the replay watch off: what the watch costs, measured in the same run.
REPLAY_OFF = f"service, REVOCATION_CACHE={DEFAULT_MODE}, REPLAY_POLICY=off"


@dataclass(frozen=True)
class Verdict:
    target: str
    passed: bool
    evidence: str


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *, labels: int = 1) -> str:
    """Columns aligned: the first `labels` ones to the left, the figures to the right."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [_line(header, widths, labels), "-+-".join("-" * w for w in widths)]
    lines += [_line(row, widths, labels) for row in rows]
    return "\n".join(lines)


def _line(row: Sequence[str], widths: Sequence[int], labels: int) -> str:
    cells = [
        str(cell).ljust(width) if column < labels else str(cell).rjust(width)
        for column, (cell, width) in enumerate(zip(row, widths, strict=True))
    ]
    return " | ".join(cells)


def hot_path_table(figures: Mapping[tuple[str, str], Figures]) -> str:
    """One row per case and app, in measuring order; ratios against the reference's row."""
    rows = []
    for (app, case), ours in figures.items():
        theirs = figures.get((REFERENCE, case))
        rows.append(
            [
                case,
                app,
                f"{ours.rps:,.0f}",
                f"{ours.rps / theirs.rps:.2f}" if theirs else "",
                f"{ours.p50_ms:.2f}",
                f"{ours.p99_ms:.2f}",
                f"{ours.p99_ms / theirs.p99_ms:.2f}" if theirs else "",
            ]
        )
    header = ["case", "app", "req/s", "x ref", "p50 ms", "p99 ms", "p99 / ref"]
    return table(header, rows, labels=2)


def servers_table(figures: Mapping[str, Figures]) -> str:
    rows = [
        [label, f"{f.rps:,.0f}", f"{f.p50_ms:.2f}", f"{f.p99_ms:.2f}"]
        for label, f in figures.items()
    ]
    return table(["server (service, valid token)", "req/s", "p50 ms", "p99 ms"], rows)


SCALING_NOTES = """\
  svc answer: lgt-all request to response; rows blocked: until the UPDATE that blocks every
  row committed (the service runs it after answering; the Redis watermark covers the tokens).
  SQL stmts/RTs: Execute+Query / Sync+Query messages seen by a counting proxy (bench/proxy.py).
  Redis cmds/INFO/RTs: commands seen by a RESP-parsing proxy / the server's INFO commandstats
  delta / request batches sent with no reply outstanding. Counts include the background work.
  naive: one UPDATE and one SET per token (raw asyncpg + redis-py); * = timed once, through
  the counting proxies (slow by design)."""


def scaling_table(rows: Sequence[Scaling]) -> str:
    body = [
        [
            f"{row.tokens:,}",
            f"{row.service_ms:.1f}",
            f"{row.blocked_ms:.1f}",
            f"{row.service_db.statements}/{row.service_db.round_trips}",
            f"{row.service_redis.statements}/{row.redis_commandstats}/{row.service_redis.round_trips}",
            f"{row.naive_ms:.1f}{'*' if row.naive_through_proxies else ''}",
            f"{row.naive_db.statements}/{row.naive_db.round_trips}",
            f"{row.naive_redis.statements}/{row.naive_redis.round_trips}",
        ]
        for row in rows
    ]
    header = ["N tokens", "svc answer ms", "rows blocked ms", "svc SQL stmts/RTs"]
    header += ["svc Redis cmds/INFO/RTs", "naive ms"]
    return table([*header, "naive SQL stmts/RTs", "naive Redis cmds/RTs"], body)


def commands_line(rows: Sequence[Scaling]) -> str:
    """What the service sent to Redis for the smallest and the largest N, by command."""
    parts = []
    for row in (rows[0], rows[-1]) if len(rows) > 1 else rows:
        names = ", ".join(f"{name} x{n}" for name, n in sorted(row.service_redis.commands.items()))
        parts.append(f"N={row.tokens:,}: {names}")
    return "  service's Redis commands, " + "; ".join(parts)


def verdicts_table(items: Sequence[Verdict]) -> str:
    rows = [["PASS" if v.passed else "FAIL", v.target, v.evidence] for v in items]
    return table(["", "target", "measured"], rows, labels=2)


def service_label(mode: str) -> str:
    return f"service, REVOCATION_CACHE={mode}"
