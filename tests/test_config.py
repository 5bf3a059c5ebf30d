"""
Choosing a backend by URL, and the errors a user sees for a wrong one.
"""

import pytest

import eventreg
from eventreg.config import installed_backends, redact_url, resolve_settings, url_scheme
from eventreg.errors import ConfigurationError, RegistryNotFound, UnknownBackend


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


# -- create=False: a typo'd URL must not make an empty registry ------------------------------


@pytest.fixture(params=["sqlite_url", "file_url", "postgres_url", "mysql_url"],
                ids=lambda name: name.removesuffix("_url"))
def missing_url(request):
    """The URL of a store that holds no log yet (a file or folder that does not exist,
    an empty database)."""
    return request.getfixturevalue(request.param)


def _store_state(url: str, tmp_path) -> object:
    """What exists for ``url``: files under tmp_path, or a database's table names."""
    if url.startswith(("sqlite", "file")):
        return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_create_false_raises_registry_not_found_and_creates_nothing(missing_url, tmp_path):
    before = _store_state(missing_url, tmp_path)
    with pytest.raises(RegistryNotFound, match="no registry at") as raised:
        eventreg.open_log(missing_url, create=False)
    assert isinstance(raised.value, eventreg.NotFound) and raised.value.exit_code == 3
    assert _store_state(missing_url, tmp_path) == before
    eventreg.open_log(missing_url).close()  # created now
    with eventreg.open_log(missing_url, create=False) as log:  # and found
        assert log.head().position == 0


def test_create_false_redacts_the_password(postgres_url):
    url = postgres_url.replace("postgres@", "postgres:s3cr3t@")
    with pytest.raises(RegistryNotFound) as raised:
        eventreg.open_log(url, create=False)
    assert "s3cr3t" not in str(raised.value) and "***" in str(raised.value)


def test_create_false_on_a_sqlite_file_that_is_not_a_log_changes_nothing(tmp_path):
    import sqlite3

    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(RegistryNotFound):
        eventreg.open_log(f"sqlite:///{path}", create=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] != "wal"


def test_create_false_on_a_named_memory_log():
    with pytest.raises(RegistryNotFound):
        eventreg.open_log("memory://never-made-here", create=False)
    eventreg.open_log("memory://made-here").close()
    eventreg.open_log("memory://made-here", create=False).close()


@pytest.mark.parametrize("create", [True, False])
def test_a_sqlite_url_whose_folder_is_missing_is_a_configuration_error_naming_it(tmp_path, create):
    folder = tmp_path / "no" / "such"
    with pytest.raises(ConfigurationError, match=str(folder)) as raised:
        eventreg.open_log(f"sqlite:///{folder / 'reg.db'}", create=create)
    assert raised.value.exit_code == 2
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("query, named", [
    ("timout=30", "'timout'"),                     # misspelt: SQLAlchemy 2.0 dropped it silently
    ("mode=ro", "taken with uri=true"),            # SQLite's own, but only read in a URI
    ("uri=true&mdoe=ro", "'mdoe'"),                # SQLite ignores an unknown URI parameter
])
def test_an_unknown_sqlite_url_parameter_is_refused_naming_it(tmp_path, query, named):
    with pytest.raises(ConfigurationError, match=named) as raised:
        eventreg.open_log(f"sqlite:///{tmp_path / 'reg.db'}?{query}")
    assert raised.value.exit_code == 2 and not (tmp_path / "reg.db").exists()


def test_sqlite_url_parameters_reach_sqlite(tmp_path):
    eventreg.open_log(f"sqlite:///{tmp_path / 'reg.db'}?timeout=5").close()
    with eventreg.open_log(f"sqlite:///file:{tmp_path / 'reg.db'}?uri=true&mode=ro", create=False) as log:
        assert log.head().position == 0
