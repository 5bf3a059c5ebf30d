"""
Metric histories read from the log on demand (the projection keeps only summaries), on
every backend: step ranges, ``as_of``, chart buckets with exact counts, the cache growing
with the stream, NaN, snapshots of the older format that held every point.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

import eventreg
from eventreg import MetricBucket, NewEvent, ValidationError
from eventreg import snapshots
from eventreg.domain import codec
from eventreg.domain.codec import decode_recorded
from eventreg.domain.state import fold
from eventreg.metric_reads import cache_for

BACKENDS = ["memory", "sqlite_url", "file_url", "postgres_url", "mysql_url"]
LEGACY = Path(__file__).parent / "fixtures" / "snapshot_v4"


@pytest.fixture(params=BACKENDS, ids=["memory", "sqlite", "file", "postgresql", "mariadb"])
def reg(request):
    url = "memory://" if request.param == "memory" else request.getfixturevalue(request.param)
    with eventreg.open(url, artifacts="memory://metric-reads", actor="alice", snapshot_every=0) as registry:
        yield registry


def _values(points):
    return [(p.step, p.value) for p in points]


def _nan_equal(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def _log_run(reg, steps, *, start=0):
    with reg.start_run("exp", code=None) as run:
        for step in range(start, start + steps):
            run.log_metrics({"loss": 100.0 - step, "acc": step / 10}, step=step)
    return run.id


def test_a_run_history_is_read_from_the_log_with_step_ranges(reg):
    run_id = _log_run(reg, 60)
    with reg.start_run("exp", code=None) as other:  # another run's points never mix in
        other.log_metric("loss", -1.0, step=5)
    history = reg.get_run_metric_history(run_id, "loss")
    assert _values(history) == [(s, 100.0 - s) for s in range(60)]
    assert all(p.key == "loss" and p.timestamp.tzinfo is not None for p in history)
    assert _values(reg.get_run_metric_history(run_id, "loss", min_step=10, max_step=12)) == [
        (10, 90.0), (11, 89.0), (12, 88.0)]
    assert [s for s, _ in _values(reg.get_run_metric_history(run_id, "acc", min_step=55))] == list(range(55, 60))
    assert [s for s, _ in _values(reg.get_run_metric_history(run_id, "acc", max_step=2))] == [0, 1, 2]
    assert reg.get_run_metric_history(run_id, "acc", min_step=100) == []
    assert reg.get_run_metric_history(other.id, "loss")[0].value == -1.0
    with pytest.raises(ValidationError, match="min_step"):
        reg.get_run_metric_history(run_id, "loss", min_step="ten")
    with pytest.raises(eventreg.NotFound):
        reg.get_run_metric_history(run_id, "missing")


def test_a_history_as_of_a_past_moment_holds_only_the_points_seen_then(reg):
    with reg.start_run("exp", code=None) as run:
        for step in range(10):
            run.log_metric("loss", float(step), step=step)
        middle = reg.position
        reg.get_run_metric_history(run.id, "loss")  # cached up to here
        for step in range(10, 15):
            run.log_metric("loss", float(step), step=step)
    past = reg.as_of(middle)
    assert [p.step for p in past.get_run_metric_history(run.id, "loss")] == list(range(10))
    assert [p.step for p in reg.get_run_metric_history(run.id, "loss")] == list(range(15))  # extended
    assert [p.step for p in past.get_run_metric_history(run.id, "loss")] == list(range(10))  # a prefix of it
    assert sum(b.count for b in past.get_run_metric_buckets(run.id, "loss", buckets=3)) == 10


def test_the_cache_extends_a_history_with_points_logged_after_it_was_read(reg):
    run = reg.start_run("exp", code=None)
    run.log_metric("loss", 1.0, step=0)
    assert _values(reg.get_run_metric_history(run.id, "loss")) == [(0, 1.0)]
    held = cache_for(reg.log).held
    run.log_metric("loss", 0.5, step=1)
    run.log_metric("acc", 0.7, step=1)
    assert _values(reg.get_run_metric_history(run.id, "loss")) == [(0, 1.0), (1, 0.5)]
    assert cache_for(reg.log).held == held + 1, "only the new point was read"
    run.end()
    [bucket] = reg.get_run_metric_buckets(run.id, "loss", buckets=1)
    assert (bucket.count, bucket.min, bucket.max, bucket.last) == (2, 0.5, 1.0, 0.5)


def test_buckets_hold_exact_counts_min_max_and_last_with_nan_left_out(reg):
    values = [((i * 37) % 101) / 10 for i in range(1000)]
    values[500] = float("nan")
    values[998] = -7.0
    with reg.start_run("exp", code=None) as run:
        with run.metric_buffer(max_points=100) as buffer:  # 100 points an event
            for i, value in enumerate(values):
                buffer.log_metric("x", value, step=i)
    buckets = reg.get_run_metric_buckets(run.id, "x", buckets=7)
    assert len(buckets) == 7 and sum(b.count for b in buckets) == 1000
    for b, bucket in enumerate(buckets):
        lo, hi = 1000 * b // 7, 1000 * (b + 1) // 7
        real = [v for v in values[lo:hi] if not math.isnan(v)]
        assert bucket == MetricBucket(min_step=lo, max_step=hi - 1, count=hi - lo, min=min(real), max=max(real),
                                      last=values[hi - 1])
    ranged = reg.get_run_metric_buckets(run.id, "x", buckets=2, min_step=990, max_step=999)
    assert [(b.min_step, b.max_step, b.count) for b in ranged] == [(990, 994, 5), (995, 999, 5)]
    assert ranged[1].min == -7.0
    assert len(reg.get_run_metric_buckets(run.id, "x", buckets=5000)) == 1000, "one bucket a point at most"
    with pytest.raises(ValidationError, match="buckets"):
        reg.get_run_metric_buckets(run.id, "x", buckets=0)


def _expected_buckets(points, count):
    # what a chart needs, said plainly: ``count`` runs of consecutive points as even as can be
    count = min(count, len(points))
    made = []
    for b in range(count):
        part = points[len(points) * b // count:len(points) * (b + 1) // count]
        steps = [step for step, _ in part if step is not None]
        real = [value for _, value in part if not math.isnan(value)]
        made.append(MetricBucket(min_step=min(steps, default=None), max_step=max(steps, default=None),
                                 count=len(part), min=min(real, default=math.nan),
                                 max=max(real, default=math.nan), last=part[-1][1]))
    return made


def test_buckets_of_unordered_steps_missing_steps_nan_and_infinities_are_those_the_points_give(reg):
    import random

    rng = random.Random(21)
    special = [math.nan, math.inf, -math.inf, 0.0, -1e308, 5e-324]
    points = []
    for i in range(700):
        value = rng.choice(special) if i % 9 == 0 or 300 <= i < 340 else rng.uniform(-5, 5)
        step = None if i % 13 == 0 or 500 <= i < 520 else rng.randrange(0, 1000) if i > 600 else i
        points.append((step, value))
    for i in range(300, 340):  # a stretch of NaN only: buckets whose min and max are NaN
        points[i] = (points[i][0], math.nan)
    with reg.start_run("exp", code=None) as run:
        with run.metric_buffer(max_points=64) as buffer:
            for step, value in points:
                buffer.log_metric("x", value, step=step)
    for count in (1, 3, 7, 50, 699, 700, 5000):
        got = reg.get_run_metric_buckets(run.id, "x", buckets=count)
        assert got == _expected_buckets(points, count), count
    stepped = [(step, value) for step, value in points if step is not None and 100 <= step <= 400]
    assert reg.get_run_metric_buckets(run.id, "x", buckets=9, min_step=100, max_step=400) == \
        _expected_buckets(stepped, 9)


def test_a_summary_holds_latest_min_max_count_and_the_stream_range(reg):
    with reg.start_run("exp", code=None) as run:
        for step, value in enumerate([3.0, float("nan"), 1.0, 2.0]):
            run.log_metric("loss", value, step=step)
        run.log_metric("other", 9.0)
    summary = reg.get_run_metric_summary(run.id, "loss")
    assert (summary.key, summary.value, summary.step, summary.min, summary.max, summary.count) == (
        "loss", 2.0, 3, 1.0, 3.0, 4)
    history = reg.get_run_metric_history(run.id, "loss")
    assert summary.timestamp == history[-1].timestamp == summary.last_timestamp
    events = reg.log.read_stream(f"run:{run.id}")
    holding = [e.stream_version for e in events
               if e.type == "run.metrics_logged" and decode_recorded(e).points[0].key == "loss"]
    assert (summary.first_stream_version, summary.last_stream_version) == (holding[0], holding[-1])
    reg.register_version("iris", metrics={"f1": 0.5}, code=None)
    assert reg.get_metric_summary("iris", 1, "f1").count == 1
    assert reg.as_of(reg.position).get_run_metric_summary(run.id, "loss") == summary
    with pytest.raises(eventreg.NotFound):
        reg.get_metric_summary("iris", 1, "loss")


def test_a_metric_of_only_nan_has_nan_bounds(reg):
    with reg.start_run("exp", code=None) as run:
        run.log_metric("bad", float("nan"), step=1)
        run.log_metric("bad", float("nan"))
    [bucket] = reg.get_run_metric_buckets(run.id, "bad", buckets=1)
    assert (bucket.count, bucket.min_step, bucket.max_step) == (2, 1, 1)
    assert math.isnan(bucket.min) and math.isnan(bucket.max) and math.isnan(bucket.last)
    assert [p.step for p in reg.get_run_metric_history(run.id, "bad")] == [1, None]
    assert math.isnan(reg.get_run(run.id).metrics["bad"])


def test_version_histories_share_the_model_stream_without_mixing(reg):
    reg.register_version("iris", metrics={"f1": 0.5}, code=None)
    reg.register_version("iris", metrics={"f1": 0.1}, code=None)
    for step in range(1, 6):
        reg.log_metric("iris", 1, "f1", 0.5 + step / 10, step=step)
        reg.log_metric("iris", 2, "f1", 0.1 * step, step=step)
    reg.log_metric("iris", 1, "f1", float("nan"), step=6)
    history = reg.get_metric_history("iris", 1, "f1")
    assert [p.step for p in history] == [None, 1, 2, 3, 4, 5, 6] and math.isnan(history[-1].value)
    assert _values(reg.get_metric_history("iris", 2, "f1", min_step=4)) == [(4, 0.1 * 4), (5, 0.1 * 5)]
    [bucket] = reg.get_metric_buckets("iris", 1, "f1", buckets=1)
    assert (bucket.count, bucket.min, bucket.max, bucket.min_step, bucket.max_step) == (7, 0.5, 1.0, 1, 6)
    assert math.isnan(reg.get_version("iris", 1).metrics["f1"])
    with pytest.raises(eventreg.NotFound):
        reg.get_metric_history("iris", 2, "nope")


def test_a_version_from_a_run_copies_the_runs_histories(reg):
    run_id = _log_run(reg, 30)
    version = reg.register_version("iris", run=run_id, code=None)
    assert _values(reg.get_metric_history("iris", version.version, "acc")) == [(s, s / 10) for s in range(30)]
    assert version.metrics == {"loss": 71.0, "acc": 2.9}


def test_histories_and_summaries_survive_a_snapshot(reg):
    if not reg.log.persistent:
        pytest.skip("a memory log is gone once closed: nothing to reopen")
    run_id = _log_run(reg, 20)
    reg.register_version("iris", run=run_id, code=None)
    reg.save_snapshot()
    url, state = reg.log.url, reg._state
    with eventreg.open(url, artifacts="memory://metric-reads", actor="bob", snapshot_every=0) as again:
        assert again._snapshot_position > 0 and again._state == state
        assert again.get_run_metric_history(run_id, "loss") == reg.get_run_metric_history(run_id, "loss")
        assert len(again.get_metric_history("iris", 1, "loss")) == 20


def test_a_snapshot_stays_small_however_many_points(tmp_path):
    sizes = []
    with eventreg.open(f"sqlite:///{tmp_path / 'r.db'}", artifacts="memory://s", actor="a", snapshot_every=0) as reg:
        run = reg.start_run("exp", code=None)
        for batch in (100, 2000):
            for step in range(batch):
                run.log_metrics({"loss": 1.0 / (step + 1), "acc": 0.5}, step=step)
            sizes.append(len(snapshots.dump(reg._state, "x")))
    assert sizes[1] < sizes[0] + 32, "the points stay in the log: 20 times as many, a few digits more"


def test_a_snapshot_of_the_format_holding_every_point_is_refolded(tmp_path):
    shutil.copy(LEGACY / "log.db", tmp_path / "log.db")
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with eventreg.open(url, artifacts="memory://legacy", actor="a", snapshot_every=0) as reg:
        old = reg.log.latest_snapshot()
        assert old.data.startswith(b"eventreg-snapshot/4\n") and snapshots.load(old.data, eventreg.__version__) is None
        assert reg._state == fold(reg.log.read_all())
        [run] = reg.search_runs()
        loss = reg.get_run_metric_history(run.id, "loss")
        assert [p.step for p in loss] == list(range(51)) and math.isnan(loss[-1].value)
        assert [p.value for p in reg.get_metric_history("iris", 1, "f1")] == [0.9, 0.95]
        assert len(reg.get_metric_history("iris", 1, "loss")) == 51
        reg.save_snapshot()  # written in the current format
    with eventreg.open(url, artifacts="memory://legacy", actor="a", snapshot_every=0) as again:
        assert again._snapshot_position > old.position
        assert again.get_run_metric_history(run.id, "acc")[-1].value == 49 / 50


def test_a_history_is_a_sequence_of_points_kept_in_columns(reg):
    with reg.start_run("exp", code=None) as run:
        run.log_metric("loss", 0.5, step=1)
        run.log_metric("loss", 0.25, step=2)
        run.log_metric("acc", 0.9)  # another key, in the same stream
        run.log_metric("loss", 0.125)  # no step
    history = reg.get_run_metric_history(run.id, "loss")
    assert isinstance(history, eventreg.MetricHistory) and len(history) == 3
    assert list(history.values) == [0.5, 0.25, 0.125] and list(history.steps)[:2] == [1, 2]
    assert [p.step for p in history] == [1, 2, None] and history[-1].value == 0.125
    assert history == list(history) and history[1:] == list(history)[1:]
    assert history + [] == list(history) and [] + history == list(history)
    assert history[0].timestamp.tzinfo is not None and history[0].key == "loss"
    assert list(history.stamps) == [round(p.timestamp.timestamp() * 1e6) for p in history]


def test_a_history_read_after_buckets_has_the_timestamps_a_first_read_gives(reg):
    # buckets read the points without their timestamps; a history read after them reads
    # them again, timestamps and all: the same times as a history read first, also
    # across batches of points logged one by one (a shared timestamp) and buffered (one each)
    with reg.start_run("exp", code=None) as run:
        with run.metric_buffer(max_points=1000, max_seconds=3600) as buffer:
            for step in range(40):
                buffer.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric("loss", 0.01, step=40)
        with run.metric_buffer(max_points=1000, max_seconds=3600) as buffer:
            for step in range(41, 60):
                buffer.log_metric("loss", 0.001, step=step)
    cache_for(reg.log).clear()
    first = [(p.step, p.value, p.timestamp) for p in reg.get_run_metric_history(run.id, "loss")]
    cache_for(reg.log).clear()
    assert sum(b.count for b in reg.get_run_metric_buckets(run.id, "loss", buckets=7)) == 60
    after = [(p.step, p.value, p.timestamp) for p in reg.get_run_metric_history(run.id, "loss")]
    assert after == first and len(first) == 60
    assert [t for _, _, t in first] == sorted(t for _, _, t in first)
    assert all(t.tzinfo is not None for _, _, t in first)


def test_buckets_of_a_history_grown_out_of_step_order_bound_by_the_steps_held(reg):
    # a history read in step order, then grown by a point with an earlier step: its
    # buckets' step bounds are the least and greatest steps in each, no longer the ends
    with reg.start_run("exp", code=None) as run:
        for step in range(10):
            run.log_metric("loss", float(step), step=step)
        assert [(b.min_step, b.max_step) for b in reg.get_run_metric_buckets(run.id, "loss", buckets=2)] == \
            [(0, 4), (5, 9)]
        run.log_metric("loss", -1.0, step=2)
        assert [(b.min_step, b.max_step, b.count, b.min) for b in reg.get_run_metric_buckets(
            run.id, "loss", buckets=2)] == [(0, 4, 5, 0.0), (2, 9, 6, -1.0)]
        assert [(b.min_step, b.max_step) for b in reg.get_run_metric_buckets(
            run.id, "loss", buckets=2, min_step=5)] == [(5, 6), (7, 9)]
        run.log_metric("loss", 5.0)  # no step: outside every step range, no bound of its bucket
        last = reg.get_run_metric_buckets(run.id, "loss", buckets=2)[-1]
    assert (last.min_step, last.max_step, last.count, last.last) == (2, 9, 6, 5.0)


def _one(step, value):
    return MetricBucket(min_step=step, max_step=step, count=1, min=value, max=value, last=value)


def test_a_one_point_metric_has_the_bucket_its_points_give(reg):
    # a metric of one point is answered from its summary: the same bucket as reading it
    with reg.start_run("exp", code=None) as run:
        run.log_metric("acc", 0.75, step=3)
        run.log_metric("bare", 2.0)
        run.log_metric("nan", float("nan"), step=1)
    assert reg.get_run_metric_buckets(run.id, "acc", buckets=5) == [_one(3, 0.75)]
    assert reg.get_run_metric_buckets(run.id, "acc", buckets=5, min_step=3, max_step=3) == [
        _one(3, 0.75)]
    assert reg.get_run_metric_buckets(run.id, "acc", buckets=5, min_step=4) == []
    assert reg.get_run_metric_buckets(run.id, "bare", buckets=5) == [_one(None, 2.0)]
    assert reg.get_run_metric_buckets(run.id, "bare", buckets=5, max_step=10) == []
    [nan] = reg.get_run_metric_buckets(run.id, "nan", buckets=5)
    assert (nan.min_step, nan.count) == (1, 1) and math.isnan(nan.min) and math.isnan(nan.max) and math.isnan(nan.last)
    assert len(reg.get_run_metric_history(run.id, "acc")) == 1


def test_points_stored_as_lists_before_columns_read_with_those_after(reg):
    # a log written before schema version 2 of the metric events holds a list of point
    # objects per event: histories and buckets read them with the columns written after
    stamp = "2026-01-01T00:00:00.000000Z"
    with reg.start_run("exp", code=None) as run:
        run.log_metric("loss", 0.0, step=0)
        listed = [{"key": "loss", "value": float(step), "step": step, "timestamp": stamp} for step in (1, 2, 3)]
        listed.insert(1, {"key": "acc", "value": 0.5, "step": 3, "timestamp": "2026-01-01T00:00:01.000000Z"})
        reg.log.append(f"run:{run.id}", [NewEvent("run.metrics_logged", {"run_id": run.id, "points": listed},
                                                  schema_version=1)])
        run.log_metrics({"loss": 4.0, "acc": 0.6}, step=4)
    for cold in (True, False):
        if cold:
            cache_for(reg.log).clear()
        buckets = reg.get_run_metric_buckets(run.id, "loss", buckets=2)
        assert [(b.count, b.min, b.max, b.min_step, b.max_step) for b in buckets] == [
            (2, 0.0, 1.0, 0, 1), (3, 2.0, 4.0, 2, 4)]
        history = reg.get_run_metric_history(run.id, "loss")
        assert _values(history) == [(step, float(step)) for step in range(5)]
        assert [p.timestamp for p in history][1:4] == [codec.parse_timestamp(stamp)] * 3
        acc = reg.get_run_metric_history(run.id, "acc")
        assert _values(acc) == [(3, 0.5), (4, 0.6)] and acc[0].timestamp.second == 1
    summary = reg.get_run_metric_summary(run.id, "loss")
    assert (summary.count, summary.min, summary.max, summary.value) == (5, 0.0, 4.0, 4.0)
    assert fold(reg.log.read_all()).runs[run.id].metric_summaries == reg._state.runs[run.id].metric_summaries
