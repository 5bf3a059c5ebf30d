"""
Choosing a backend by URL, and the errors a user sees for a wrong one.
"""

import pytest

import eventreg
from eventreg.config import installed_backends, redact_url, resolve_settings, url_scheme
from eventreg.errors import ConfigurationError, UnknownBackend


def test_builtin_backends_are_declared_as_entry_points_like_a_third_partys():
    assert {"memory", "sqlite", "postgresql", "mysql", "mariadb", "file"} <= set(installed_backends())


def test_an_unknown_scheme_names_it_and_lists_the_installed_ones():
    with pytest.raises(UnknownBackend) as info:
        eventreg.open_log("mongodb://db.example/x")
    message = str(info.value)
    assert "mongodb://" in message
    for scheme in ("sqlite", "postgresql", "file", "memory"):
        assert scheme in message


@pytest.mark.parametrize("url", ["", "eventreg.db", "sqlite:", "/tmp/x.db"])
def test_text_that_is_not_a_url_is_a_configuration_error(url):
    with pytest.raises(ConfigurationError, match="not a log URL"):
        eventreg.open_log(url or "not a url")


def test_the_driver_suffix_does_not_change_the_backend():
    assert url_scheme("postgresql+psycopg://u@h/db") == "postgresql"
    assert url_scheme("MySQL+PyMySQL://u@h/db") == "mysql"


def test_passwords_are_redacted_for_messages():
    assert redact_url("postgresql+psycopg://alice:s3cr3t@db:5432/reg") == "postgresql+psycopg://alice:***@db:5432/reg"
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"
    assert "s3cr3t" not in redact_url("mysql+pymysql://bob:s3cr3t@h/d?charset=utf8mb4")


def test_settings_precedence_explicit_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("EVENTREG_URL", raising=False)
    monkeypatch.delenv("EVENTREG_ARTIFACTS", raising=False)
    monkeypatch.setenv("EVENTREG_ACTOR", "ci-bot")
    assert resolve_settings() == ("sqlite:///./eventreg.db", "file://./eventreg-artifacts", "ci-bot")
    monkeypatch.setenv("EVENTREG_URL", "memory://env")
    assert resolve_settings()[0] == "memory://env"
    assert resolve_settings(url="file:///tmp/x", actor="alice")[::2] == ("file:///tmp/x", "alice")
