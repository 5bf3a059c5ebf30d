"""
The tracking events MLflow's tracking API needs, in eventreg's own API, on every backend:
renaming an experiment or a run, and setting a run's status after it ended. Each test
reopens the log (and replays it, from a snapshot and without one, and copies it), so what
it checks was folded from the stored events.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import eventreg
from eventreg.domain.state import fold
from eventreg.errors import AlreadyExists, InvalidTransition, NotFound, ValidationError


def _open(url, tmp_path):
    return eventreg.open(url, artifacts=f"file://{tmp_path / 'artifacts'}", actor="alice")


def test_renaming_an_experiment_keeps_its_number_runs_and_history(any_log_url, tmp_path):
    with _open(any_log_url, tmp_path) as reg:
        churn = reg.create_experiment("churn", tags={"team": "growth"})
        run = reg.start_run("churn", code=None, capture="off")
        run.end()
        before = reg.head().position
        renamed = reg.rename_experiment("churn", "churn-2024")
        assert (renamed.id, renamed.name, renamed.run_ids) == (churn.id, "churn-2024", (run.id,))
        assert renamed.updated_at > renamed.created_at
        reg.set_experiment_tag("churn-2024", "stage", "pilot")  # the new name is the experiment now
        again = reg.create_experiment("churn")  # the old name is free again
        reg.start_run("churn", code=None, capture="off").end()
        reg.save_snapshot()
    with _open(any_log_url, tmp_path) as reg:
        found = {e.name: e for e in reg.list_experiments()}
        assert found["churn-2024"].id == churn.id and found["churn"].id == again.id
        assert found["churn-2024"].tags == {"team": "growth", "stage": "pilot"}
        assert [r.id for r in reg.search_runs("churn-2024")] == [run.id]
        assert reg.get_run(run.id).experiment == "churn-2024"
        assert len(reg.search_runs("churn")) == 1
        then = reg.as_of(before)  # time travel: before the rename it had its old name
        assert [e.name for e in then.list_experiments()] == ["churn"]
        assert then.get_run(run.id).experiment == "churn"
        assert "experiment.renamed" in [e.type for e in reg.events()]
        assert reg.verify().ok
        assert fold(reg.log.read_all()) == reg._state  # a replay from the start agrees with the snapshot


def test_an_experiment_rename_is_refused_when_it_cannot_be_done(memory_url, tmp_path):
    with _open(memory_url, tmp_path) as reg:
        reg.create_experiment("a")
        reg.create_experiment("b")
        reg.start_run(code=None, capture="off").end()  # creates Default
        with pytest.raises(AlreadyExists, match="'b' already exists"):
            reg.rename_experiment("a", "b")
        with pytest.raises(InvalidTransition, match="Default experiment cannot be renamed"):
            reg.rename_experiment("Default", "c")
        with pytest.raises(ValidationError, match="default experiment's name"):
            reg.rename_experiment("a", "Default")
        with pytest.raises(NotFound):
            reg.rename_experiment("nope", "c")
        with pytest.raises(ValidationError):
            reg.rename_experiment("a", "x/y")
        reg.delete_experiment("a")
        with pytest.raises(InvalidTransition, match="is deleted"):
            reg.rename_experiment("a", "c")
        assert reg.rename_experiment("b", "b").name == "b"  # its own name: nothing recorded
        assert "experiment.renamed" not in [e.type for e in reg.events()]


def test_a_run_is_renamed_and_its_status_set_after_it_ended(any_log_url, tmp_path):
    ended = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    with _open(any_log_url, tmp_path) as reg:
        run = reg.start_run("e", name="first", code=None, capture="off")
        run.end("FINISHED")
        reg.rename_run(run.id, "second")
        reg.set_run_status(run.id, "RUNNING")  # MLflow restarts a run
        run.log_param("lr", 0.1)  # running again: it takes events
        reg.set_run_status(run.id, "KILLED", ended_at=ended)
        with pytest.raises(InvalidTransition, match="has ended"):
            run.log_param("epochs", 3)  # eventreg's own handle: a finished run's record is complete
        late = eventreg.ActiveRun(reg, run.id, "e", after_end=True)  # MLflow's: it logs after the end
        late.log_metrics({"loss": 0.5}, step=1)
        late.set_tag("note", "late")
        copy_url = f"sqlite:///{tmp_path / 'copy.db'}"
    eventreg.copy(any_log_url, copy_url, progress=False)
    for url in (any_log_url, copy_url):
        with _open(url, tmp_path) as reg:
            found = reg.get_run(run.id)
            assert (found.name, found.status, found.ended_at) == ("second", "KILLED", ended)
            assert found.params == {"lr": 0.1} and found.metrics == {"loss": 0.5} and found.tags["note"] == "late"
            assert [e.type for e in reg.events() if e.type.startswith("run.") and e.type.endswith(
                ("renamed", "status_set"))] == ["run.renamed", "run.status_set", "run.status_set"]
            assert reg.verify().ok


def test_run_status_and_name_are_checked(memory_url, tmp_path):
    with _open(memory_url, tmp_path) as reg:
        run = reg.start_run("e", code=None, capture="off")
        with pytest.raises(ValidationError, match="status must be one of"):
            reg.set_run_status(run.id, "DONE")
        with pytest.raises(ValidationError, match="timezone-aware"):
            reg.set_run_status(run.id, "FINISHED", ended_at=datetime(2024, 1, 1))
        with pytest.raises(NotFound):
            reg.rename_run("0" * 32, "x")
        reg.delete_run(run.id)
        with pytest.raises(InvalidTransition, match="is deleted"):
            reg.rename_run(run.id, "x")
        with pytest.raises(InvalidTransition, match="is deleted"):
            reg.set_run_status(run.id, "FINISHED")


def test_the_concepts_page_lists_every_event_type():
    from pathlib import Path

    text = Path(__file__).resolve().parents[1].joinpath("docs", "concepts.md").read_text()
    table = text.split("| group | types |", 1)[1].split("\n\n", 1)[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2] for line in table.splitlines()
            if line.startswith("| `") and line.count("|") == 3}
    listed = set()
    for groups, types in rows.items():
        names = [g.strip(" `") for g in groups.split(",")]
        parts = [p.split(",") for p in types.split(";")] if len(names) > 1 else [types.split(",")]
        for group, part in zip(names, parts):
            listed.update(f"{group}.{t.strip(' `')}" for t in part if t.strip(" `"))
    assert listed == set(eventreg.event_types())
