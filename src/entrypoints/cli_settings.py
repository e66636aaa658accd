"""What each command reads from the environment, and where `--dev` may be used."""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping

from revocation.entrypoints.cli_database import CommandError
from revocation.entrypoints.database_urls import sqlite_path
from revocation.entrypoints.settings import Settings

_DATABASE = ("environment", "database_url", "database_timeout_seconds", "database_pool_size")
_LOGS = ("log_format", "log_level")
_JWT = ("jwt_algorithms", "jwt_secret", "jwt_public_key", "jwt_private_key", "jwt_issuer",
        "jwt_audience", "jwt_leeway_seconds", "access_token_ttl_seconds")  # fmt: skip
# The settings each command reads (None: all of them); nothing else can stop it.
NEEDS: dict[str, tuple[str, ...] | None] = {
    "serve": None,
    "migrate": (*_DATABASE, *_LOGS),
    "issue-token": (*_DATABASE, *_LOGS, *_JWT),
    "purge-expired": (*_DATABASE, *_LOGS, "jwt_leeway_seconds"),
    "purge-audit": (*_DATABASE, *_LOGS, "audit_retention_days"),
}


def settings_for(args: argparse.Namespace) -> Settings:
    environ: Mapping[str, str] = os.environ
    if args.dev:
        # The server's worker processes read the environment themselves.
        os.environ["REVOCATION_ENV"] = "development"
    settings = Settings.from_env(environ, only=NEEDS[args.name])
    if args.dev:
        _refuse_dev_outside_this_machine(settings, args)
    if args.name == "issue-token":
        settings.validate_jwt()
    return settings


def _refuse_dev_outside_this_machine(settings: Settings, args: argparse.Namespace) -> None:
    host = getattr(args, "host", None) or settings.host
    if sqlite_path(settings.database_url) is None or not _is_loopback(host):
        raise CommandError(
            "--dev takes a SQLite DATABASE_URL and a loopback HOST only (the development "
            "secrets are published: anyone can forge tokens with them); elsewhere set "
            "JWT_SECRET, APP_ID and APP_KEY"
        )


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
