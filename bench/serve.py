"""The command line shared by the benchmark's own apps: which port, server and worker count."""

from __future__ import annotations

import argparse

from revocation.entrypoints import asgi_server


def serve(app: str, description: str) -> None:
    """Parse `--port`, `--server`, `--workers` and run `app` (`module:factory`) on them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server", choices=asgi_server.SERVERS, default=asgi_server.DEFAULT_SERVER)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    asgi_server.run(app, server=args.server, host="127.0.0.1", port=args.port, workers=args.workers)
