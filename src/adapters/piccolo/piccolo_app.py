"""The `token_log` Piccolo app: its tables and committed migrations, for the Piccolo CLI."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from revocation.adapters.piccolo.tables import (
    RevocationAudit,
    UserRevocationWatermark,
    UserTokenLog,
)

APP_NAME = "token_log"
MIGRATIONS_FOLDER = Path(__file__).parent / "piccolo_migrations"

APP_CONFIG = AppConfig(
    app_name=APP_NAME,
    migrations_folder_path=MIGRATIONS_FOLDER,
    table_classes=[UserTokenLog, UserRevocationWatermark, RevocationAudit],
    migration_dependencies=[],
    commands=[],
)
