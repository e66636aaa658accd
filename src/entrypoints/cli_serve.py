"""What `revocation serve` checks before it starts a server: the server's workers would report
these as tracebacks (a Python one, or granian's panic), once per worker."""

from __future__ import annotations

import socket

from revocation.entrypoints.app import create_app
from revocation.entrypoints.cli_database import CommandError
from revocation.entrypoints.containers import Container
from revocation.entrypoints.settings import Settings


def refuse_what_the_server_would(settings: Settings, host: str, port: int) -> None:
    _refuse_unbuildable(settings)
    _refuse_a_taken_address(host, port)


def _refuse_unbuildable(settings: Settings) -> None:
    """Build the app once here (no I/O): a value an adapter refuses (a REDIS_URL that is no
    Redis URL, a PEM key that does not parse) is then one configuration line."""
    try:
        create_app(Container(settings=settings))
    except ValueError as error:
        raise CommandError(f"configuration error: {error}") from None


def _refuse_a_taken_address(host: str, port: int) -> None:
    """Bind and release the address the server is about to take (the server binds it again
    with SO_REUSEADDR, as this probe does)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        raise CommandError(
            f"cannot listen on {host}:{port}: {reason} (another server there? set PORT or --port)"
        ) from None
