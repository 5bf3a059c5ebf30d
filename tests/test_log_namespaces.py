"""
Several logs in one database: a PostgreSQL schema (``?schema=team_a``) or a table prefix
(``?prefix=team_a_``) per log, each with its own events, chain, head, snapshots and
checkpoints; ``eventreg copy`` between them; a PostgreSQL role granted one schema only.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

import eventreg
from eventreg import open_log
from eventreg.cli import cli
from eventreg.errors import BackendUnavailable, ConfigurationError
from eventreg.log import NewEvent


def _with(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


@pytest.fixture(params=[("postgres_url", "schema"), ("postgres_url", "prefix"), ("mysql_url", "prefix"),
                        ("sqlite_url", "prefix")],
                ids=["postgres-schema", "postgres-prefix", "mariadb-prefix", "sqlite-prefix"])
def namespaces(request):
    """
    A function naming a namespace ``team`` of one fresh database, by schema or prefix.
    """
    url = request.getfixturevalue(request.param[0])
    kind = request.param[1]
    return lambda team: _with(url, f"schema={team}" if kind == "schema" else f"prefix={team}_")


def _fill(url: str, team: str, n: int) -> list:
    with open_log(url, actor=team) as log:
        for i in range(n):
            log.append(f"model:{team}-{i % 3}", [NewEvent("noted", {"team": team, "i": i})])
        log.save_snapshot(n, f"{team} state".encode())
        log.set_checkpoint("mailer", n)
        return list(log.read_all())


def test_two_namespaces_are_separate_logs_and_copy_between_them_keeps_the_head(namespaces):
    a_url, b_url, c_url = namespaces("team_a"), namespaces("team_b"), namespaces("team_c")
    a_events = _fill(a_url, "team_a", 7)
    b_events = _fill(b_url, "team_b", 4)
    with open_log(a_url) as a, open_log(b_url) as b:
        # each has only its own events, its own chain, head, snapshot and checkpoint
        assert [e.payload["team"] for e in a.read_all()] == ["team_a"] * 7
        assert [e.payload["team"] for e in b.read_all()] == ["team_b"] * 4
        assert b.read_stream("model:team_a-0") == []
        assert a.head() == (7, a_events[-1].hash) and b.head() == (4, b_events[-1].hash)
        assert a.head() != b.head()
        assert a.verify().ok and b.verify().ok
        assert a.latest_snapshot().data == b"team_a state" and b.latest_snapshot().data == b"team_b state"
        b.set_checkpoint("mailer", 2)
        assert (a.get_checkpoint("mailer"), b.get_checkpoint("mailer")) == (7, 2)
        # an append to one moves only its head
        a.append("model:team_a-0", [NewEvent("noted", {"team": "team_a", "i": 7})])
        assert a.head().position == 8 and b.head() == (4, b_events[-1].hash)
    result = CliRunner().invoke(cli, ["copy", a_url, c_url], prog_name="eventreg")
    assert result.exit_code == 0, result.output
    with open_log(a_url) as a, open_log(c_url) as c, open_log(b_url) as b:
        assert c.head() == a.head() and c.verify().ok
        assert list(c.read_all()) == list(a.read_all())
        assert list(b.read_all()) == b_events  # the neighbour is untouched
    assert str(eventreg.copy(a_url, c_url, progress=False).head) in result.output  # nothing more to copy


def test_a_namespace_and_the_default_one_share_a_database(namespaces):
    named = namespaces("team_a")
    plain = named.replace("schema=team_a", "").replace("prefix=team_a_", "").rstrip("?&")
    _fill(plain, "default", 3)
    with open_log(named) as log:
        assert log.head().position == 0 and list(log.read_all()) == []
    with open_log(plain) as log:
        assert log.head().position == 3


@pytest.mark.parametrize("query, problem", [
    ("prefix=Team_A_", "not a usable name"),
    ("prefix=team-a", "not a usable name"),
    ("prefix=", "not a usable name"),
    ("prefix=" + "t" * 33, "at most 32"),
    ("prefix=a_&prefix=b_", "given twice"),
    ("prefx=team_a_", "unknown to eventreg and to the database driver"),
])
def test_a_bad_namespace_or_unknown_parameter_is_a_configuration_error(sql_url_any, query, problem):
    with pytest.raises(ConfigurationError, match=problem):
        open_log(_with(sql_url_any, query))


@pytest.fixture(params=["sqlite_url", "postgres_url", "mysql_url"], ids=["sqlite", "postgres", "mariadb"])
def sql_url_any(request):
    return request.getfixturevalue(request.param)


def test_the_longest_prefix_fits_every_dialects_name_limits(sql_url_any):
    url = _with(sql_url_any, f"prefix={'p' * 31}_")
    with open_log(url) as log:
        log.append("s", [NewEvent("e", {})])
        assert log.verify().ok
    with open_log(url) as log:  # reopened: found, not created again
        assert log.head().position == 1


def test_schema_is_for_postgresql_only(sqlite_url, mysql_url):
    for url in (sqlite_url, mysql_url):
        with pytest.raises(ConfigurationError, match="schema= is for PostgreSQL.*prefix="):
            open_log(_with(url, "schema=team_a"))


def test_a_bad_schema_name_is_refused(postgres_url):
    with pytest.raises(ConfigurationError, match="not a usable name"):
        open_log(_with(postgres_url, 'schema=team_a";drop'))


def test_the_cli_reports_a_bad_namespace_in_one_line_with_exit_code_2(sqlite_url):
    result = CliRunner().invoke(cli, ["--url", _with(sqlite_url, "prefix=Bad"), "head"], prog_name="eventreg")
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


# -- a role granted one schema -------------------------------------------------------------


@pytest.fixture
def team_a_role(_pg_admin, postgres_url):
    """
    A login role granted schema team_a of the test database and nothing else, after the
    admin created the logs of team_a and team_b (each with events); dropped afterwards.
    """
    role = f"eventreg_t_role_{uuid.uuid4().hex[:10]}"
    for team in ("team_a", "team_b"):
        _cli(_with(postgres_url, f"schema={team}"), "models", "create", f"{team}_model")
    database = sa.engine.make_url(postgres_url).database
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    statements = [
        f"CREATE ROLE {role} LOGIN",
        f"REVOKE ALL ON DATABASE {database} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {database} TO {role}",
        f"GRANT USAGE ON SCHEMA team_a TO {role}",
        f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA team_a TO {role}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA team_a TO {role}",
    ]
    try:
        with engine.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
        yield role, sa.engine.make_url(postgres_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        engine.dispose()
        with _pg_admin.connect() as conn:  # a role left behind would outlive the database
            assert conn.execute(sa.text("SELECT count(*) FROM pg_roles WHERE rolname = :r"),
                                {"r": role}).scalar() == 0


def _cli(url: str, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, ["--url", url, "--actor", "tester", *args], prog_name="eventreg")
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return result


def test_a_role_granted_one_schema_uses_it_and_cannot_read_another(team_a_role):
    role, url = team_a_role
    team_a = _with(url, "schema=team_a")
    _cli(team_a, "models", "create", "made_by_the_role")
    listed = _cli(team_a, "--json", "models", "list").stdout
    assert "team_a_model" in listed and "made_by_the_role" in listed and "team_b_model" not in listed
    assert "ok: 2 events checked" in _cli(team_a, "verify").stdout
    with open_log(team_a) as log:
        log.save_snapshot(2, b"mine")
        log.set_checkpoint("mailer", 2)
        assert log.latest_snapshot().data == b"mine" and log.get_checkpoint("mailer") == 2
    for team in ("team_b", "team_c"):  # another team's schema; a schema it may not create
        with pytest.raises(BackendUnavailable, match=f"denied database user '{role}' access"):
            open_log(_with(url, f"schema={team}"))
    with pytest.raises(BackendUnavailable, match="denied"):
        open_log(url)  # nor the default namespace (public), where it may not create tables

    for args in (["head"], ["models", "list"], ["models", "create", "intruder"]):
        denied = _cli(_with(url, "schema=team_b"), *args, code=5)
        assert "permission denied for schema team_b" in denied.stderr
