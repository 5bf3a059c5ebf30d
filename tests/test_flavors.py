"""
Model flavors: sklearn objects through joblib (or pickle), custom flavors, and loading
only what the artifact store has verified.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import pytest

from eventreg.artifacts import Manifest
from eventreg.errors import ArtifactIntegrityError, ConfigurationError, ValidationError
from eventreg.flavors import (
    _FLAVORS,
    detect_flavor,
    fetch_model,
    flavors,
    load_model,
    register_flavor,
    save_model,
    store_model,
)

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is in the test extra (eventreg[sklearn])")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

#: How many times an UnpickleSpy was unpickled (in this process).
UNPICKLED = []


class UnpickleSpy:
    """
    A picklable object that records every time it is unpickled.
    """

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __setstate__(self, state):
        UNPICKLED.append(state["payload"][:8])
        self.__dict__.update(state)


@pytest.fixture
def iris_model():
    X, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=300).fit(X, y), X


@pytest.fixture
def restore_flavors():
    saved = dict(_FLAVORS)
    yield
    _FLAVORS.clear()
    _FLAVORS.update(saved)


def test_sklearn_model_round_trip_with_joblib(iris_model, tmp_path):
    model, X = iris_model
    info = save_model(model, tmp_path / "m")
    assert info["flavor"] == "sklearn" and info["serializer"] == "joblib"
    assert info["file"] == "model.joblib" and (tmp_path / "m" / "model.joblib").is_file()
    assert info["class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert info["libraries"]["scikit-learn"] == sklearn.__version__
    assert "numpy" in info["libraries"] and "joblib" in info["libraries"]
    json.dumps(info)  # recordable in an event
    loaded = load_model(tmp_path / "m", info)
    assert (loaded.predict(X) == model.predict(X)).all()


def test_an_import_name_maps_to_the_distribution_that_installs_it():
    # scikit-learn's wheel ships no top_level.txt: Python 3.10's packages_distributions()
    # found nothing for "sklearn", so neither the flavor nor the environment named its version
    from eventreg.environment import capture_environment, distributions_of

    assert distributions_of("sklearn") == ("scikit-learn",)
    assert distributions_of("numpy") == ("numpy",) and distributions_of("no_such_module") == ()
    assert capture_environment(("sklearn",))["packages"]["sklearn"] == sklearn.__version__


def test_sklearn_falls_back_to_pickle_without_joblib(iris_model, tmp_path, monkeypatch):
    model, X = iris_model
    monkeypatch.setitem(sys.modules, "joblib", None)  # as if joblib were not installed
    info = save_model(model, tmp_path / "m")
    assert info["serializer"] == "pickle" and info["file"] == "model.pkl"
    assert (load_model(tmp_path / "m", info).predict(X) == model.predict(X)).all()


def test_other_objects_use_the_pickle_flavor(tmp_path):
    info = save_model({"weights": [1, 2, 3]}, tmp_path / "m")
    assert info["flavor"] == "pickle" and info["serializer"] == "pickle"
    assert load_model(tmp_path / "m", info) == {"weights": [1, 2, 3]}
    with pytest.raises(ValidationError, match="cannot save"):
        save_model(lambda x: x, tmp_path / "lambda", flavor="pickle")


def test_register_a_custom_flavor(tmp_path, restore_flavors):
    class Tokenizer:
        def __init__(self, vocab):
            self.vocab = vocab

    def save(obj, dest: Path):
        (dest / "vocab.json").write_text(json.dumps(obj.vocab))
        return {"file": "vocab.json", "serializer": "json"}

    def load(src: Path, info):
        return Tokenizer(json.loads((src / info["file"]).read_text()))

    register_flavor("tokenizer", lambda obj: isinstance(obj, Tokenizer), save, load)
    assert flavors()[0] == "tokenizer"
    assert detect_flavor(Tokenizer(["a"])) == "tokenizer"
    info = save_model(Tokenizer(["a", "b"]), tmp_path / "t")
    assert info["flavor"] == "tokenizer" and info["serializer"] == "json"
    assert load_model(tmp_path / "t", info).vocab == ["a", "b"]


def test_unknown_flavor_errors(tmp_path):
    with pytest.raises(ValidationError, match="unknown model flavor 'nope'"):
        save_model(object(), tmp_path, flavor="nope")
    with pytest.raises(ConfigurationError, match="'keras' is not registered"):
        load_model(tmp_path, {"flavor": "keras", "file": "m.keras"})
    with pytest.raises(ValidationError):
        register_flavor("", lambda o: True, lambda o, d: {}, lambda d, i: None)


def test_version_drift_warns(iris_model, tmp_path):
    model, _ = iris_model
    info = save_model(model, tmp_path / "m")
    info["libraries"]["scikit-learn"] = "0.0.1"
    with pytest.warns(UserWarning, match=r"scikit-learn 0\.0\.1 \(now "):
        load_model(tmp_path / "m", info)


def test_store_and_fetch_a_model_on_every_store(any_artifacts, iris_model):
    model, X = iris_model
    store = any_artifacts.open()
    manifest, info = store_model(store, model, "model")
    assert list(manifest) == ["model/model.joblib"] and info["path"] == "model"
    # what a VersionRegistered event would carry, read back from JSON
    recorded = json.loads(json.dumps({"artifacts": manifest.to_json(), "flavor": info}))
    loaded = fetch_model(store, Manifest.from_json(recorded["artifacts"]), recorded["flavor"])
    assert (loaded.predict(X) == model.predict(X)).all()


def test_a_changed_byte_is_caught_before_unpickling(any_artifacts):
    store = any_artifacts.open()
    manifest, info = store_model(store, UnpickleSpy(b"weights!" * 1000), "model", flavor="pickle")
    entry = manifest["model/model.pkl"]
    UNPICKLED.clear()
    assert fetch_model(store, manifest, info).payload.startswith(b"weights!")
    assert UNPICKLED == [b"weights!"]
    key = store.object_key(entry.sha256)
    data = bytearray(store.fs.cat_file(key))
    data[-50] ^= 0x01  # inside the payload: still a valid pickle, different bytes
    store.fs.pipe_file(key, bytes(data))
    store.fs.invalidate_cache()
    assert pickle.loads(bytes(data)).payload != b"weights!" * 1000  # it *would* unpickle
    UNPICKLED.clear()
    with pytest.raises(ArtifactIntegrityError) as info_:
        fetch_model(store, manifest, info)
    assert "model/model.pkl" in str(info_.value) and entry.sha256 in str(info_.value)
    assert UNPICKLED == []  # nothing was unpickled


def test_fetch_model_needs_files_under_its_path(file_artifacts, iris_model):
    store = file_artifacts.open()
    manifest, info = store_model(store, iris_model[0], "model")
    with pytest.raises(ValidationError, match="no files under 'other'"):
        fetch_model(store, manifest, {**info, "path": "other"})


def test_registry_end_to_end_on_every_store(any_artifacts, iris_model, tmp_path):
    """
    Issue 4's "done when": register a model folder on an object store, load it back,
    and a changed byte in storage is caught on load_model.
    """
    import eventreg

    model, X = iris_model
    (tmp_path / "model_dir").mkdir()
    (tmp_path / "model_dir" / "README.md").write_text("iris classifier\n")
    with eventreg.open(f"sqlite:///{tmp_path / 'reg.db'}", artifacts=any_artifacts.url,
                       artifact_options=any_artifacts.options, actor="ci") as reg:
        with reg.start_run() as run:
            run.log_model(model, "model")
        v = reg.register_version("iris", run=run.id, artifacts=tmp_path / "model_dir", code=None)
        assert set(v.artifacts) == {"model/model.joblib", "README.md"}
        assert (reg.load_model("models:/iris/1").predict(X) == model.predict(X)).all()
        out = reg.download("iris", 1, tmp_path / "out")
        assert (out / "README.md").read_text() == "iris classifier\n"
        store = reg._artifact_store()
        flip = v.artifacts["model/model.joblib"]
        key = store.object_key(flip.sha256)
        data = bytearray(store.fs.cat_file(key))
        data[len(data) // 2] ^= 0x01
        store.fs.pipe_file(key, bytes(data))
        store.fs.invalidate_cache()
        with pytest.raises(ArtifactIntegrityError, match="model/model.joblib"):
            reg.load_model("models:/iris/1")
