"""
The search filter language: what a user writes in search_versions/search_runs and gets.
"""

from __future__ import annotations

import math
import operator
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventreg.domain.filters import (
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    RUN_FIELDS,
    VERSION_FIELDS,
    Filter,
    compile_filter,
    compile_order_by,
)
from eventreg.errors import EventregError, FilterSyntaxError

UTC = timezone.utc


def version(**changes):
    record = {
        "name": "iris",
        "version": 3,
        "label": "v1.1",
        "aliases": {"production", "champion"},
        "created_at": datetime(2026, 3, 1, 14, 0, tzinfo=UTC),
        "actor": "alice",
        "metrics": {"accuracy": 0.95, "loss": 0.2, "val-loss": 0.3, "broken": math.nan},
        "params": {"n_estimators": "100", "max_depth": 5, "lr": "0.01", "bootstrap": True,
                   "criterion": "gini"},
        "tags": {"team": "vision", "my key": "spaced", "owner:email": "a@b.c"},
    }
    record.update(changes)
    return record


def matches(text, record=None, **kwargs):
    return compile_filter(text, **kwargs).matches(version() if record is None else record)


# -- the contract from the issue -------------------------------------------------------


def test_issue_example_selects_the_right_versions():
    f = compile_filter(
        "model = 'iris' and metrics.accuracy >= 0.9 "
        "and (tags.team = 'vision' or alias = 'production')",
        fields=VERSION_FIELDS,
    )
    assert isinstance(f, Filter)
    assert f.matches(version())
    assert f.matches(version(tags={"team": "nlp"}))  # alias production still holds
    assert not f.matches(version(tags={"team": "nlp"}, aliases=set()))
    assert not f.matches(version(name="wine"))
    assert not f.matches(version(metrics={"accuracy": 0.5}))
    assert not f.matches(version(metrics={}))  # accuracy never logged


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name = 'iris'", True),
        ("model = 'iris'", True),
        ("model != 'iris'", False),
        ("model <> 'wine'", True),
        ("version = 3", True),
        ("version >= 3 and version < 4", True),
        ("version > 3", False),
        ("version <= 2", False),
        ("version = '3'", True),
        ("label = 'v1.1'", True),
        ("actor = 'alice'", True),
        ("metrics.accuracy > 0.9", True),
        ("metrics.accuracy > 0.95", False),
        ("metrics.accuracy >= 0.95", True),
        ("metrics.accuracy = 0.95", True),
        ("metrics.loss < 2e-1", False),
        ("metrics.loss <= 0.2", True),
        ("metrics.loss > -0.5", True),
        ("metrics.val-loss = 0.3", True),
        ("tags.owner:email = 'a@b.c'", True),
        ("tags.team = \"vision\"", True),
        ("tags.`my key` = 'spaced'", True),
        ('tags."my key" = \'spaced\'', True),
        ("tag.team = 'vision'", True),
        ("metric.accuracy > 0.9", True),
        ("param.criterion = 'gini'", True),
        ("attributes.actor = 'alice'", True),
        ("attributes.version = 3", True),
        ("params.criterion in ('gini', 'entropy')", True),
        ("params.criterion not in ('gini', 'entropy')", False),
        ("params.criterion IN ('entropy')", False),
        ("params.bootstrap = true", True),
        ("params.bootstrap = false", False),
        ("params.bootstrap = 'true'", True),
        ("tags.team like 'vis%'", True),
        ("tags.team like 'VIS%'", False),
        ("tags.team ilike 'VIS%'", True),
        ("tags.team not like '%x%'", True),
        ("tags.team not ilike '%ISI%'", False),
        ("tags.team like 'visio_'", True),
        ("tags.team like 'visi_'", False),
        ("label like 'v1._'", True),
        ("label is not null", True),
        ("label is null", False),
    ],
)
def test_operators_on_a_version(text, expected):
    assert matches(text, fields=VERSION_FIELDS) is expected


