"""
Hostile input at the event-log level (issue 7, point 4): the rows of docs/security.md that
need no registry.

Each test names its row of the catalogue in its docstring.
"""

from __future__ import annotations

import logging
import traceback

import pytest

from eventreg import BackendUnavailable, EventregError, InvalidEvent, open_log
from eventreg.log import NewEvent

SQL_TEXTS = [
    "x'; DROP TABLE eventreg_events; --",
    "Robert'); DELETE FROM eventreg_head; --",
    '" OR 1=1 --',
    "%' OR '%'='",
    "\\'; SELECT pg_sleep(10); --",
    "`; TRUNCATE eventreg_events; #",
]


@pytest.mark.parametrize("text", SQL_TEXTS, ids=range(len(SQL_TEXTS)))
def test_sql_text_in_stream_ids_types_actors_and_payloads_is_just_data(any_log_url, text):
    """
    Row "SQL-ish text in names": stored and read back byte for byte; no statement runs.
    """
    with open_log(any_log_url) as log:
        log.append("model:ok", [NewEvent("e", {"i": 0})])
        stream = f"model:{text}"[:200]
        log.append(stream, [NewEvent(text[:200], {text: text, "nested": [text]}, actor=text[:200],
                                     metadata={"note": text})])
        (event,) = log.read_stream(stream)
        assert (event.stream_id, event.type, event.actor) == (stream, text[:200], text[:200])
        assert event.payload == {text: text, "nested": [text]} and event.metadata == {"note": text}
        assert [e.stream_id for e in log.read_all()] == ["model:ok", stream]
        assert log.read_stream("model:x") == [] and log.stream_version("model:%") == 0
        assert log.head().position == 2
        assert log.verify().ok


SURROGATE = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")  # what os.fsdecode gives for Latin-1 bytes


@pytest.mark.parametrize("where", [
    "stream", "type", "actor", "payload-value",
    "payload-key",
    "metadata", "bytes-value"])
def test_non_utf8_input_is_refused_and_nothing_is_written(any_log_url, where):
    """
    Row "non-UTF-8 bytes": a clear InvalidEvent, the log unchanged.
    """
    stream, kwargs = "model:ok", {}
    event = NewEvent("e", {"v": 1})
    if where == "stream":
        stream = f"model:{SURROGATE}"
    elif where == "type":
        event = NewEvent(SURROGATE, {})
    elif where == "actor":
        event = NewEvent("e", {}, actor=SURROGATE)
    elif where == "payload-value":
        event = NewEvent("e", {"v": SURROGATE})
    elif where == "payload-key":
        event = NewEvent("e", {SURROGATE: 1})
    elif where == "metadata":
        event = NewEvent("e", {}, metadata={"m": [SURROGATE]})
    else:
        event = NewEvent("e", {"v": b"caf\xe9"})
    with open_log(any_log_url) as log:
        log.append("model:ok", [NewEvent("first", {})])
        with pytest.raises(InvalidEvent):
            log.append(stream, [NewEvent("fine", {}), event], **kwargs)
        assert [e.type for e in log.read_all()] == ["first"]
        assert log.verify().ok


def test_an_oversized_event_is_refused_cleanly_and_one_under_the_limit_is_stored(any_log_url):
    """
    Row "huge values at the log level": one event over the log's limit
    (``MAX_EVENT_BYTES``, 8 MiB of JSON — under MariaDB's default 16 MB
    ``max_allowed_packet``) is refused as invalid input naming the size, on every backend,
    with nothing written; an event just under the limit is stored exactly.
    """
    from eventreg.log import MAX_EVENT_BYTES

    too_big = "é" * (12 * 2**20)  # 24 MB of UTF-8
    fits = "é" * ((MAX_EVENT_BYTES - 100) // 2)
    with open_log(any_log_url) as log:
        log.append("model:ok", [NewEvent("first", {})])
        with pytest.raises(InvalidEvent, match="limit") as info:
            log.append("model:big", [NewEvent("big", {"blob": too_big})])
        assert len(str(info.value)) < 2000, "the error message echoes the payload"
        assert [e.type for e in log.read_all()] == ["first"]
        log.append("model:big", [NewEvent("big", {"blob": fits})])
        (stored,) = log.read_stream("model:big")
        assert stored.payload["blob"] == fits
        log.append("model:ok", [NewEvent("after", {})])
        assert log.verify().ok


# -- URLs with passwords ----------------------------------------------------------------------

SECRET = "hunter2-S3cr3t"


def _all_text(error: BaseException) -> str:
    """
    Everything a user could see of an exception: message, repr and the whole chained traceback.
    """
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


@pytest.mark.parametrize("url", [
    f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/test",
    f"mysql+pymysql://root:{SECRET}@127.0.0.1:1/test",
    f"postgresql://postgres:{SECRET}@no-such-host.invalid:5432/test",
], ids=["postgres-refused", "mysql-refused", "unresolvable-host"])
def test_a_password_is_never_echoed_when_the_server_is_unreachable(url, caplog):
    """
    Row "URLs with passwords": not in the message, repr, chained traceback or logs.
    """
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BackendUnavailable) as info:
        open_log(url, connect_args={"connect_timeout": 2})
    text = _all_text(info.value)
    assert SECRET not in text
    assert "127.0.0.1" in str(info.value) or "no-such-host.invalid" in str(info.value)
    assert SECRET not in caplog.text


def test_a_wrong_password_is_not_echoed_by_a_real_server(mysql_url, caplog):
    """
    Row "URLs with passwords": MariaDB refuses the login; the error does not repeat the password.
    """
    from sqlalchemy.engine import make_url

    caplog.set_level(logging.DEBUG)
    url = make_url(mysql_url).set(password=SECRET).render_as_string(hide_password=False)
    with pytest.raises(EventregError) as info:
        open_log(url)
    assert SECRET not in _all_text(info.value)
    assert SECRET not in caplog.text


def test_a_password_is_not_in_the_repr_of_an_open_log(postgres_url, caplog):
    """
    Row "URLs with passwords": the local server trusts 127.0.0.1, so the log opens with a
    password in its URL; ``repr``, ``url`` and errors raised later never show it.
    """
    from sqlalchemy.engine import make_url

    caplog.set_level(logging.DEBUG)
    url = make_url(postgres_url).set(password=SECRET).render_as_string(hide_password=False)
    with open_log(url) as log:
        log.append("model:a", [NewEvent("e", {})])
        assert SECRET not in repr(log) and SECRET not in str(log) and SECRET not in log.url
        with pytest.raises(EventregError) as info:
            log.append("model:a", [NewEvent("e", {})], expected_version=0)
        assert SECRET not in _all_text(info.value)
    assert SECRET not in caplog.text
