"""Run an ASGI app factory under granian or uvicorn, with the settings `revocation serve` uses.

The benchmark (`bench/`) starts its hand-written reference app through this same function, so the
service and the reference always run on identical server settings. Granian is the default: with
one worker it served the protected route slightly faster than uvicorn in `make bench` (figures
in bench/README.md; with two workers the runs were a draw).
"""

from __future__ import annotations

from typing import Any, Literal

Server = Literal["granian", "uvicorn"]
SERVERS: tuple[Server, ...] = ("granian", "uvicorn")
DEFAULT_SERVER: Server = "granian"


def run(
    target: str,
    *,
    server: Server,
    host: str,
    port: int,
    workers: int,
    log_config: dict[str, Any] | None = None,
) -> None:
    """Serve `module:factory` until stopped (SIGINT/SIGTERM); blocks.

    `log_config`: a logging dictConfig for the server's own records (entrypoints.logs), so its
    start-up lines come out in the same format as the app's.
    """
    if server == "granian":
        _granian(target, host=host, port=port, workers=workers, log_config=log_config)
    else:
        _uvicorn(target, host=host, port=port, workers=workers, log_config=log_config)


def _granian(
    target: str, *, host: str, port: int, workers: int, log_config: dict[str, Any] | None
) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops

    Granian(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        factory=True,
        log_access=False,
        log_dictconfig=log_config,
        websockets=False,
    ).serve()


def _uvicorn(
    target: str, *, host: str, port: int, workers: int, log_config: dict[str, Any] | None
) -> None:
    import uvicorn

    uvicorn.run(
        target,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=log_config or uvicorn.config.LOGGING_CONFIG,
    )
