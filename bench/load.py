"""Drive a URL with wrk (from apt) and read its figures: requests/s, p50, p99, statuses."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bench.infra import require_tool

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# wrk's request hook: each request carries the next bearer token of the list, round robin.
_ROTATE_TOKENS = """
local tokens = {%s}
local i = 0
request = function()
  i = i %% #tokens + 1
  return wrk.format(nil, nil, {["Authorization"] = "Bearer " .. tokens[i]})
end
"""


@dataclass(frozen=True)
class Load:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    tokens: Sequence[str] = (),
    threads: int = 1,
    script: str | None = None,
) -> Load:
    """`wrk --latency` for `seconds` against `url`, rotating `tokens` as bearer credentials
    (or with another request hook, `script`, in wrk's Lua)."""
    seconds_ = max(1, round(seconds))
    with _wrk_command(url, seconds_, connections, tokens, threads, script) as command:
        done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


@dataclass
class Background:
    """A wrk run in the background; `load` holds its figures once the block has ended."""

    load: Load | None = None


@contextlib.contextmanager
def wrk_in_background(
    url: str, *, connections: int, tokens: Sequence[str] = (), limit_seconds: int = 600
) -> Iterator[Background]:
    """wrk loads `url` for as long as the block runs (stopped by SIGINT, as Ctrl-C stops it)."""
    result = Background()
    with _wrk_command(url, limit_seconds, connections, tokens, 1) as command:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            yield result
        except BaseException:
            process.kill()
            process.communicate()
            raise
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}")
    result.load = parse_wrk(output)


@contextlib.contextmanager
def _wrk_command(
    url: str,
    seconds: int,
    connections: int,
    tokens: Sequence[str],
    threads: int,
    script: str | None = None,
) -> Iterator[list[str]]:
    command = [require_tool("wrk"), "--latency", f"-t{threads}", f"-c{connections}"]
    command += [f"-d{seconds}s", "--timeout", "5s"]
    if script is None and tokens:
        script = _ROTATE_TOKENS % ", ".join(f'"{token}"' for token in tokens)
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as hook:
        if script is not None:
            hook.write(script)
            hook.flush()
            command += ["-s", hook.name]
        yield [*command, url]


def parse_wrk(output: str) -> Load:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    requests = re.search(r"(\d+) requests in", output)
    if rps is None or requests is None:
        raise RuntimeError(f"unreadable wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Load(
        rps=float(rps.group(1)),
        p50_ms=_percentile(output, "50"),
        p99_ms=_percentile(output, "99"),
        requests=int(requests.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def _percentile(output: str, percent: str) -> float:
    found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no {percent}% latency in wrk output:\n{output}")
    return float(found.group(1)) * _UNITS[found.group(2)]