def test_keywords_are_case_insensitive():
    assert matches("tags.team LIKE 'v%' AND NOT version IN (1, 2) Or label IS NULL")
    assert matches("tags.team like 'v%' and not version in (1, 2) or label is null")


def test_precedence_is_not_then_and_then_or():
    # or binds loosest: true or (false and false)
    assert matches("version = 3 or version = 1 and version = 2")
    assert not matches("(version = 3 or version = 1) and version = 2")
    # not binds tightest: (not false) and true
    assert matches("not version = 1 and version = 3")
    assert not matches("not (version = 3 and version = 3)")
    assert matches("not not version = 3")


def test_empty_filter_matches_everything():
    assert matches("")
    assert matches("   \n ")
    assert compile_filter(None).matches({})


# -- literals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'it''s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ("'a \"mixed\" one'", 'a "mixed" one'),
        ("''", ""),
        ("'caf\u00e9 \u2603'", "caf\u00e9 \u2603"),
        ("'two\nlines'", "two\nlines"),
    ],
)
def test_string_literals_quote_and_escape(literal, value):
    assert matches(f"tags.k = {literal}", {"tags": {"k": value}})
    assert not matches(f"tags.k = {literal}", {"tags": {"k": value + "x"}})


@pytest.mark.parametrize(
    ("literal", "value"),
    [("1e-3", 0.001), ("-0.5", -0.5), ("+2", 2), (".5", 0.5), ("10", 10.0), ("1E3", 1000)],
)
def test_number_literals(literal, value):
    assert matches(f"metrics.m = {literal}", {"metrics": {"m": value}})


def test_hostile_sql_is_just_a_string():
    text = "tags.note = '''; DROP TABLE versions; --'"
    assert matches(text, {"tags": {"note": "'; DROP TABLE versions; --"}})
    with pytest.raises(FilterSyntaxError):
        compile_filter("'; DROP TABLE x; --")
    with pytest.raises(FilterSyntaxError):
        compile_filter("model = 'iris'; DROP TABLE x; --")


# -- values, coercion, NULL and NaN ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stored", "expected"),
    [
        ("params.n = 100", "100", True),
        ("params.n = 100", 100, True),
        ("params.n = 100", 100.0, True),
        ("params.n = 100", "100.0", True),
        ("params.n = '100'", 100, True),
        ("params.n = '100'", "100.0", False),  # text against text compares text
        ("params.n = 100", "100abc", False),
        ("params.n = 100", " 100", False),
        ("params.n > 50", "100", True),
        ("params.n < 50", "100", False),
        ("params.n > 50", "many", False),
        ("params.n != 100", "many", True),
        ("params.lr < 0.1", "0.01", True),
        ("params.n = 1", True, False),  # a boolean is not the number 1
        ("params.n = true", 1, False),
        ("params.n in (50, 100)", "100", True),
    ],
)
def test_params_coerce_only_where_exact(text, stored, expected):
    assert matches(text, {"params": {"n": stored, "lr": stored}}) is expected


@pytest.mark.parametrize(
    "text",
    [
        "metrics.f1 > 0.5", "metrics.f1 < 0.5", "metrics.f1 = 0.5", "metrics.f1 != 0.5",
        "metrics.f1 in (0.5)", "metrics.f1 not in (0.5)", "tags.gone like '%'",
        "tags.gone not like 'x'", "not metrics.f1 > 0.5", "not (metrics.f1 = 1 and version = 3)",
        "label = 'v1'", "label != 'v1'",
    ],
)
def test_a_missing_value_never_compares(text):
    record = version(label=None)
    assert not matches(text, record)


