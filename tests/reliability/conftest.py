"""
The ``--soak`` switch and the fixtures shared by the reliability tests.

``--soak`` (or ``EVENTREG_SOAK=1``) turns every iteration count from its short CI form
into its long form. Tests ask the ``budget`` fixture for a count instead of hard-coding
one, so the numbers used are in one place per test and printed in the report header.
"""

from __future__ import annotations

import os

import pytest

SOAK_FACTOR = 10


def pytest_addoption(parser):
    # Registered here, so ``pytest tests/reliability --soak`` works. For a bare
    # ``pytest --soak`` the root conftest.py must register it too (pytest reads options
    # before it reaches this folder); then this registration steps aside.
    try:
        parser.addoption(
            "--soak",
            action="store_true",
            default=False,
            help="run the reliability suite's long form (iteration counts x10, full process counts)",
        )
    except ValueError:  # already registered by the root conftest.py
        pass


def soak_enabled(config) -> bool:
    """
    Whether the long form was asked for, on the command line or through ``EVENTREG_SOAK=1``.
    """
    try:
        flag = bool(config.getoption("--soak"))
    except ValueError:  # option not registered (this conftest was not an initial one)
        flag = False
    return flag or os.environ.get("EVENTREG_SOAK") == "1"


def pytest_report_header(config):
    return f"eventreg reliability: {'SOAK (long form)' if soak_enabled(config) else 'short form'}"


def pytest_collection_modifyitems(config, items):
    if not soak_enabled(config):
        return
    for item in items:
        if "reliability" in item.nodeid:
            item.add_marker(pytest.mark.timeout(4 * 3600))


class Budget:
    """
    Iteration counts: the short form for CI, the long form under ``--soak``.
    """

    def __init__(self, soak: bool) -> None:
        self.soak = soak

    def count(self, short: int, long: int | None = None) -> int:
        """
        ``short`` normally; ``long`` (default ``short * SOAK_FACTOR``) under ``--soak``.
        """
        if not self.soak:
            return short
        return long if long is not None else short * SOAK_FACTOR


@pytest.fixture(scope="session")
def budget(request) -> Budget:
    """
    Iteration counts for this run (short or soak).
    """
    return Budget(soak_enabled(request.config))


PERSISTENT_LOG_FIXTURES = ["sqlite_url", "file_url", "postgres_url", "mysql_url"]


@pytest.fixture(params=PERSISTENT_LOG_FIXTURES, ids=lambda name: name.removesuffix("_url"))
def persistent_log_url(request):
    """
    A fresh log URL of every backend whose storage outlives the process.
    """
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def reliability_report():
    """
    Record measured numbers: appended as JSON lines to ``$EVENTREG_RELIABILITY_REPORT``.

    docs/reliability.md quotes these from the last soak run.
    """
    import json

    path = os.environ.get("EVENTREG_RELIABILITY_REPORT")

    def record(name: str, **numbers) -> None:
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"test": name, **numbers}, sort_keys=True) + "\n")

    return record
