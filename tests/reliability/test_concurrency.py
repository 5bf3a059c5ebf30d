"""
Concurrent writers (issue 7, point 1): many processes, one registry, nothing lost.

Worker processes (tests/reliability/workers.py) run random commands — register a
version, log a metric, promote, roll back, set a tag — on three shared models. Every
command carries a unique operation id into the event it writes (a tag, a metric key, a
reason), and every worker writes down what each call returned or raised. Afterwards:

- every call that returned success is in the log exactly once, by its actor; every
  call that raised left nothing;
- each model's versions are 1..N with no gap or duplicate, and each successful
  ``register_version`` got the number the log shows;
- every alias history is a clean chain (each move's ``previous`` is the holder before
  it; a rollback returns to an earlier holder);
- ``verify()`` is ok;
- each worker's own projection equals a fresh fold of the log up to its position.

Short form: 4 processes x 40 commands on the SQL servers and SQLite, 2 x 40 on the
file backend. ``--soak``: 8 x 250 (2 x 250 on the file backend), as issue 7 asks.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict

import pytest

from eventreg import open_log
from eventreg.domain.state import RegistryState, apply
from tests.reliability.workers import MODELS, projection_text, spawn

OP = re.compile(r"\bw\d+-\d+\b")
ALLOWED_ERRORS = {"NotFound", "InvalidTransition"}  # no version / no earlier holder yet


@pytest.fixture(params=["postgres_url", "mysql_url", "sqlite_url", "file_url"],
                ids=lambda name: name.removesuffix("_url"))
def shared_url(request):
    return request.getfixturevalue(request.param)


def fold(log, upto: int) -> RegistryState:
    """
    A fresh projection of the log's first ``upto`` events.
    """
    state = RegistryState()
    for event in log.read_all(limit=upto):
        apply(state, event)
    return state


def run_workers(url: str, artifacts: str, tmp_path, processes: int, ops: int, seed: int = 0):
    """
    Start the workers, let them go at once, wait; return each worker's lines.
    """
    go = tmp_path / "go"
    outs = [tmp_path / f"worker-{w}.jsonl" for w in range(processes)]
    procs = [spawn("registry_worker", url, artifacts, w, ops, seed * 1000 + w, str(outs[w]), str(go))
             for w in range(processes)]
    deadline = time.monotonic() + 120
    while not all(o.exists() and o.stat().st_size for o in outs):
        dead = [p for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            for p in procs:
                p.kill()
            pytest.fail(f"a worker did not start: {dead[0].communicate()[1].decode()[-2000:] if dead else 'timeout'}")
        time.sleep(0.02)
    go.touch()
    started = time.monotonic()
    for p in procs:
        _, err = p.communicate(timeout=3600)
        assert p.returncode == 0, err.decode()[-3000:]
    elapsed = time.monotonic() - started
    results = []
    for w, out in enumerate(outs):
        lines = [json.loads(line) for line in out.read_text().splitlines()[1:]]
        assert lines and lines[-1].get("final"), f"worker {w} did not finish"
        results.append(lines)
    return results, elapsed


def check_outcomes(log, results) -> dict[str, int]:
    events = list(log.read_all())
    by_op: dict[str, list] = defaultdict(list)
    for event in events:
        for op in set(OP.findall(json.dumps(event.payload))):
            by_op[op].append(event)
    counts = defaultdict(int)
    for w, lines in enumerate(results):
        for line in lines[:-1]:
            op, found = line["op"], by_op.get(line["op"], [])
            if not line["ok"]:
                assert line["error"] in ALLOWED_ERRORS, f"{op} raised {line['error']}: {line['message']}"
                assert not found, f"{op} raised {line['error']} but left {len(found)} event(s)"
                counts["raised"] += 1
                continue
            if line["command"] == "promote" and not found:
                # promoting the version that already holds the alias records nothing
                assert line["version"] == line["requested"], f"{op}: promote returned success, recorded nothing"
                counts["no-op"] += 1
                continue
            if line["command"] in ("promote", "rollback") and line["reason"] != op:
                counts["returned-another-move"] += 1  # see test_promote_returns_its_own_move
            assert len(found) == 1, f"{op} ({line['command']}) returned success; the log has it {len(found)} times"
            (event,) = found
            assert event.actor == f"worker-{w}"
            assert event.payload["model"] == line["model"]
            if line["command"] == "register":
                assert event.payload["version"] == line["version"], f"{op}: returned a number the log does not show"
            counts[line["command"]] += 1
    # version numbers 1..N per model, in log order
    versions = defaultdict(list)
    for event in events:
        if event.type == "version.registered":
            versions[event.payload["model"]].append(event.payload["version"])
    for model, numbers in versions.items():
        assert numbers == list(range(1, len(numbers) + 1)), f"{model}: versions {numbers[:20]}..."
    # alias histories are clean chains
    for model in MODELS:
        holder, earlier = None, []
        for event in events:
            if event.type.startswith("alias.") and event.payload["model"] == model:
                assert event.payload["previous"] == holder, f"{model}: alias chain broken at {event.position}"
                if event.type == "alias.rolled_back":
                    assert event.payload["version"] in earlier, f"{model}: rollback to a non-holder"
                earlier.append(holder)
                holder = event.payload["version"]
    counts["events"] = len(events)
    counts["versions"] = sum(len(v) for v in versions.values())
    return dict(counts)


def test_concurrent_writers_lose_nothing(shared_url, tmp_path, budget, reliability_report):
    file_backend = shared_url.startswith("file")
    processes = 2 if file_backend else budget.count(4, 8)
    ops = budget.count(40, 250)
    artifacts = f"file://{tmp_path / 'artifacts'}"
    results, elapsed = run_workers(shared_url, artifacts, tmp_path, processes, ops)
    with open_log(shared_url) as log:
        counts = check_outcomes(log, results)
        assert log.verify().ok
        for w, lines in enumerate(results):
            final = lines[-1]
            assert final["projection"] == projection_text(fold(log, final["position"])), (
                f"worker {w}'s projection at position {final['position']} differs from a fresh fold")
        assert counts.get("register", 0) > 0 and counts.get("promote", 0) > 0
    reliability_report("concurrent-writers", backend=shared_url.split(":", 1)[0], processes=processes,
                       ops_per_process=ops, seconds=round(elapsed, 1), **counts)


class InterleavingLog:
    """
    A real log through which another writer gets in at the worst moments: just before
    and just after this handle's next append (fault injection, not a stand-in).
    """

    def __init__(self, log, before, after) -> None:
        self._log, self._before, self._after = log, before, after

    def __getattr__(self, name):
        return getattr(self._log, name)

    def append(self, *args, **kwargs):
        before, self._before = self._before, None
        if before:
            before()
        recorded = self._log.append(*args, **kwargs)
        after, self._after = self._after, None
        if after:
            after()
        return recorded


def test_promote_returns_its_own_move_when_others_write_in_between(sqlite_url, tmp_path):
    """
    Another writer appends just before (to another model) and just after (a move of the
    same alias) this promote's own event: the call still returns the move it recorded.
    """
    import eventreg
    from eventreg.registry import Registry

    artifacts = f"file://{tmp_path / 'artifacts'}"
    with eventreg.open(sqlite_url, artifacts=artifacts, actor="other", snapshot_every=0) as other:
        for _ in range(3):
            other.register_version("m", code=None)
        log = InterleavingLog(
            open_log(sqlite_url),
            before=lambda: other.create_model("unrelated"),
            after=lambda: other.promote("m", 3, alias="production", reason="theirs"),
        )
        reg = Registry(log, artifacts=artifacts, actor="me", snapshot_every=0)
        try:
            reg.get_model("m")  # caught up
            mine = reg.promote("m", 2, alias="production", reason="mine")
        finally:
            reg.close()
        history = other.alias_holders("m", "production")
    assert [(a.version, a.reason) for a in history] == [(2, "mine"), (3, "theirs")]
    assert (mine.version, mine.reason, mine.actor) == (2, "mine", "me")