def test_missing_values_follow_sql_three_valued_logic():
    assert matches("metrics.f1 > 0.5 or version = 3")  # unknown or true
    assert not matches("metrics.f1 > 0.5 and version = 3")  # unknown and true
    assert not matches("metrics.f1 > 0.5 or version = 4")  # unknown or false
    assert matches("not (metrics.f1 > 0.5 and version = 4)")  # not (unknown and false)
    assert matches("metrics.f1 is null and tags.gone is null")
    assert not matches("metrics.f1 is not null")
    assert matches("metrics.accuracy is not null")
    assert matches("label is null", version(label=None))
    assert matches("metrics.x is null", {"version": 1})  # the group itself absent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.broken = 0", False), ("metrics.broken > 0", False), ("metrics.broken < 0", False),
        ("metrics.broken >= 0", False), ("metrics.broken <= 0", False),
        ("metrics.broken != 0", True), ("metrics.broken in (0, 1)", False),
        ("metrics.broken not in (0, 1)", True), ("metrics.broken is null", False),
        ("metrics.broken is not null", True), ("not metrics.broken > 0", True),
    ],
)
def test_nan_is_never_equal_greater_or_less(text, expected):
    assert matches(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("created_at > '2026-03-01'", True),
        ("created_at >= '2026-03-01T14:00:00Z'", True),
        ("created_at > '2026-03-01T14:00:00Z'", False),
        ("created_at = '2026-03-01T14:00:00'", True),  # naive means UTC
        ("created_at = '2026-03-01T15:00:00+01:00'", True),
        ("created_at < '2026-03-01T14:00:01.5+00:00'", True),
        ("created_at < '2026-01-01'", False),
    ],
)
def test_dates_compare_as_datetimes(text, expected):
    assert matches(text, fields=VERSION_FIELDS) is expected


def test_a_naive_datetime_in_a_record_is_utc():
    naive = version(created_at=datetime(2026, 3, 1, 14))
    assert matches("created_at = '2026-03-01T14:00:00Z'", naive)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alias = 'production'", True),
        ("alias = 'staging'", False),
        ("alias != 'staging'", True),
        ("alias != 'production'", False),
        ("alias in ('staging', 'champion')", True),
        ("alias not in ('staging', 'champion')", False),
        ("alias like 'prod%'", True),
        ("alias not like 'prod%'", False),
        ("alias is not null", True),
        ("alias is null", False),
    ],
)
def test_alias_asks_about_any_of_the_versions_aliases(text, expected):
    assert matches(text, fields=VERSION_FIELDS) is expected


def test_a_version_without_aliases():
    record = version(aliases=set())
    assert matches("alias is null", record)
    assert matches("alias != 'production'", record)
    assert not matches("alias = 'production'", record)


def test_run_records():
    run = {
        "run_id": "4f2a", "experiment": "iris_classifier_project", "status": "FINISHED",
        "start_time": datetime(2026, 3, 1, 9, tzinfo=UTC), "end_time": None, "actor": "bob",
        "metrics": {"accuracy": 0.97}, "params": {"n_estimators": 100}, "tags": {},
    }
    f = compile_filter(
        "attributes.status = 'FINISHED' and start_time >= '2026-03-01' and end_time is null "
        "and id = '4f2a' and params.n_estimators >= 100",
        fields=RUN_FIELDS,
    )
    assert f.matches(run)
    assert not f.matches({**run, "status": "FAILED"})


def test_like_patterns():
    record = {"tags": {"k": "50%_off\\now\nnext"}}
    assert matches("tags.k like '50\\%\\_off%'", record)
    assert not matches("tags.k like '50\\%\\_of'", record)
    assert matches("tags.k like '%\\\\now%'", record)
    assert matches("tags.k like '%now_next'", record)  # _ matches a newline too
    assert matches("tags.k like '%%%'", record)
    assert matches("tags.k like '5%f%z%'", record) is False
    assert not matches("tags.k like '%n%o%w%x'", record)
    assert matches("tags.k like '5%f%n%t'", record)
    assert matches("params.n like '1%'", {"params": {"n": 100}})


def test_a_hostile_like_pattern_stays_fast():
    pattern = "%a" * 2000 + "%b"
    record = {"tags": {"k": "a" * 5000}}
    started = time.perf_counter()
    assert not matches(f"tags.k like '{pattern}'", record)
    assert time.perf_counter() - started < 1.0


