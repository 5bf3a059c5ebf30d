"""
reg.check: the CI/CD gate as an API call (``eventreg gate`` calls it).
"""

import math

import pytest

from eventreg import FilterSyntaxError, NotFound, ReadOnlyError, ValidationError


@pytest.fixture
def iris(reg):
    reg.register_version("iris", metrics={"accuracy": 0.90, "latency_ms": 12.0}, params={"n_estimators": "100"})
    reg.register_version("iris", metrics={"accuracy": 0.95, "latency_ms": 15.0})
    reg.register_version("iris", metrics={"accuracy": math.nan})
    return reg


def test_a_version_meeting_every_condition_passes_and_is_promoted(iris):
    iris.promote("iris", 1, alias="production")
    result = iris.check("iris", 2, require=["metrics.accuracy >= 0.9", "metrics.latency_ms < 20"],
                        better_than=["production:metrics.accuracy"], promote_to="production")
    assert result.ok and bool(result) and result.promoted_to == "production"
    assert [c.ok for c in result.checks] == [True, True, True]
    assert "version 1" in result.checks[2].note
    assert iris.get_version("iris", "production").version == 2
    assert "passed gate" in iris.alias_history("iris", "production")[-1].reason


def test_a_failed_condition_reports_it_and_promotes_nothing(iris):
    iris.promote("iris", 2, alias="production")
    result = iris.check("iris", 1, require=["metrics.accuracy >= 0.9"],
                        better_than=["production:metrics.accuracy"], promote_to="production")
    assert not result.ok and result.promoted_to is None
    assert [c.condition for c in result.failed] == ["metrics.accuracy > production"]
    assert iris.get_version("iris", "production").version == 2


def test_a_baseline_alias_nobody_holds_yet_passes_with_a_note(iris):
    result = iris.check("iris", 1, better_than=["production:metrics.accuracy"])
    assert result.ok and result.checks[0].note == "nothing holds production yet"


def test_nan_is_never_better_and_never_meets_a_threshold(iris):
    iris.promote("iris", 1, alias="production")
    result = iris.check("iris", 3, require=["metrics.accuracy >= 0"], better_than=["production:metrics.accuracy"])
    assert [c.ok for c in result.checks] == [False, False]


def test_refs_resolve_like_get_version(iris):
    iris.promote("iris", 2, alias="staging")
    assert iris.check("iris", "staging", require=["version = 2"]).version == 2
    assert iris.check("iris", "latest", require=["version = 3"]).ok


def test_bad_gates_are_clear_errors(iris):
    with pytest.raises(ValidationError, match="at least one condition"):
        iris.check("iris", 1)
    with pytest.raises(ValidationError, match="ALIAS:FIELD"):
        iris.check("iris", 1, better_than=["production"])
    with pytest.raises(FilterSyntaxError) as info:
        iris.check("iris", 1, require=["metrics.accuracy >>= 0.9"])
    assert info.value.column == 19
    with pytest.raises(NotFound):
        iris.check("irsi", 1, require=["version = 1"])
    with pytest.raises(NotFound):
        iris.check("iris", 9, require=["version = 1"])


def test_a_gate_can_be_asked_of_the_past_but_promotes_nothing_there(iris):
    before = iris.head().position
    iris.log_metric("iris", 1, "accuracy", 0.5)
    assert iris.check("iris", 1, require=["metrics.accuracy >= 0.9"]).ok is False
    past = iris.as_of(before)
    assert past.check("iris", 1, require=["metrics.accuracy >= 0.9"]).ok is True
    with pytest.raises(ReadOnlyError):
        past.check("iris", 1, require=["metrics.accuracy >= 0.9"], promote_to="production")
