"""
Reads a service (or the web UI) builds pages from: a model's history a page at a time,
the last change of a model, verified artifact files, the list of event types, and a URL
fit to show.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import eventreg
from eventreg import ArtifactIntegrityError, NotFound, ValidationError


@pytest.fixture
def reg(url, tmp_path):
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'artifacts'}", actor="alice") as registry:
        yield registry


def _model_with_history(reg) -> None:
    reg.create_model("iris", description="flowers")
    for i in range(5):
        reg.register_version("iris", params={"i": i}, metrics={"accuracy": 0.8 + i / 100}, code=None)
    reg.promote("iris", 2, alias="production", reason="first")
    reg.promote("iris", 4, alias="production", reason="better")
    reg.rollback("iris", alias="production", reason="regression")
    reg.register_version("other", code=None)  # another model's events never show in iris's pages


def test_pages_of_a_models_history_are_slices_of_the_whole(reg):
    _model_with_history(reg)
    whole = reg.history("iris")
    assert len(whole) == 9 and all(e.model == "iris" for e in whole)
    newest = whole[::-1]
    for limit in (1, 2, 4, 9, 20):
        for offset in (0, 1, 3, 8, 9, 15):
            assert reg.history("iris", limit=limit, offset=offset, newest_first=True) == newest[offset:offset + limit]
            assert reg.history("iris", limit=limit, offset=offset) == whole[offset:offset + limit]
    assert reg.history("iris", newest_first=True) == newest
    assert reg.history("iris", offset=7) == whole[7:]
    assert reg.history("iris", limit=0) == []


def test_filtered_and_whole_log_histories_page_the_same_way(reg):
    _model_with_history(reg)
    promotions = reg.history("iris", types=["alias.promoted", "alias.rolled_back"])
    assert [e.reason for e in promotions] == ["first", "better", "regression"]
    assert reg.history("iris", types=["alias.promoted", "alias.rolled_back"], limit=2, newest_first=True) \
        == promotions[::-1][:2]
    assert reg.history("iris", types=["alias.promoted", "alias.rolled_back"], limit=1, offset=1) == promotions[1:2]
    assert reg.history(actor="alice", limit=4, offset=3) == reg.history(actor="alice")[3:7]
    everything = reg.history()
    assert reg.history(limit=3, offset=2) == everything[2:5]
    assert reg.history(limit=3, newest_first=True) == everything[::-1][:3]


def test_a_page_of_the_past_stops_at_its_moment(reg):
    _model_with_history(reg)
    promoted = reg.history("iris", types="alias.promoted")[0].position
    then = reg.as_of(promoted)
    page = then.history("iris", limit=2, newest_first=True)
    assert page[0].position == promoted and page[0].type == "alias.promoted"
    assert all(e.position <= promoted for e in then.history("iris", offset=1))
    assert then.history("iris") == [e for e in reg.history("iris") if e.position <= promoted]


@pytest.mark.parametrize("offset", [-1, 1.5, "2", True])
def test_a_bad_offset_is_refused(reg, offset):
    reg.create_model("iris")
    with pytest.raises(ValidationError, match="offset"):
        reg.history("iris", offset=offset)


def test_last_change_is_the_newest_event_of_the_model_by_whoever_made_it(reg, url, tmp_path):
    _model_with_history(reg)
    change = reg.last_change("iris")
    assert (change.type, change.actor, change.reason) == ("alias.rolled_back", "alice", "regression")
    with eventreg.open(url, artifacts=f"file://{tmp_path / 'artifacts'}", actor="bob") as other:
        other.set_version_tag("iris", 1, "checked", "yes")
    change = reg.last_change("iris")
    assert (change.type, change.actor, change.version) == ("version.tag_set", "bob", 1)
    assert change.recorded_at >= reg.history("iris")[-2].recorded_at
    assert reg.as_of(change.position - 1).last_change("iris").type == "alias.rolled_back"
    with pytest.raises(NotFound):
        reg.last_change("no-such-model")


def test_an_artifact_opens_verified_and_a_changed_byte_is_refused(reg, tmp_path):
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x00\x01" * 1000)
    v = reg.register_version("iris", artifacts=weights, code=None)
    with reg.start_run() as run:
        run.log_artifact(weights, artifact_path="out")
    with reg.open_artifact("iris", v.version, "weights.bin") as f:
        assert f.read() == b"\x00\x01" * 1000
    with reg.open_run_artifact(run.id, "out/weights.bin") as f:
        assert f.read() == b"\x00\x01" * 1000
    with reg.as_of(reg.position).open_artifact("iris", "latest", "weights.bin") as f:
        assert f.read(2) == b"\x00\x01"
    with pytest.raises(NotFound, match="no artifact 'nope.bin'"):
        reg.open_artifact("iris", 1, "nope.bin")
    with pytest.raises(NotFound):
        reg.open_run_artifact("no-such-run", "out/weights.bin")
    [stored] = [p for p in Path(tmp_path / "artifacts").rglob("*") if p.is_file()
                and p.read_bytes() == b"\x00\x01" * 1000]
    stored.write_bytes(b"\x00\x02" + b"\x00\x01" * 999)
    with pytest.raises(ArtifactIntegrityError):
        reg.open_artifact("iris", 1, "weights.bin")
    with pytest.raises(ArtifactIntegrityError):
        reg.open_run_artifact(run.id, "out/weights.bin")


def test_event_types_are_the_names_history_accepts(reg):
    names = eventreg.event_types()
    assert names == sorted(names) and len(names) == len(set(names))
    assert {"model.created", "version.registered", "alias.promoted", "alias.rolled_back"} <= set(names)
    reg.create_model("iris")
    assert reg.history(types=names)  # every name is accepted
    with pytest.raises(ValidationError, match="unknown event type"):
        reg.history(types=["alias.teleported"])


@pytest.mark.parametrize(("given", "shown"), [
    ("postgresql+psycopg://ana:s3cret@db:5432/reg", "postgresql+psycopg://ana:***@db:5432/reg"),
    ("postgresql://ana@db/reg?password=s3cret&sslmode=require", "postgresql://ana@db/reg?password=***&sslmode=require"),
    ("s3://bucket/prefix?secret_key=s3cret&region=eu", "s3://bucket/prefix?secret_key=***&region=eu"),
    ("https://acct.blob.core.windows.net/c?sig=s3cret", "https://acct.blob.core.windows.net/c?sig=***"),
    ("sqlite:///./eventreg.db", "sqlite:///./eventreg.db"),
    ("sqlite:///x.db?token=s3cret", "sqlite:///x.db?token=***"),
    ("mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4"),
    ("http://[::1", "<unparseable URL>"),
])
def test_a_url_fit_to_show_has_no_secret(given, shown):
    assert eventreg.redact_url(given) == shown
    assert "s3cret" not in eventreg.redact_url(given)