# -- fields --------------------------------------------------------------------------


def test_unknown_fields_fail_at_compile_time_when_fields_are_given():
    with pytest.raises(FilterSyntaxError, match=r"unknown field 'accuracy'.*metrics\.accuracy"):
        compile_filter("accuracy > 0.9", fields=VERSION_FIELDS)
    with pytest.raises(FilterSyntaxError, match="did you mean 'version'"):
        compile_filter("versoin = 3", fields=VERSION_FIELDS)
    with pytest.raises(FilterSyntaxError, match="unknown field 'status'"):
        compile_filter("status = 'FINISHED'", fields=VERSION_FIELDS)
    with pytest.raises(FilterSyntaxError, match=r"unknown field 'foo\.bar'"):
        compile_filter("foo.bar = 1")


def test_without_fields_any_top_level_key_is_a_field():
    assert matches("stage = 'dev'", {"stage": "dev"})
    assert not matches("stage = 'dev'", {})
    # a list-valued field asks about any item
    assert matches("owners = 'x'", {"owners": ["y", "x"]})


def test_fields_may_name_record_keys_or_filter_names():
    assert compile_filter("alias = 'p'", fields={"aliases"}).matches({"aliases": {"p"}})
    assert compile_filter("model = 'm'", fields={"name"}).matches({"name": "m"})


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "says"),
    [
        ("model = 'iris' and metrics.accuracy >= ", 40, "expected a value after '>='"),
        ("metrics.accuracy >= and version = 1", 21, "expected a value after '>='"),
        ("model = 'iris", 9, "unterminated string"),
        ("tags.`my key = 'x'", 6, "unterminated name"),
        ("(model = 'iris'", 16, "expected ')' to close the '(' at column 1"),
        ("model = 'iris')", 15, "unmatched ')'"),
        ("model = 'iris' version = 3", 16, "expected AND, OR or the end"),
        ("model 'iris'", 7, "expected an operator after 'model'"),
        ("model == 'iris'", 7, "'==' is not an operator"),
        ("model ! 'iris'", 7, "unexpected '!'"),
        ("model = 'iris' and", 19, "expected a field name, '(' or NOT after AND"),
        ("= 3", 1, "expected a field name"),
        ("()", 2, "expected a field name"),
        ("version in ()", 13, "the IN list is empty"),
        ("version in (1, )", 16, "expected a value after ','"),
        ("version in 1", 12, "expected '(' after IN"),
        ("version in (1 2)", 15, "expected ',' or ')'"),
        ("label is 'x'", 10, "expected NULL after IS"),
        ("label not = 'x'", 11, "expected LIKE, ILIKE or IN after NOT"),
        ("label like 3", 12, "expected a quoted pattern after LIKE"),
        ("label = null", 9, "null cannot be compared"),
        ("metrics.a > metrics.b", 13, "comparing two fields is not supported"),
        ("metrics. > 1", 1, "expected a key after 'metrics.'"),
        ("version = 12abc", 13, "unexpected 'a' after a number"),
        ("version = 1e999", 11, "out of range"),
        ("version = 'v1.1'", 11, "expected a number for version"),
        ("created_at > 'last week'", 14, "ISO-8601"),
        ("created_at > 5", 14, "ISO-8601"),
        ("alias > 'a'", 7, "alias cannot be ordered"),
        ("tags.team < true", 11, "true/false cannot be ordered"),
        ("model = 'iris' # comment", 16, "unexpected character '#'"),
        ("model = 'iris' \x00", 16, "unexpected character '\\x00'"),
        ("and = 1", 1, "expected a field name, '(' or NOT, found AND"),
    ],
)
def test_errors_point_at_the_column(text, column, says):
    with pytest.raises(FilterSyntaxError) as caught:
        compile_filter(text, fields=VERSION_FIELDS)
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, EventregError)
    assert error.column == column
    assert error.text == text
    first, shown, caret = str(error).split("\n")
    assert first.startswith("filter: ")
    assert says in first
    assert f"at column {column}" in first
    # the caret sits under the column in the echoed text
    assert caret.index("^") - 2 == column - 1
    assert shown[2:] == "".join(c if c.isprintable() else " " for c in text)


