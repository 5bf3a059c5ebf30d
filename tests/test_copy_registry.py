"""
Backend swap at the registry level: after ``eventreg.copy`` the copy is the same registry.

Every ordered pair among sqlite, postgresql, mysql, file and memory: the copy's
projection equals the source's, its history and time travel answer the same, and
``verify()`` passes on it (also against the source's published head).
"""

from __future__ import annotations

import itertools

import pytest

import eventreg
from tests.fixtures.services import LOG_URL_FIXTURES

PAIRS = list(itertools.permutations(LOG_URL_FIXTURES, 2))


def _populate(reg) -> None:
    reg.create_model("iris", description="flowers", tags={"team": "vision"})
    with reg.start_run("iris-exp", code=None) as run:
        run.log_params({"n_estimators": 100, "depth": None})
        for step in range(3):
            run.log_metric("loss", 1 / (step + 1), step=step)
    reg.register_version("iris", run=run.id, metrics={"acc": float("nan")}, label="v1.0",
                         data={"uri": "s3://d/iris.csv", "digest": "sha256:" + "0" * 64}, code=None)
    reg.register_version("iris", params={"lr": 0.5}, metrics={"acc": 0.97}, tags={"ü": "ß"}, code=None)
    reg.promote("iris", 1, alias="production", reason="launch")
    reg.promote("iris", 2, alias="production", reason="better")
    reg.rollback("iris", alias="production", reason="regression")
    reg.deprecate_version("iris", 2, reason="regressed")
    reg.register_version("cats", code=None)
    reg.archive_model("cats", reason="unused")


@pytest.mark.parametrize("src_fixture,dst_fixture", PAIRS,
                         ids=[f"{a.removesuffix('_url')}-to-{b.removesuffix('_url')}" for a, b in PAIRS])
def test_copied_registry_has_the_same_projection_and_verifies(request, tmp_path, src_fixture, dst_fixture):
    src = request.getfixturevalue(src_fixture)
    dst = request.getfixturevalue(dst_fixture)
    artifacts = f"file://{tmp_path / 'artifacts'}"
    with eventreg.open(src, artifacts=artifacts, actor="alice") as source:
        _populate(source)
        head = source.head()
        state = source._read_state()
        history = source.history()
        middle = source.as_of(head.position // 2)._state

        result = eventreg.copy(src, dst, progress=False)
        assert (result.copied, result.skipped, result.head) == (head.position, 0, head)

        with eventreg.open(dst, artifacts=artifacts, actor="bob", snapshot_every=0) as copy:
            assert copy._read_state() == state
            assert copy.head() == head
            report = copy.verify(expected_head=head)
            assert report.ok and report.checked == head.position
            assert copy.history() == history
            assert copy.as_of(head.position // 2)._state == middle
            assert copy.get_alias("iris", "production").actor == "alice"
            copy.promote("iris", 1, alias="staging")  # the copy is a working registry
            assert copy.verify(expected_head=head).ok
