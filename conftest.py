"""
Root of the test set-up: environment that must be in place before any import.

gcsfs picks its filesystem class at import time; against an emulator the "extended"
class hangs ~60 s per call, so this must be set before anything imports gcsfs.
"""

import os

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
os.environ.setdefault("NO_GCE_CHECK", "true")
os.environ.setdefault("GOOGLE_CLOUD_PROJECT", "eventreg-test")
# never pick up a developer's real cloud credentials or registry settings in tests
for _var in ("AWS_PROFILE", "EVENTREG_URL", "EVENTREG_ARTIFACTS", "EVENTREG_ACTOR"):
    os.environ.pop(_var, None)

pytest_plugins = ["tests.fixtures.services", "tests.fixtures.objectstores"]


def pytest_addoption(parser):
    parser.addoption(
        "--soak", action="store_true", default=False,
        help="run the reliability suite's long form (iteration counts x10, full process counts)",
    )