def test_the_caret_of_a_long_filter_shows_a_window():
    text = "version = 1 and " * 100 + "version >"
    with pytest.raises(FilterSyntaxError) as caught:
        compile_filter(text)
    _, shown, caret = str(caught.value).split("\n")
    assert caught.value.column == len(text) + 1
    assert len(shown) < 100 and shown.lstrip().startswith("...")
    assert shown[caret.index("^") - 1] == ">"


def test_too_long_a_filter_is_refused():
    text = "version = 1 or " * 700 + "version = 2"
    assert len(text) > MAX_FILTER_LENGTH
    with pytest.raises(FilterSyntaxError, match=f"longer than {MAX_FILTER_LENGTH} characters"):
        compile_filter(text)


def test_nesting_is_limited():
    ok = "(" * MAX_DEPTH + "version = 3" + ")" * MAX_DEPTH
    assert matches(ok)
    assert matches("not " * MAX_DEPTH + "version = 3")
    assert not matches("not " * (MAX_DEPTH - 1) + "version = 3")
    with pytest.raises(FilterSyntaxError, match="nesting deeper than"):
        compile_filter("(" * (MAX_DEPTH + 1) + "version = 3" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(FilterSyntaxError, match="nesting deeper than"):
        compile_filter("not " * 500 + "version = 3")
    with pytest.raises(FilterSyntaxError, match="nesting deeper than"):
        compile_filter("(not " * 60 + "version = 3" + ")" * 60)


def test_a_long_flat_filter_evaluates_without_recursion():
    text = " or ".join(f"version={n}" for n in range(550))
    assert len(text) <= MAX_FILTER_LENGTH
    f = compile_filter(text)
    assert f.matches({"version": 549}) and not f.matches({"version": 550})
    text = " and ".join(f"version!={n}" for n in range(550))
    assert compile_filter(text).matches({"version": 550})


def test_a_filter_that_is_not_text_is_a_type_error():
    with pytest.raises(TypeError):
        compile_filter(42)  # type: ignore[arg-type]


# -- performance ---------------------------------------------------------------------


def test_searching_100000_versions_takes_well_under_a_second():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        version(name=f"m{i % 50}", version=i, aliases={"production"} if i % 7 == 0 else set(),
                created_at=start + timedelta(minutes=i),
                metrics={"accuracy": (i * 7919 % 1000) / 1000} if i % 3 else {},
                tags={"team": "vision" if i % 2 else "nlp"})
        for i in range(100_000)
    ]
    f = compile_filter(
        "model = 'm7' and metrics.accuracy >= 0.9 "
        "and (tags.team = 'vision' or alias = 'production') and created_at > '2026-01-02'",
        fields=VERSION_FIELDS,
    )
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        found = [r for r in records if f.matches(r)]
        best = min(best, time.perf_counter() - started)
    assert found and all(r["name"] == "m7" and r["metrics"]["accuracy"] >= 0.9 for r in found)
    assert best < 0.5, f"100,000 records took {best:.3f} s"


# -- order_by ------------------------------------------------------------------------

RECORDS = [
    {"version": 1, "metrics": {"accuracy": 0.5}, "tags": {"team": "b"}},
    {"version": 2, "metrics": {}, "tags": {"team": "a"}},
    {"version": 3, "metrics": {"accuracy": math.nan}, "tags": {}},
    {"version": 4, "metrics": {"accuracy": 0.9}, "tags": {"team": "b"}},
    {"version": 5, "metrics": {"accuracy": 0.5}, "tags": {"team": "c"}},
]


def versions(records):
    return [r["version"] for r in records]


def test_order_by_descending_with_missing_and_nan_last():
    order = compile_order_by(["metrics.accuracy DESC", "version"])
    assert versions(sorted(RECORDS, key=order)) == [4, 1, 5, 3, 2]
    assert versions(order.sort(RECORDS)) == [4, 1, 5, 3, 2]


