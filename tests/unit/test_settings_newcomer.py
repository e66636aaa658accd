"""Settings as a newcomer writes them: copied URLs, any case, secrets in files."""

from __future__ import annotations

from pathlib import Path

import pytest

from revocation.entrypoints.database_urls import (
    ACCEPTED,
    DatabaseUrlError,
    describe,
    normalise_database_url,
)
from revocation.entrypoints.http.errors import http_title
from revocation.entrypoints.settings import Settings, SettingsError
from revocation.entrypoints.settings_table import SETTINGS

PRODUCTION = {"JWT_SECRET": "p" * 40, "APP_ID": "laravel", "APP_KEY": "k" * 24}
SECRET = "a-secret-read-from-a-file-long-enough-for-hs256"


class TestLogLevel:
    @pytest.mark.parametrize("raw", ["info", "Info", "INFO", "debug", "warning"])
    def test_any_case_is_accepted(self, raw: str) -> None:
        assert Settings.from_env({**PRODUCTION, "LOG_LEVEL": raw}).log_level == raw.upper()

    def test_an_unknown_level_names_the_levels(self) -> None:
        with pytest.raises(SettingsError, match="DEBUG, INFO, WARNING, ERROR"):
            Settings.from_env({**PRODUCTION, "LOG_LEVEL": "verbose"})


class TestDatabaseUrl:
    @pytest.mark.parametrize(
        ("copied", "used"),
        [
            ("postgresql+asyncpg://u:p@db:5432/x", "postgresql://u:p@db:5432/x"),
            ("postgres://u@db/x", "postgresql://u@db/x"),
            ("postgresql+psycopg2://u@db/x", "postgresql://u@db/x"),
            ("POSTGRESQL://u@db/x", "postgresql://u@db/x"),
            ("sqlite+aiosqlite:///data/x.db", "sqlite:///data/x.db"),
            ("sqlite:////var/lib/x.db", "sqlite:////var/lib/x.db"),
        ],
    )
    def test_schemes_copied_from_other_tools_are_accepted(self, copied: str, used: str) -> None:
        assert Settings.from_env({**PRODUCTION, "DATABASE_URL": copied}).database_url == used

    @pytest.mark.parametrize(
        "url", ["mysql://u@db/x", "jdbc:postgresql://db/x", "db.example:5432", "sqlite://"]
    )
    def test_others_are_refused_with_the_accepted_list(self, url: str) -> None:
        with pytest.raises(SettingsError, match="DATABASE_URL") as refused:
            Settings.from_env({**PRODUCTION, "DATABASE_URL": url})
        assert ACCEPTED in str(refused.value) or "SQLite needs a database file" in str(
            refused.value
        )

    @pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite+aiosqlite://"])
    def test_in_memory_sqlite_is_refused(self, url: str) -> None:
        with pytest.raises(DatabaseUrlError, match="SQLite needs a database file"):
            normalise_database_url(url)

    def test_messages_name_the_absolute_file_and_never_a_password(self, tmp_path: Path) -> None:
        assert str(Path.cwd() / "x.db") in describe("sqlite:///x.db")
        assert "hunter2" not in describe("postgresql://u:hunter2@db/x")

    @pytest.mark.parametrize(
        "url",
        [
            "host=db user=app password=hunter2 dbname=x",  # a libpq keyword string
            "postgresql:/app:hunter2@db/x",  # one slash short
            "postgresql://app:hunt/er2@db:5432/x",  # a password the driver would split
            "sqlite://hunter2@db/x",  # not a file
        ],
    )
    def test_a_refused_url_is_never_quoted_back(self, url: str) -> None:
        with pytest.raises(SettingsError) as refused:
            Settings.from_env({**PRODUCTION, "DATABASE_URL": url})
        assert "hunter2" not in str(refused.value)
        assert "hunt" not in str(refused.value)


class TestSecretFiles:
    def test_each_secret_can_come_from_a_file(self, tmp_path: Path) -> None:
        (tmp_path / "jwt").write_text(SECRET + "\n")  # as `echo secret > file` writes it
        (tmp_path / "key").write_text("key-from-file")
        env = {"APP_ID": "laravel", "JWT_SECRET_FILE": str(tmp_path / "jwt")}
        settings = Settings.from_env({**env, "APP_KEY_FILE": str(tmp_path / "key")})
        assert (settings.jwt_secret, settings.app_key) == (SECRET, "key-from-file")

    def test_the_key_pair_and_every_other_secret_have_a_file_variant(self) -> None:
        with_files = {setting.variable for setting in SETTINGS if setting.from_file}
        assert with_files >= {
            "JWT_SECRET", "APP_KEY", "JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY", "DATABASE_URL",
            "REDIS_URL", "REDIS_SENTINEL_PASSWORD",
        }  # fmt: skip

    def test_a_pem_key_keeps_its_lines(self, tmp_path: Path) -> None:
        pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"
        (tmp_path / "public.pem").write_text(pem + "\n")
        env = {**PRODUCTION, "JWT_ALGORITHMS": "ES256"}
        settings = Settings.from_env({**env, "JWT_PUBLIC_KEY_FILE": str(tmp_path / "public.pem")})
        assert settings.jwt_public_key == pem

    def test_a_missing_file_is_named(self, tmp_path: Path) -> None:
        missing = tmp_path / "nowhere"
        with pytest.raises(SettingsError, match=f"JWT_SECRET_FILE: no file at {missing}"):
            Settings.from_env({**PRODUCTION, "JWT_SECRET": "", "JWT_SECRET_FILE": str(missing)})

    def test_a_file_that_is_not_text_is_refused_without_quoting_it(self, tmp_path: Path) -> None:
        (tmp_path / "binary").write_bytes(b"secret\xff\xfe")
        env = {**PRODUCTION, "APP_KEY": "", "APP_KEY_FILE": str(tmp_path / "binary")}
        with pytest.raises(SettingsError, match="is not UTF-8 text") as refused:
            Settings.from_env(env)
        assert "xff" not in str(refused.value)

    def test_an_empty_file_is_named(self, tmp_path: Path) -> None:
        (tmp_path / "empty").write_text("\n")
        env = {**PRODUCTION, "APP_KEY": "", "APP_KEY_FILE": str(tmp_path / "empty")}
        with pytest.raises(SettingsError, match=r"APP_KEY_FILE: .*empty is empty"):
            Settings.from_env(env)

    def test_both_the_value_and_the_file_is_ambiguous(self, tmp_path: Path) -> None:
        (tmp_path / "key").write_text("key-from-file")
        with pytest.raises(SettingsError, match="APP_KEY or APP_KEY_FILE, not both"):
            Settings.from_env({**PRODUCTION, "APP_KEY_FILE": str(tmp_path / "key")})


class TestOnlyTheSettingsACommandNeeds:
    def test_the_database_alone_needs_no_secret_and_ignores_the_rest(self) -> None:
        env = {"DATABASE_URL": "postgres://u@db/x", "REDIS_SENTINELS": "not-an-address"}
        settings = Settings.from_env(env, only=("database_url",))
        assert settings.database_url == "postgresql://u@db/x"


def test_error_titles_are_fixed_by_the_code_not_the_interpreter() -> None:
    # Python 3.13's http.HTTPStatus calls 413 "Content Too Large"; the API keeps its title.
    assert http_title(413) == "Request Entity Too Large"
    assert http_title(422) == "Unprocessable Entity"
    assert http_title(418) == "Client Error"
