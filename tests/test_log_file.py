"""
The conformance suite on the file:// backend (a folder of JSON lines), plus what is
particular to it: torn tails, foreign folders, several processes on one folder.
"""

from __future__ import annotations

import json
import os

import pytest

from eventreg.testing import EventLogContract


def _events_path(url: str) -> str:
    return os.path.join(url.split("://", 1)[1], "events.jsonl")


def _read_lines(url: str) -> list[str]:
    with open(_events_path(url), encoding="utf-8") as f:
        return f.read().splitlines(keepends=True)


def _write_lines(url: str, lines: list[str]) -> None:
    with open(_events_path(url), "w", encoding="utf-8") as f:
        f.writelines(lines)


class TestFileLog(EventLogContract):
    @pytest.fixture
    def log_url(self, file_url):
        return file_url

    def tamper_edit_payload(self, url, position, payload_text):
        lines = _read_lines(url)
        doc = json.loads(lines[position - 1])
        doc["payload"] = json.loads(payload_text)
        lines[position - 1] = json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
        _write_lines(url, lines)

    def tamper_delete(self, url, position):
        lines = _read_lines(url)
        del lines[position - 1]
        _write_lines(url, lines)

    def tamper_swap(self, url, a, b):
        lines = _read_lines(url)
        lines[a - 1], lines[b - 1] = lines[b - 1], lines[a - 1]
        _write_lines(url, lines)