def test_order_by_ascending_also_puts_missing_and_nan_last():
    order = compile_order_by(["metrics.accuracy asc", "version DESC"])
    assert versions(order.sort(RECORDS)) == [5, 1, 4, 3, 2]
    assert versions(compile_order_by("metrics.accuracy").sort(RECORDS)) == [1, 5, 4, 3, 2]


def test_order_by_text_both_ways_and_ties_keep_input_order():
    assert versions(compile_order_by("tags.team").sort(RECORDS)) == [2, 1, 4, 5, 3]
    assert versions(compile_order_by("tags.team desc").sort(RECORDS)) == [5, 1, 4, 2, 3]
    texts = ["b", "ab", "abc", "", "a", "\u00e9", "\U0001f600", "B"]
    records = [{"tags": {"t": t}} for t in texts]
    got = [r["tags"]["t"] for r in compile_order_by("tags.t DESC").sort(records)]
    assert got == sorted(texts, reverse=True)


def test_order_by_numeric_params_sorts_as_numbers():
    records = [{"params": {"n": v}} for v in ["20", "100", 3, "adam", None, "5.5"]]
    got = [r["params"]["n"] for r in compile_order_by("params.n DESC").sort(records)]
    assert got == ["100", "20", "5.5", 3, "adam", None]


def test_order_by_dates():
    base = datetime(2026, 3, 1, tzinfo=UTC)
    records = [{"version": i, "created_at": base + timedelta(hours=h)}
               for i, h in enumerate([3, -1, 7])]
    records.append({"version": 9, "created_at": datetime(2026, 3, 1, 5)})  # naive = UTC
    assert versions(compile_order_by("created_at DESC").sort(records)) == [2, 9, 0, 1]
    assert versions(compile_order_by("created_at").sort(records)) == [1, 0, 9, 2]


def test_order_by_accepts_one_comma_separated_string_and_none():
    order = compile_order_by("metrics.accuracy DESC, version desc", fields=VERSION_FIELDS)
    assert order.terms == (("metrics.accuracy", True), ("version", True))
    assert versions(order.sort(RECORDS)) == [4, 5, 1, 3, 2]
    assert versions(compile_order_by(None).sort(RECORDS)) == [1, 2, 3, 4, 5]
    assert versions(compile_order_by([]).sort(RECORDS)) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("terms", "says"),
    [
        (["metrics.accuracy DOWN"], "expected ASC, DESC or ',' after 'metrics.accuracy'"),
        (["accuracy"], "unknown field 'accuracy'"),
        (["alias"], "cannot order by alias"),
        ([""], "empty term"),
        (["version,"], "expected a field name after ','"),
        (["'version'"], "expected a field name"),
        (["version DESC DESC"], "expected ASC, DESC or ','"),
    ],
)
def test_order_by_errors(terms, says):
    with pytest.raises(FilterSyntaxError, match=re.escape(says)) as caught:
        compile_order_by(terms, fields=VERSION_FIELDS)
    assert str(caught.value).startswith("order_by: ")


# -- properties ----------------------------------------------------------------------


def quote(value: str, mark: str) -> str:
    return mark + value.replace(mark, mark * 2) + mark


@given(st.text(max_size=50), st.sampled_from(["'", '"']))
def test_any_quoted_string_round_trips(value, mark):
    f = compile_filter(f"tags.k = {quote(value, mark)}")
    assert f.matches({"tags": {"k": value}})
    assert not f.matches({"tags": {"k": value + "."}})


@given(st.text(min_size=1, max_size=30))
def test_any_backquoted_key_round_trips(key):
    f = compile_filter(f"tags.{quote(key, '`')} = 'x'")
    assert f.matches({"tags": {key: "x"}})


