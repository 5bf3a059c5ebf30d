"""
Property test (issue 7, point 5): every backend gives the registry the same answers.

A Hypothesis state machine drives one registry per backend — memory (the reference),
SQLite, the file backend, PostgreSQL and MariaDB — with the same random commands in
lockstep. After every step:

- each command had the same outcome everywhere (the same result, or the same error);
- every backend's projection equals memory's (timestamps and hashes aside, which
  differ by the moment of writing);
- every backend's live projection equals a fresh fold of its own log (replaying the
  log gives the live state), also after closing and reopening through a snapshot.

Short form: 10 examples of up to 12 steps; ``--soak``: 200 examples of up to 40 steps.
"""

from __future__ import annotations

import math
import re
import uuid

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import eventreg
from eventreg import EventregError
from eventreg.domain.state import fold
from tests.reliability.workers import projection_text

MODELS = st.sampled_from(["iris", "wine"])
ALIASES = st.sampled_from(["production", "staging"])
INDEX = st.integers(min_value=1, max_value=6)
VALUES = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10**6, 10**6)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
TAG_KEYS = st.sampled_from(["team", "owner", "x'; DROP TABLE eventreg_events; --", "ünï"])

#: timestamps, hashes, and the microsecond times a metric summary keeps (16 digits from 2001 on)
_VOLATILE = re.compile(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"|"[0-9a-f]{64}"|(?<![\d.])1\d{15}(?![\d.])')


def comparable(state) -> str:
    """
    A projection's canonical text without the moment of writing (timestamps, hashes).
    """
    return _VOLATILE.sub('"~"', projection_text(state))


def _wipe_sql(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            for table in ("eventreg_events", "eventreg_snapshots", "eventreg_checkpoints"):
                if table in tables:
                    conn.execute(sa.text(f"DELETE FROM {table}"))
            if "eventreg_head" in tables:
                conn.execute(sa.text("UPDATE eventreg_head SET position = 0, hash = :h"), {"h": "0" * 64})
    finally:
        engine.dispose()


def _outcome(call):
    try:
        result = call()
    except EventregError as e:
        return ("error", type(e).__name__)
    return ("ok", _summary(result))


def _summary(result):
    if result is None:
        return None
    if hasattr(result, "aliases") and hasattr(result, "version"):  # ModelVersion
        return (result.name, result.version, result.label, result.status, tuple(sorted(result.aliases)),
                tuple(sorted(result.tags.items())))
    if hasattr(result, "previous") and hasattr(result, "action"):  # Alias
        return (result.model, result.name, result.version, result.previous, result.action, result.reason)
    if hasattr(result, "name"):  # Model
        return (result.name, tuple(sorted(getattr(result, "tags", {}).items())))
    return repr(result)


def make_machine(urls: dict[str, str], base: str, examples: int, steps: int):
    class SameEverywhere(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.tag = uuid.uuid4().hex[:8]
            self.urls = {
                "memory": f"memory://prop-{self.tag}",
                "sqlite": f"sqlite:///{base}/{self.tag}.db",
                "file": f"file://{base}/{self.tag}-log",
                **urls,
            }
            self.registries = {}
            self._open_all()

        def _open_all(self) -> None:
            for name, url in self.urls.items():
                self.registries[name] = eventreg.open(
                    url, artifacts=f"memory://prop-artifacts-{self.tag}", actor="hypothesis", snapshot_every=0)

        def _each(self, command) -> None:
            outcomes = {name: _outcome(lambda r=reg: command(r)) for name, reg in self.registries.items()}
            reference = outcomes["memory"]
            for name, outcome in outcomes.items():
                assert outcome == reference, f"{name}: {outcome} but memory: {reference}"

        @rule(model=MODELS, label=st.none() | st.sampled_from(["v1", "best"]), value=VALUES)
        def register(self, model, label, value):
            self._each(lambda r: r.register_version(model, code=None, label=label, metrics={"acc": value}))

        @rule(model=MODELS, index=INDEX, value=VALUES, step=st.none() | st.integers(0, 5))
        def log_metric(self, model, index, value, step):
            self._each(lambda r: r.log_metric(model, index, "loss", value, step=step))

        @rule(model=MODELS, index=INDEX, alias=ALIASES, reason=st.none() | TEXT)
        def promote(self, model, index, alias, reason):
            self._each(lambda r: r.promote(model, index, alias=alias, reason=reason))

        @rule(model=MODELS, alias=ALIASES)
        def rollback(self, model, alias):
            self._each(lambda r: r.rollback(model, alias=alias, reason="undo"))

        @rule(model=MODELS, index=INDEX, key=TAG_KEYS, value=TEXT)
        def tag(self, model, index, key, value):
            self._each(lambda r: r.set_version_tag(model, index, key, value))

        @rule(model=MODELS, index=INDEX)
        def deprecate(self, model, index):
            self._each(lambda r: r.deprecate_version(model, index, reason="old"))

        @rule()
        def reopen_through_a_snapshot(self):
            for reg in self.registries.values():
                reg.save_snapshot()
                reg.close()
            self._open_all()

        @invariant()
        def same_projection_everywhere_and_equal_to_a_replay(self):
            texts = {}
            for name, reg in self.registries.items():
                live = reg._read_state()
                assert projection_text(live) == projection_text(fold(reg.log.read_all())), (
                    f"{name}: live projection differs from replaying its log")
                texts[name] = comparable(live)
            for name, text in texts.items():
                assert text == texts["memory"], f"{name}'s projection differs from memory's"

        def teardown(self) -> None:
            for reg in self.registries.values():
                reg.close()
            for name in ("postgres", "mysql"):
                if name in self.urls:
                    _wipe_sql(self.urls[name])

    SameEverywhere.TestCase.settings = settings(
        max_examples=examples, stateful_step_count=steps, deadline=None,
        suppress_health_check=list(HealthCheck), derandomize=False, database=None)
    return SameEverywhere


def test_every_backend_gives_the_same_projection_as_memory(postgres_url, mysql_url, tmp_path, budget):
    examples, steps = budget.count(10, 200), budget.count(12, 40)
    machine = make_machine({"postgres": postgres_url, "mysql": mysql_url}, str(tmp_path), examples, steps)
    run_state_machine_as_test(machine, settings=machine.TestCase.settings)


def test_nan_survives_the_comparison():
    """
    The comparison itself treats NaN as equal to NaN (canonical text), so NaN metrics are tested.
    """
    from eventreg.domain.state import RegistryState

    a, b = RegistryState(), RegistryState()
    assert comparable(a) == comparable(b)
    assert projection_text(math.nan) == projection_text(float("nan"))
