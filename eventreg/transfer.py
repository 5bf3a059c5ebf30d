"""
Copying a whole log from one backend to another, verbatim.
"""

from __future__ import annotations

from typing import Any

import attrs

from eventreg.config import open_log
from eventreg.errors import DestinationNotEmpty, InvalidEvent, LogCorrupted
from eventreg.log import Head
from eventreg.progress import bar


@attrs.frozen
class CopyResult:
    """
    What :func:`copy` did: events copied now, events already there, the new head.
    """

    copied: int
    skipped: int
    head: Head


def copy(src_url: str, dst_url: str, *, progress: bool | None = None, verify: bool = True,
         **options: Any) -> CopyResult:
    """
    Copy every event of the log at ``src_url`` into the log at ``dst_url``.

    Positions, stream versions, timestamps, actors, metadata and hashes are kept, so
    the copy has the same head and passes ``verify()``. The destination must be empty,
    or hold a prefix of the source (an interrupted copy): then the copy resumes after it.

    Args:
        src_url: the log to read.
        dst_url: the log to write (any backend).
        progress: show a progress bar (default: only on a terminal).
        verify: check the copy's hash chain against the source's head afterwards.
        **options: passed to both backends (e.g. ``connect_args``).

    Returns:
        A :class:`CopyResult`.

    Raises:
        DestinationNotEmpty: the destination holds events that the source does not
            start with.
        LogCorrupted: the source's chain is broken where it is read, or the copy does
            not verify.
    """
    with open_log(src_url, **options) as src, open_log(dst_url, **options) as dst:
        source_head = src.head()
        start = dst.head()
        if start.position:
            if start.position > source_head.position:
                raise DestinationNotEmpty(
                    f"the destination already has {start.position} events, more than the "
                    f"source's {source_head.position}: refusing to copy into it"
                )
            (at,) = list(src.read_all(from_position=start.position, limit=1))
            if at.hash != start.hash:
                raise DestinationNotEmpty(
                    f"the destination holds {start.position} events that differ from the "
                    f"source's (hash at position {start.position} differs): refusing to copy into it"
                )
        remaining = source_head.position - start.position
        copied = 0
        with bar("copy events", remaining, progress=progress) as advance:
            while copied < remaining:
                chunk = list(src.read_all(from_position=start.position + copied + 1,
                                          limit=min(10_000, remaining - copied)))
                if not chunk:
                    break
                try:
                    dst.import_events(chunk)
                except InvalidEvent as e:
                    raise LogCorrupted(f"source log at {src.url} does not verify: {e}") from e
                copied += len(chunk)
                advance(len(chunk))
        head = dst.head()
        if verify:
            result = dst.verify(expected_head=source_head)
            if not result.ok:
                raise LogCorrupted(
                    f"the copy does not verify at position {result.first_bad_position}: {result.problem}"
                )
        return CopyResult(copied, start.position, head)
