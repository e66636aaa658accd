"""Piccolo CLI configuration: `DATABASE_URL=... piccolo migrations forwards token_log`.

The service itself never reads this module: its container builds and binds its own engine.
Building the engine does no I/O (see adapters.piccolo.engines).
"""

from __future__ import annotations

import os

from piccolo.conf.apps import AppRegistry

from revocation.adapters.piccolo.engines import build_engine
from revocation.entrypoints.database_urls import normalise_database_url

# The URL as the service reads it: `postgresql+asyncpg://` and the like work here too.
DB = build_engine(
    normalise_database_url(os.environ.get("DATABASE_URL", "") or "sqlite:///revocation.sqlite3")
)

APP_REGISTRY = AppRegistry(apps=["revocation.adapters.piccolo.piccolo_app"])
