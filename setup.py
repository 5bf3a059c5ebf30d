"""
The optional C accelerators (everything else is in pyproject.toml).

``eventreg/_cwrite.c`` speeds up the append path (validation, canonical JSON, the hash
chain); ``eventreg/_cread.c`` reads and decodes SQLite rows for ``read_all``. Both are
optional: without a C compiler the install still succeeds and eventreg runs the same work
in pure Python (``EVENTREG_PURE_PYTHON=1`` chooses that too). tests/test_cwrite.py and
tests/test_cread.py check that both ways give the same results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("eventreg._cwrite", ["eventreg/_cwrite.c"], optional=True),
        Extension("eventreg._cread", ["eventreg/_cread.c"], optional=True),
    ]
)
