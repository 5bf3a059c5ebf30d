"""
eventreg.copy: a whole log moved between any two backends, verbatim and verified.
"""

import itertools

import pytest

import eventreg
from eventreg import DestinationNotEmpty, NewEvent, open_log
from tests.fixtures.services import LOG_URL_FIXTURES

PAIRS = [(a, b) for a, b in itertools.permutations(LOG_URL_FIXTURES, 2)]


def _fill(url: str, count: int = 60) -> list:
    with open_log(url) as log:
        for i in range(count):
            log.append(f"model:m{i % 4}", [NewEvent("thing", {"i": i, "f": i / 7, "t": "ü"}, actor=f"user{i % 3}",
                                                        metadata={"host": "h"})])
        return list(log.read_all())


@pytest.mark.parametrize("src_fixture,dst_fixture", PAIRS,
                         ids=[f"{a.removesuffix('_url')}-to-{b.removesuffix('_url')}" for a, b in PAIRS])
def test_copy_between_backends_keeps_every_event_and_hash(request, src_fixture, dst_fixture):
    src = request.getfixturevalue(src_fixture)
    dst = request.getfixturevalue(dst_fixture)
    events = _fill(src)
    result = eventreg.copy(src, dst, progress=False)
    assert (result.copied, result.skipped) == (len(events), 0)
    with open_log(dst) as copy:
        assert list(copy.read_all()) == events
        assert copy.head() == result.head
        assert copy.verify().ok
        assert copy.stream_version("model:m1") == 15
        copy.append("model:m1", [NewEvent("after-copy", {})], expected_version=15)
        assert copy.verify().ok


def test_an_interrupted_copy_resumes(sqlite_url, file_url):
    events = _fill(sqlite_url, 30)
    with open_log(file_url) as dst:
        dst.import_events(events[:12])
    result = eventreg.copy(sqlite_url, file_url, progress=False)
    assert (result.copied, result.skipped) == (18, 12)
    with open_log(file_url) as dst:
        assert list(dst.read_all()) == events


def test_copy_refuses_a_destination_that_is_not_a_prefix(sqlite_url, memory_url):
    _fill(sqlite_url, 10)
    with open_log(memory_url) as dst:
        dst.append("other", [NewEvent("mine", {})])
    with pytest.raises(DestinationNotEmpty, match="differ"):
        eventreg.copy(sqlite_url, memory_url, progress=False)
    with open_log(memory_url) as dst:
        assert [e.type for e in dst.read_all()] == ["mine"]


def test_copy_refuses_a_destination_longer_than_the_source(sqlite_url, memory_url):
    _fill(memory_url, 10)
    _fill(sqlite_url, 3)
    with pytest.raises(DestinationNotEmpty, match="more than"):
        eventreg.copy(sqlite_url, memory_url, progress=False)


def test_copying_an_up_to_date_copy_again_does_nothing(memory_url, file_url):
    _fill(memory_url, 5)
    eventreg.copy(memory_url, file_url, progress=False)
    again = eventreg.copy(memory_url, file_url, progress=False)
    assert (again.copied, again.skipped) == (0, 5)