# A small random filter language, evaluated by an independent three-valued oracle.
METRICS = st.one_of(st.none(), st.just(math.nan), st.sampled_from([0.0, 0.5, 1.0, -2.0]))
TEAMS = st.one_of(st.none(), st.sampled_from(["a", "b", "ab"]))
OPS = {"=": operator.eq, "!=": operator.ne, "<>": operator.ne, "<": operator.lt,
       "<=": operator.le, ">": operator.gt, ">=": operator.ge}
clauses = st.one_of(
    st.tuples(st.just("metric"), st.sampled_from(["m1", "m2"]), st.sampled_from(sorted(OPS)),
              st.sampled_from([0, 0.5, 1, -2.0])),
    st.tuples(st.just("team"), st.sampled_from(["=", "!="]), st.sampled_from(["a", "b", "c"])),
    st.tuples(st.just("null"), st.sampled_from(["m1", "m2"]), st.booleans()),
)
expressions = st.recursive(
    clauses,
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=4)),
    ),
    max_leaves=12,
)


def render(node, draw_case) -> str:
    kind = node[0]
    if kind == "metric":
        return f"metrics.{node[1]} {node[2]} {node[3]}"
    if kind == "team":
        return f"tags.team {node[1]} '{node[2]}'"
    if kind == "null":
        return f"metrics.{node[1]} {draw_case('is not null' if node[2] else 'is null')}"
    if kind == "not":
        return f"{draw_case('not')} ({render(node[1], draw_case)})"
    joiner = f" {draw_case(kind)} "
    return joiner.join(f"({render(child, draw_case)})" for child in node[1])


def oracle(node, record):
    kind = node[0]
    if kind == "metric":
        value = record["metrics"].get(node[1])
        if value is None:
            return None
        if math.isnan(value):
            return node[2] in ("!=", "<>")
        return OPS[node[2]](value, node[3])
    if kind == "team":
        value = record["tags"].get("team")
        return None if value is None else OPS[node[1]](value, node[2])
    if kind == "null":
        return (record["metrics"].get(node[1]) is None) is not node[2]
    if kind == "not":
        inner = oracle(node[1], record)
        return None if inner is None else not inner
    results = [oracle(child, record) for child in node[1]]
    if kind == "and":
        return False if False in results else None if None in results else True
    return True if True in results else None if None in results else False


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, st.lists(st.tuples(METRICS, METRICS, TEAMS), min_size=1, max_size=5),
       st.randoms())
def test_random_filters_agree_with_an_oracle(node, rows, random):
    text = render(node, lambda word: "".join(random.choice([c.lower(), c.upper()]) for c in word))
    f = compile_filter(text, fields=VERSION_FIELDS)
    for m1, m2, team in rows:
        metrics = {k: v for k, v in (("m1", m1), ("m2", m2)) if v is not None}
        record = {"metrics": metrics, "tags": {} if team is None else {"team": team}}
        assert f.matches(record) is (oracle(node, record) is True), text


FILTER_ALPHABET = st.sampled_from(
    [*"abcmetrics.tags_`'\"()<>=!,%-+.0123456789 eE\n\t\\#;\x00",
     "and ", "or ", "not ", "in ", "like ", "is ", "null", "true", "metrics.", "tags.", "version"]
)


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=60), st.lists(FILTER_ALPHABET, max_size=30).map("".join)))
def test_junk_never_raises_anything_but_a_filter_syntax_error(text):
    try:
        f = compile_filter(text)
    except FilterSyntaxError as error:
        assert 1 <= error.column <= len(text) + 1
        assert error.text == text
        assert "\n" in str(error)
        return
    for record in ({}, version(), {"metrics": {"m": math.nan}, "version": "x"}):
        assert f.matches(record) in (True, False)


@settings(max_examples=200)
@given(st.lists(st.lists(FILTER_ALPHABET, max_size=8).map("".join), max_size=3))
def test_order_by_junk_never_raises_anything_but_a_filter_syntax_error(terms):
    try:
        order = compile_order_by(terms)
    except FilterSyntaxError:
        return
    order.sort([{}, version(), {"metrics": {"m": math.nan}}])
