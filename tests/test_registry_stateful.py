"""
Random command sequences: after every step the live projection equals a fresh fold of
the log, a refused command wrote nothing, and versions and aliases match a simple model.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import eventreg
from eventreg import EventregError
from eventreg.domain.state import fold

MODELS = st.sampled_from(["iris", "wine", "digits"])
ALIASES = st.sampled_from(["production", "staging"])
LABELS = st.none() | st.sampled_from(["v1", "v2", "best", "production"])
KEYS = st.sampled_from(["accuracy", "f1", "loss"])
VALUES = st.floats(allow_nan=True, allow_infinity=False, width=32)
REASONS = st.none() | st.text(max_size=10)


class RegistryMachine(RuleBasedStateMachine):
    url_kind = "memory"

    @initialize()
    def open_registry(self):
        if self.url_kind == "memory":
            url = f"memory://stateful-{uuid.uuid4().hex}"
        else:
            url = f"sqlite:///{self.tmp_dir}/{uuid.uuid4().hex}.db"
        self.registry = eventreg.open(url, artifacts="memory://stateful-artifacts", actor="hypothesis",
                                      snapshot_every=0)
        self.versions: dict[str, int] = {}
        self.stacks: dict[tuple[str, str], list[int]] = {}
        self.runs: list[str] = []

    def teardown(self):
        self.registry.close()

    def _call(self, command, *args, **kwargs):
        """
        Run a command; if it is refused, nothing may have been written.
        """
        before = self.registry.log.head()
        try:
            return command(*args, **kwargs)
        except EventregError:
            assert self.registry.log.head() == before
            return None

    # -- commands -----------------------------------------------------------------------

    @rule(model=MODELS, description=REASONS)
    def create_model(self, model, description):
        self._call(self.registry.create_model, model, description=description)

    @rule(model=MODELS, label=LABELS, key=KEYS, value=VALUES, n=st.integers(0, 3))
    def register_version(self, model, label, key, value, n):
        result = self._call(self.registry.register_version, model, label=label, params={"n": n},
                            metrics={key: value}, code=None)
        if result is not None:
            self.versions[model] = self.versions.get(model, 0) + 1
            assert result.version == self.versions[model]

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), alias=ALIASES, reason=REASONS, force=st.booleans())
    def promote(self, data, alias, reason, force):
        model = data.draw(st.sampled_from(sorted(self.versions)))
        version = data.draw(st.integers(1, self.versions[model]))
        stack = self.stacks.setdefault((model, alias), [])
        result = self._call(self.registry.promote, model, version, alias=alias, reason=reason, force=force)
        if result is not None and (not stack or stack[-1] != version):
            stack.append(version)

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), alias=ALIASES, reason=REASONS, force=st.booleans())
    def rollback(self, data, alias, reason, force):
        model = data.draw(st.sampled_from(sorted(self.versions)))
        stack = self.stacks.get((model, alias), [])
        result = self._call(self.registry.rollback, model, alias=alias, reason=reason, force=force)
        if result is not None:
            assert len(stack) >= 2 and result.version == stack[-2] and result.previous == stack[-1]
            stack.pop()
        elif len(stack) < 2:
            pass  # refused: nothing to roll back to
        else:
            target = self.registry.get_version(model, stack[-2])
            archived = self.registry.get_model(model).status == "ARCHIVED"
            assert not force and (target.status != "READY" or archived)

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), reason=REASONS, archive=st.booleans())
    def retire(self, data, reason, archive):
        model = data.draw(st.sampled_from(sorted(self.versions)))
        version = data.draw(st.integers(1, self.versions[model]))
        command = self.registry.archive_version if archive else self.registry.deprecate_version
        self._call(command, model, version, reason=reason)

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), key=KEYS, value=VALUES, step=st.none() | st.integers(0, 5))
    def log_metric(self, data, key, value, step):
        model = data.draw(st.sampled_from(sorted(self.versions)))
        version = data.draw(st.integers(1, self.versions[model]))
        self._call(self.registry.log_metric, model, version, key, value, step=step)

    @rule(model=MODELS, key=KEYS, value=st.text(max_size=5), delete=st.booleans())
    def model_tag(self, model, key, value, delete):
        if delete:
            self._call(self.registry.delete_model_tag, model, key)
        else:
            self._call(self.registry.set_model_tag, model, key, value)

    @rule(model=MODELS)
    def archive_model(self, model):
        self._call(self.registry.archive_model, model)

    @rule(key=KEYS, value=VALUES, fail=st.booleans())
    def run(self, key, value, fail):
        try:
            with self.registry.start_run(experiment="exp") as run:
                run.log_param("n", 1)
                run.log_metric(key, value, step=1)
                if fail:
                    raise RuntimeError("boom")
        except RuntimeError:
            pass
        self.runs.append(run.id)
        assert self.registry.get_run(run.id).status == ("FAILED" if fail else "FINISHED")

    @precondition(lambda self: self.runs)
    @rule(data=st.data(), model=MODELS)
    def register_from_run(self, data, model):
        run_id = data.draw(st.sampled_from(self.runs))
        result = self._call(self.registry.register_version, model, run=run_id, code=None)
        if result is not None:
            self.versions[model] = self.versions.get(model, 0) + 1
            assert result.version == self.versions[model] and result.run_id == run_id

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def live_projection_equals_a_fresh_fold(self):
        assert fold(self.registry.log.read_all()) == self.registry._state

    @invariant()
    def versions_and_aliases_match_the_model(self):
        for model, count in self.versions.items():
            assert self.registry.get_model(model).latest_version == count
        for (model, alias), stack in self.stacks.items():
            if stack:
                holder = self.registry.get_version(model, alias)
                assert holder.version == stack[-1]


RegistryMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRegistryMemory = RegistryMachine.TestCase


class SQLiteRegistryMachine(RegistryMachine):
    url_kind = "sqlite"


SQLiteRegistryMachine.TestCase.settings = settings(
    max_examples=8, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture
def _sqlite_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(SQLiteRegistryMachine, "tmp_dir", str(tmp_path), raising=False)


@pytest.mark.usefixtures("_sqlite_dir")
class TestRegistrySQLite(SQLiteRegistryMachine.TestCase):
    pass
