"""The fault proxy itself: it must not leak what it accepted, or a later test fails for it.

The Sentinel tests' proxy stands in front of a primary that sentinels and replicas keep
reconnecting to, dead or alive, up to the moment the deployment is torn down. A connection
accepted in the same turn of the proxy's loop as its shutdown must still be closed: otherwise
its transport is collected unclosed, a ResourceWarning (an error under this suite's filters)
raised in whichever test happens to be running then.
"""

from __future__ import annotations

import contextlib
import gc
import socket
import threading

from tests.integration.fault_proxy import FaultProxy
from tests.live_server import free_port

SHUTDOWNS = 30


def _connect_until(stop: threading.Event, address: tuple[str, int]) -> None:
    """As sentinels whose primary is gone, many at once: connect, give up, connect again."""
    while not stop.is_set():
        with contextlib.suppress(OSError):
            socket.create_connection(address, timeout=1).close()
        stop.wait(0.002)


def test_shutting_down_while_connections_arrive_leaves_nothing_open() -> None:
    target = ("127.0.0.1", free_port())  # nothing listens: as the Sentinel tests' killed primary
    for _ in range(SHUTDOWNS):
        stop = threading.Event()
        with FaultProxy(target, dict) as proxy:
            connecting = [
                threading.Thread(target=_connect_until, args=(stop, proxy.address))
                for _ in range(2)
            ]
            for thread in connecting:
                thread.start()
            stop.wait(0.02)
        stop.set()
        for thread in connecting:
            thread.join()
    # Anything the proxy left half open is collected here, and warns inside this test.
    gc.collect()
