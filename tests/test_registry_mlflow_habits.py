"""
What an MLflow user types works: run.info.*, start_run(run_name=...), log_model(...,
registered_model_name=...), list and dict params, search results as DataFrames, and a
re-run whose label exists stops before anything is logged.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest

import eventreg
from eventreg.domain.state import fold
from eventreg.errors import AlreadyExists, MissingDriver, ValidationError


def test_run_info_has_mlflows_names(reg):
    before = datetime.now(timezone.utc).timestamp() * 1000
    with reg.start_run("train", run_name="rf-100", code=None) as run:
        info = run.info
        assert (info.run_id, info.run_name, info.experiment_id, info.status) == (run.id, "rf-100", "train", "RUNNING")
        assert before - 1000 <= info.start_time <= datetime.now(timezone.utc).timestamp() * 1000
        assert info.end_time is None
        run.log_param("lr", 0.1)
    done = reg.get_run(run.id)
    assert done.info.status == "FINISHED" and done.info.end_time >= done.info.start_time
    assert done.data.params == {"lr": 0.1} and done.name == "rf-100"
    with pytest.raises(ValidationError, match="differ"):
        reg.start_run("train", name="a", run_name="b", code=None)


def test_log_model_with_registered_model_name_registers_a_version_from_the_run(reg):
    with reg.start_run("train", code=None) as run:
        run.log_params({"depth": 3})
        run.log_metric("accuracy", 0.93)
        version = run.log_model({"weights": [1, 2, 3]}, registered_model_name="iris")
    assert (version.name, version.version, version.run_id) == ("iris", 1, run.id)
    assert version.params == {"depth": 3} and version.metrics == {"accuracy": 0.93}
    assert reg.load_model("models:/iris/1") == {"weights": [1, 2, 3]}
    with reg.start_run("train", code=None) as run:
        assert run.log_model({"weights": []}) is None  # no model named: nothing registered
    assert len(reg.list_versions("iris")) == 1


def test_list_and_dict_params_are_kept_as_json_values(url, tmp_path):
    arts = f"file://{tmp_path / 'a'}"
    with eventreg.open(url, artifacts=arts, actor="alice") as reg:
        with reg.start_run("train", code=None) as run:
            run.log_params({"layers": (64, 32), "optimizer": {"name": "adam", "betas": [0.9, 0.999]}})
            run.log_params({"layers": [64, 32]})  # the same value again: allowed
            with pytest.raises(ValidationError, match="cannot change"):
                run.log_params({"layers": [64]})
        version = reg.register_version("iris", run=run, code=None, params={"grid": [[1, 2], [3]]})
        expected = {"layers": [64, 32], "optimizer": {"betas": [0.9, 0.999], "name": "adam"}}
        assert reg.get_run(run.id).params == expected
        assert version.params == {**expected, "grid": [[1, 2], [3]]}
        version.params["layers"].append(1)  # a copy: the registry is not changed through a view
        assert reg.get_version("iris", 1).params["layers"] == [64, 32]
        assert fold(reg.log.read_all()) == reg._state  # the log folds to what the command applied
        for bad in ({"x": {1, 2}}, {"x": [object()]}, {"x": ["a" * 7000]}):
            with pytest.raises(ValidationError):
                reg.register_version("iris", params=bad, code=None)
    if not url.startswith("memory"):
        with eventreg.open(url, artifacts=arts, actor="bob") as again:
            assert again.get_version("iris", 1).params["optimizer"] == {"betas": [0.9, 0.999], "name": "adam"}


def test_search_results_become_dataframes(reg):
    pandas = pytest.importorskip("pandas", reason="pandas is optional; the DataFrame output needs it")
    for depth, accuracy in ((3, 0.9), (5, 0.95)):
        with reg.start_run("train", run_name=f"d{depth}", code=None) as run:
            run.log_params({"depth": depth})
            run.log_metric("accuracy", accuracy)
        reg.register_version("iris", run=run, code=None, label=f"d{depth}")
    runs = reg.search_runs("train", "metrics.accuracy > 0.8", order_by="metrics.accuracy DESC")
    assert isinstance(runs, list) and [r.name for r in runs] == ["d5", "d3"]
    frame = runs.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame["run_name"]) == ["d5", "d3"] and list(frame["metrics.accuracy"]) == [0.95, 0.9]
    assert list(frame["params.depth"]) == [5, 3] and {"run_id", "status", "start_time"} <= set(frame.columns)
    versions = reg.search_versions("model = 'iris'", output="pandas")
    assert list(versions["version"]) == [1, 2] and list(versions["label"]) == ["d3", "d5"]
    assert list(versions["metrics.accuracy"]) == [0.9, 0.95]
    assert list(reg.search_runs("train", "metrics.accuracy > 2", output="pandas").columns)[:2] == ["run_id",
                                                                                                     "experiment_id"]
    with pytest.raises(ValidationError, match="output"):
        reg.search_versions(output="polars")


def test_without_pandas_the_error_says_how_to_install_it(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.modules["pandas"] = None  # as if it were not installed
        import eventreg
        from eventreg.errors import MissingDriver
        reg = eventreg.open("memory://", artifacts="file://{tmp_path}/a", actor="alice")
        reg.register_version("iris", code=None)
        assert len(reg.search_versions()) == 1  # lists need no pandas
        try:
            reg.search_versions(output="pandas")
        except MissingDriver as e:
            print(e)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install pandas" in done.stdout
    assert issubclass(MissingDriver, ImportError)


def test_a_rerun_whose_label_exists_stops_before_anything_is_logged(reg):
    with reg.start_run("train", code=None, registered_model_name="iris", label="v1") as run:
        run.log_metric("accuracy", 0.9)
        first = run.log_model({"w": 1})  # registered under the run's model and label
    assert (first.version, first.label) == (1, "v1")
    head = reg.head()
    with pytest.raises(AlreadyExists) as caught:
        reg.start_run("train", code=None, registered_model_name="iris", label="v1")
    message = str(caught.value)
    assert "'v1' is already version 1 of 'iris'" in message
    assert "pick a new label" in message and "version 2" in message and "get_version('iris', 'v1')" in message
    assert reg.head() == head  # no experiment, no run, nothing
    with reg.start_run("train", code=None) as run:
        with pytest.raises(AlreadyExists, match="already version 1"):
            run.log_model({"w": 2}, registered_model_name="iris", label="v1")
        assert reg.get_run(run.id).model_info is None  # refused before the model was stored
    with pytest.raises(AlreadyExists, match="pick a new label"):
        reg.register_version("iris", code=None, label="v1")
    with pytest.raises(ValidationError, match="registered_model_name"):
        reg.start_run("train", code=None, label="v9")
