"""
``pip install -e '.[test]'`` resolves at once (issue 20).

s3fs pins aiobotocore, aiobotocore pins botocore to a few releases, and boto3 (moto's
dependency) pins botocore too. Left open, pip's resolver tried the newest boto3, found its
botocore outside aiobotocore's range and walked back one boto3 release at a time: ~10
minutes on a fresh machine. The test extra pins one set that fits together; these tests
keep the set pinned and consistent, so a bump of one without the others fails here rather
than on a new contributor's machine.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli (in the test extra there) is what became tomllib
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
#: The packages whose pins must move together.
LOCKSTEP = ("s3fs", "fsspec", "aiobotocore", "botocore", "boto3")


def _test_extra() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {}
    for line in project["optional-dependencies"]["test"]:
        requirement = Requirement(line)
        found[requirement.name.lower()] = requirement
    return found


def _pinned(requirement: Requirement) -> str:
    (spec,) = requirement.specifier
    assert spec.operator == "==", f"{requirement} must be pinned with =="
    return spec.version


def test_the_lockstep_packages_are_pinned_exactly() -> None:
    extra = _test_extra()
    missing = [name for name in LOCKSTEP if name not in extra]
    assert not missing, f"the test extra must pin {missing} (pip backtracks for minutes without)"
    for name in LOCKSTEP:
        _pinned(extra[name])


def test_the_pins_satisfy_each_others_requirements() -> None:
    extra = _test_extra()
    pins = {name: _pinned(extra[name]) for name in LOCKSTEP}
    for name in LOCKSTEP:
        try:
            if version(name) != pins[name]:
                pytest.skip(f"{name} {version(name)} is installed, not the pinned {pins[name]}: "
                            "reinstall with pip install -e '.[test]'")
            needs = requires(name) or []
        except PackageNotFoundError:
            pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
        for line in needs:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            other = requirement.name.lower()
            if other in pins:
                assert requirement.specifier.contains(pins[other], prereleases=True), (
                    f"{name}=={pins[name]} needs {requirement}, but the test extra pins {other}=={pins[other]}")
