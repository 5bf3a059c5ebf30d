"""
The buffered metric logger of a training loop, compact metric histories, and snapshots
written while a registry is open.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import pytest

import eventreg
from eventreg import snapshots
from eventreg.domain.events import MetricPoint
from eventreg.domain.state import MetricHistory
from eventreg.errors import InvalidTransition, ValidationError
from eventreg.log import now


def test_buffered_points_are_written_in_few_appends_and_read_back_in_order(reg):
    with reg.start_run("train", code=None) as run:
        before = reg.position
        with run.metric_buffer(max_points=1000) as buffer:
            for step in range(600):
                buffer.log_metrics({"loss": 1 / (step + 1), "acc": step / 600}, step=step)
            assert len(buffer) == 200  # two flushes of 500+ points wrote the rest
        appended = reg.position - before
    assert appended <= 3
    history = reg.get_run_metric_history(run.id, "loss")
    assert [p.step for p in history] == list(range(600))
    assert history[10].value == 1 / 11
    assert reg.get_run(run.id).metrics["acc"] == 599 / 600


def test_ending_the_run_writes_what_the_buffer_holds(reg):
    with reg.start_run("train", code=None) as run:
        buffer = run.metric_buffer()
        buffer.log_metric("loss", float("nan"), step=1)
        buffer.log_metric("loss", 2, step=2)
    points = reg.get_run_metric_history(run.id, "loss")
    assert math.isnan(points[0].value) and points[1].value == 2.0
    assert reg.get_run(run.id).status == "FINISHED"


def test_buffered_points_keep_the_time_they_were_measured(reg):
    from datetime import datetime, timedelta, timezone

    then = datetime(2021, 3, 3, 14, 0, tzinfo=timezone.utc)
    with reg.start_run("import", code=None) as run:
        with run.metric_buffer() as buffer:
            for step in range(3):
                buffer.log_metrics({"loss": 1 / (step + 1)}, step=step, timestamp=then + timedelta(seconds=step))
            with pytest.raises(ValidationError, match="timezone-aware"):
                buffer.log_metrics({"loss": 0.1}, step=3, timestamp=datetime(2021, 3, 3))
    history = reg.get_run_metric_history(run.id, "loss")
    assert [(p.step, p.timestamp) for p in history] == [(s, then + timedelta(seconds=s)) for s in range(3)]


def test_a_time_bound_flushes_on_the_next_call(reg):
    run = reg.start_run("train", code=None)
    buffer = run.metric_buffer(max_seconds=1e-9)
    buffer.log_metric("loss", 1.0, step=0)
    assert len(buffer) == 0
    assert len(reg.get_run_metric_history(run.id, "loss")) == 1


def test_invalid_input_keeps_nothing_of_the_call(reg):
    run = reg.start_run("train", code=None)
    buffer = run.metric_buffer()
    with pytest.raises(ValidationError):
        buffer.log_metrics({"ok": 1.0, "bad": "text"}, step=0)
    with pytest.raises(ValidationError):
        buffer.log_metric("", 1.0)
    with pytest.raises(ValidationError):
        run.metric_buffer(max_points=0)
    assert len(buffer) == 0


def test_a_failed_flush_keeps_the_points_for_another_try(reg):
    run = reg.start_run("train", code=None)
    buffer = run.metric_buffer()
    run.end()
    buffer.log_metric("loss", 1.0)
    with pytest.raises(InvalidTransition):
        buffer.flush()
    assert len(buffer) == 1


def test_points_still_buffered_are_written_when_the_process_exits(tmp_path):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    script = textwrap.dedent(f"""
        import eventreg
        reg = eventreg.open({url!r}, artifacts="memory://x", actor="bob")
        run = reg.start_run("train", code=None)
        buffer = run.metric_buffer(max_points=10_000, max_seconds=3600)
        for step in range(1234):
            buffer.log_metric("loss", step * 0.5, step=step)
        print(run.id)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    run_id = done.stdout.strip()
    with eventreg.open(url, artifacts="memory://x", actor="bob") as reg:
        assert [p.step for p in reg.get_run_metric_history(run_id, "loss")] == list(range(1234))


def test_metric_history_is_a_sequence_of_points():
    stamp = now()
    points = [MetricPoint(key="loss", value=v, step=s, timestamp=stamp)
              for v, s in ((1.0, None), (float("nan"), 3), (0.5, -(2**63) + 1))]
    history = MetricHistory.of("loss", points)
    assert len(history) == 3 and list(history) == history[:] and history == points
    assert history[0] == points[0] and history[-1] == points[2] and history[1].step == 3
    assert history[0].step is None and history[0].timestamp == stamp
    with pytest.raises(IndexError):
        history[3]
    assert history == MetricHistory.of("loss", points)
    assert history != MetricHistory.of("loss", points[:2])


def test_long_histories_round_trip_through_a_snapshot(reg):
    with reg.start_run("train", code=None) as run:
        with run.metric_buffer() as buffer:
            for step in range(500):
                buffer.log_metric("loss", step / 7, step=step)
    state = reg._read_state()
    loaded = snapshots.load(snapshots.dump(state, "1"), "1")
    assert loaded == state
    assert loaded.runs[run.id].metric_summaries["loss"].count == 500  # the points stay in the log
    assert [p.value for p in reg.get_run_metric_history(run.id, "loss")] == [step / 7 for step in range(500)]


def test_a_snapshot_is_saved_while_open_after_many_events(sqlite_url):
    with eventreg.open(sqlite_url, artifacts="memory://x", actor="a", snapshot_every=2) as reg:
        reg.create_model("m")
        for _ in range(25):
            reg.register_version("m", code=None)
        snapshot = reg.log.latest_snapshot()
        assert snapshot is not None and snapshot.position >= 20
    with eventreg.open(sqlite_url, artifacts="memory://x", actor="a") as again:
        assert again.get_version("m").version == 25


def test_a_query_sees_what_another_handle_appended_since(sqlite_url):
    # SQLite answers "anything new?" from PRAGMA data_version; a write elsewhere must show
    with eventreg.open(sqlite_url, artifacts="memory://x", actor="a") as first, \
            eventreg.open(sqlite_url, artifacts="memory://x", actor="b") as second:
        first.create_model("m")
        first.register_version("m", code=None)
        first.promote("m", 1, alias="production")
        assert second.get_version("m", "production").version == 1
        assert second.get_version("m", "production").version == 1  # nothing new: no read
        first.register_version("m", code=None)
        first.promote("m", 2, alias="production")
        assert second.get_version("m", "production").version == 2
        assert second.log.unchanged_since(second.position)
        assert not second.log.unchanged_since(second.position - 1)
