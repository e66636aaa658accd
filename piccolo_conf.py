"""Piccolo CLI configuration: `DATABASE_URL=... piccolo migrations forwards token_log`.

The service itself never reads this module: its container builds and binds its own engine.
Building the engine does no I/O (see adapters.piccolo.engines).
"""

from __future__ import annotations

import os

from piccolo.conf.apps import AppRegistry

from revocation.adapters.piccolo.engines import build_engine

DB = build_engine(os.environ.get("DATABASE_URL", "sqlite:///revocation.sqlite3"))

APP_REGISTRY = AppRegistry(apps=["revocation.adapters.piccolo.piccolo_app"])
