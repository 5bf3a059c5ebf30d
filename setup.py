"""
The optional C accelerators (everything else is in pyproject.toml).

``eventreg/_cwrite.c`` speeds up the append path (validation, canonical JSON, the hash
chain). It is optional: without a C compiler the install still succeeds and eventreg runs
the same code in pure Python (``eventreg.log`` says which: ``_accel``). Both produce the
same bytes, which tests/test_cwrite.py checks.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("eventreg._cwrite", ["eventreg/_cwrite.c"], optional=True),
    ]
)
