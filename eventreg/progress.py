"""
Progress bars for long operations (uploads, downloads, copies), shown only on a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Callable


def wanted(progress: bool | None, stream=None) -> bool:
    """
    Whether to show a bar: ``progress`` if given, else only when stderr is a terminal.
    """
    if progress is not None:
        return progress
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


@contextmanager
def bar(description: str, total: float | None, *, progress: bool | None = None,
        bytes_: bool = False) -> Iterator[Callable[[float], None]]:
    """
    A context manager yielding ``advance(amount)``; a no-op when no bar is wanted.

    Args:
        description: what is being done, e.g. ``"upload model.pkl"``.
        total: the amount expected (bytes or items), or None if unknown.
        progress: force on/off; default on only for a terminal.
        bytes_: show transfer sizes and speed instead of counts.
    """
    if not wanted(progress):
        yield lambda amount: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn()]
    if bytes_:
        columns += [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns += [MofNCompleteColumn()]
    columns.append(TimeRemainingColumn())
    with Progress(*columns, transient=True) as prog:
        task = prog.add_task(description, total=total)
        yield lambda amount: prog.advance(task, amount)
