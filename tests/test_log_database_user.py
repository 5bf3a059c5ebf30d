"""
On PostgreSQL and MySQL the database records its session user on every event (issue 19:
attributable records): a column the database fills, which a client cannot set, tested
with real non-superuser accounts.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from eventreg import open_log
from eventreg.log import NewEvent


def _admin(url: str) -> sa.Engine:
    return sa.create_engine(url, **({"isolation_level": "AUTOCOMMIT"} if url.startswith("postgresql") else {}))


def _run(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def _forged_insert(url: str, table: str, position: int, prev_hash: str) -> None:
    """
    Insert an event row by hand, naming ``database_user`` itself, as a client writing SQL would.
    """
    engine = sa.create_engine(url)
    try:
        _run(engine, f"INSERT INTO {table} (position, stream_id, stream_version, type, schema_version, "
                     "recorded_at, actor, payload, metadata, prev_hash, hash, database_user) VALUES "
                     f"({position}, 'forged', 1, 'e', 1, '2026-01-01T00:00:00.000000Z', 'x', '{{}}', '{{}}', "
                     f"'{prev_hash}', '{'0' * 64}', 'somebody_else')",
             f"UPDATE eventreg_head SET position = {position}, hash = '{'0' * 64}'")
    finally:
        engine.dispose()


@pytest.fixture
def postgres_role(postgres_url):
    """
    A login role (no superuser) allowed to write the log in the test database's public schema.
    """
    role = f"eventreg_t_user_{uuid.uuid4().hex[:10]}"
    open_log(postgres_url).close()  # the admin creates the tables
    admin = _admin(postgres_url)
    _run(admin, f"CREATE ROLE {role} LOGIN NOSUPERUSER",
         f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}",
         f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    try:
        yield role, sa.engine.make_url(postgres_url).set(username=role).render_as_string(hide_password=False)
    finally:
        _run(admin, f"DROP OWNED BY {role}", f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


def test_postgres_records_the_connecting_role_and_overrides_a_client_value(postgres_role, postgres_url):
    role, url = postgres_role
    with open_log(url, actor="alice") as log:
        assert log.records_database_user
        log.append("model:iris", [NewEvent("e", {"n": 1}), NewEvent("e", {"n": 2})])
        head = log.head()
        assert log.database_users() == {1: role, 2: role}
    _forged_insert(url, "eventreg_events", 3, head.hash)
    with open_log(postgres_url) as log:  # the administrator sees the role, not what it claimed
        log.append("model:iris", [NewEvent("e", {"n": 3})], expected_version=2)
        assert log.database_users() == {1: role, 2: role, 3: role, 4: "postgres"}
        assert log.database_users(2, 3) == {2: role, 3: role}
    admin = sa.create_engine(postgres_url)
    try:  # an update cannot rewrite it either
        _run(admin, "UPDATE eventreg_events SET database_user = 'somebody_else' WHERE position = 1")
    finally:
        admin.dispose()
    with open_log(postgres_url) as log:
        assert log.database_users(1, 1) == {1: role}


def test_postgres_records_the_login_role_even_after_set_role(postgres_role, postgres_url):
    role, url = postgres_role
    other = f"{role}_other"
    admin = _admin(postgres_url)
    _run(admin, f"CREATE ROLE {other} NOLOGIN", f"GRANT {other} TO {role}",
         f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {other}")
    try:
        with open_log(url, connect_args={"options": f"-c role={other}"}) as log:
            log.append("s", [NewEvent("e", {})])
            assert log.database_users() == {1: role}
    finally:
        _run(admin, f"DROP OWNED BY {other}", f"DROP ROLE IF EXISTS {other}")
        admin.dispose()


@pytest.fixture
def mysql_account(mysql_url):
    """
    A MariaDB/MySQL account (not root) allowed to write the log in the test database.
    """
    user = f"eventreg_t_{uuid.uuid4().hex[:8]}"
    open_log(mysql_url).close()
    parsed = sa.engine.make_url(mysql_url)
    admin = _admin(mysql_url)
    _run(admin, f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'",
         f"GRANT SELECT, INSERT, UPDATE ON `{parsed.database}`.* TO '{user}'@'%'")
    try:
        yield user, parsed.set(username=user, password=f"pw-{user}").render_as_string(hide_password=False)
    finally:
        _run(admin, f"DROP USER IF EXISTS '{user}'@'%'")
        admin.dispose()


def test_mysql_records_the_session_user_and_overrides_a_client_value(mysql_account, mysql_url):
    user, url = mysql_account
    with open_log(url) as log:
        assert log.records_database_user
        (event,) = log.append("model:iris", [NewEvent("e", {})])
    _forged_insert(url.split("?")[0], "eventreg_events", 2, event.hash)
    with open_log(mysql_url) as log:
        users = log.database_users()
    assert set(users) == {1, 2}
    assert all(name.startswith(f"{user}@") for name in users.values()), users


def test_sqlite_records_no_database_user(sqlite_url):
    with open_log(sqlite_url) as log:
        log.append("s", [NewEvent("e", {})])
        assert not log.records_database_user and log.database_users() == {}


def test_a_schema_2_database_is_upgraded_and_new_events_get_their_user(postgres_url):
    with open_log(postgres_url) as log:
        log.append("s", [NewEvent("e", {})])
    admin = _admin(postgres_url)
    _run(admin, "DROP TRIGGER eventreg_events_database_user ON eventreg_events",  # back to schema 2
         "DROP FUNCTION eventreg_record_database_user()",
         "ALTER TABLE eventreg_events DROP COLUMN database_user",
         "UPDATE eventreg_schema SET version = 2 WHERE version = 3")
    admin.dispose()
    with open_log(postgres_url) as log:
        log.append("s", [NewEvent("e", {})], expected_version=1)
        assert log.database_users() == {2: "postgres"}  # the event written before has none
        assert log.verify().ok


def test_history_shows_the_database_user_of_each_event(postgres_role, postgres_url, tmp_path):
    import json

    from click.testing import CliRunner

    from eventreg.cli import cli

    role, url = postgres_role

    def run(as_url: str, *args: str) -> str:
        result = CliRunner().invoke(cli, ["--url", as_url, "--artifacts", f"file://{tmp_path}/a", "--actor", "alice",
                                          *args], prog_name="eventreg", env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.stdout

    run(url, "models", "create", "iris")
    run(postgres_url, "models", "create", "churn")  # the administrator
    history = json.loads(run(postgres_url, "--json", "history"))
    assert [(e["model"], e["actor"], e["database_user"]) for e in history] == [
        ("iris", "alice", role), ("churn", "alice", "postgres")]
    assert [e["database_user"] for e in json.loads(run(url, "--json", "history", "iris"))] == [role]
    table = run(postgres_url, "history")
    assert "db user" in table and role in table


def test_history_has_no_database_user_column_on_sqlite(sqlite_url, tmp_path):
    from click.testing import CliRunner

    from eventreg.cli import cli

    base = ["--url", sqlite_url, "--artifacts", f"file://{tmp_path}/a"]
    assert CliRunner().invoke(cli, [*base, "models", "create", "iris"]).exit_code == 0
    result = CliRunner().invoke(cli, [*base, "history"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "db user" not in result.stdout and "iris" in result.stdout
