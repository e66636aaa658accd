"""The operations settings: log format by environment, metrics switch, cleanup interval."""

from __future__ import annotations

import pytest

from revocation.entrypoints.logs import logging_config
from revocation.entrypoints.settings import Settings, SettingsError

PRODUCTION = {"JWT_SECRET": "p" * 40, "APP_ID": "laravel", "APP_KEY": "k" * 24}


class TestOperationsSettings:
    def test_production_logs_json_and_development_text(self) -> None:
        assert Settings.from_env(PRODUCTION).log_format == "json"
        assert Settings.from_env({"REVOCATION_ENV": "development"}).log_format == "text"
        dev_json = Settings.from_env({"REVOCATION_ENV": "development", "LOG_FORMAT": "json"})
        assert dev_json.log_format == "json"

    def test_defaults_keep_metrics_on_and_the_periodic_purge_off(self) -> None:
        settings = Settings.from_env(PRODUCTION)
        assert settings.metrics_enabled
        assert (settings.purge_interval_seconds, settings.purge_batch_size) == (0, 1000)
        assert settings.log_level == "INFO"
        assert not Settings.from_env({**PRODUCTION, "METRICS_ENABLED": "false"}).metrics_enabled

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("LOG_FORMAT", "xml"),
            ("LOG_LEVEL", "verbose"),
            ("METRICS_ENABLED", "yes please"),
            ("PURGE_INTERVAL_SECONDS", "-1"),
            ("PURGE_INTERVAL_SECONDS", "hourly"),
            ("PURGE_BATCH_SIZE", "0"),
        ],
    )
    def test_a_bad_value_stops_start_up_naming_the_setting(self, name: str, value: str) -> None:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**PRODUCTION, name: value})

    @pytest.mark.parametrize("log_format", ["json", "text"])
    def test_the_logging_config_stamps_every_handler_with_the_request_id(
        self, log_format: str
    ) -> None:
        config = logging_config(log_format, "WARNING")
        assert config["root"] == {"handlers": ["default"], "level": "WARNING"}
        assert config["handlers"]["default"]["filters"] == ["request_id"]
        assert config["handlers"]["default"]["stream"] == "ext://sys.stderr"
        formatter = config["formatters"]["default"]["()"]
        assert formatter.endswith("JsonFormatter" if log_format == "json" else "TextFormatter")
