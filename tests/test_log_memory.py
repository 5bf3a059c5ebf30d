"""
The conformance suite on the in-memory backend, plus what is particular to it.
"""

import pytest

from eventreg import open_log
from eventreg.backends import memory
from eventreg.log import NewEvent
from eventreg.testing import EventLogContract


def _events(url: str) -> list:
    return memory._named[url.split("://", 1)[1]].events


class TestMemoryLog(EventLogContract):
    @pytest.fixture
    def log_url(self, memory_url):
        return memory_url

    def tamper_edit_payload(self, url, position, payload_text):
        import json

        events = _events(url)
        events[position - 1] = events[position - 1]._replace(payload=json.loads(payload_text))

    def tamper_delete(self, url, position):
        del _events(url)[position - 1]

    def tamper_swap(self, url, a, b):
        events = _events(url)
        events[a - 1], events[b - 1] = events[b - 1], events[a - 1]


def test_an_anonymous_memory_log_is_private_and_not_persistent():
    first = open_log("memory://")
    first.append("s", [NewEvent("a", {})])
    second = open_log("memory://")
    assert second.head().position == 0
    assert first.persistent is False
