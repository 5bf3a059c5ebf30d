"""
A version's mappings are kept encoded in the projection (eventreg/domain/packed.py) and
read back as the same dicts: equality, repr and searches see no difference.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import attrs

from eventreg.domain.entities import MetricStats, VersionState
from eventreg.domain.packed import stored, unpack

_AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _version(**changes):
    fields = dict(model="m", version=1, label=None, description=None, params={"lr": 0.1, "layers": [1, 2]},
                  metrics={"acc": 0.9}, metric_summaries={"acc": MetricStats(0.9, 3, 10, 0.9, 0.9, 1, 10, 2, 2)},
                  tags={"stage": "candidate"}, artifacts={}, model_info=None, data={"uri": "s3://d"}, code=None,
                  environment={}, architecture=None, run_id=None, parents=(), created_at=_AT, updated_at=_AT,
                  actor="me", position=1)
    fields.update(changes)
    return VersionState(**fields)


def test_fields_read_back_equal_and_fresh():
    version = _version()
    assert version.params == {"lr": 0.1, "layers": [1, 2]} and version.tags == {"stage": "candidate"}
    assert version.metric_summaries == {"acc": MetricStats(0.9, 3, 10, 0.9, 0.9, 1, 10, 2, 2)}
    assert version.environment == {} and version.model_info is None
    version.params["lr"] = 5  # a fresh dict each read: the version does not change
    assert version.params["lr"] == 0.1
    assert type(stored(version, "params")) is bytes and unpack(stored(version, "params")) == version.params


def test_equality_and_repr_are_the_fields():
    assert _version() == _version()
    assert _version() != _version(tags={"stage": "production"})
    assert _version(params={"x": math.nan}) == _version(params={"x": math.nan})  # NaN equals NaN, as before
    assert "params={'lr': 0.1, 'layers': [1, 2]}" in repr(_version())
    assert attrs.asdict(_version())["tags"] == {"stage": "candidate"}


def test_values_msgpack_would_change_are_kept_as_they_are():
    odd = {"big": 2**70, "pair": (1, 2), "nested": {"t": (3,)}}
    version = _version(params=odd, data={"surrogate": "\ud800"})
    assert version.params == odd and type(version.params["pair"]) is tuple
    assert version.data == {"surrogate": "\ud800"}


def test_summaries_of_many_points_and_of_nan_survive():
    many = MetricStats(1.0, 7, 50, 0.5, 2.0, 8, 60, 3, 9)
    only_nan = MetricStats(math.nan, -(2**63), 5, math.nan, math.nan, 1, 5, 4, 4)
    version = _version(metric_summaries={"a": many, "b": only_nan})
    assert version.metric_summaries == {"a": many, "b": only_nan}
    summaries = version.metric_summaries
    summaries["a"].count = 9  # changed on a fresh copy, then stored: as the fold does
    version.metric_summaries = summaries
    assert version.metric_summaries["a"].count == 9


def test_every_mapping_of_a_version_is_stored_encoded():
    version = _version(artifacts={}, environment={"python": "3.11"})
    for name in ("params", "metrics", "metric_summaries", "tags", "artifacts", "data", "environment"):
        assert type(stored(version, name)) is bytes, name
