"""
Copying a whole log from one backend to another, verbatim, and the artifact objects it
refers to from one store to another, verified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from eventreg.config import open_log, resolve_settings
from eventreg.errors import ArtifactIntegrityError, DestinationNotEmpty, InvalidEvent, LogCorrupted
from eventreg.log import Head
from eventreg.progress import bar

_HEX = frozenset("0123456789abcdef")


@attrs.frozen
class CopyResult:
    """
    What :func:`copy` did: events copied now, events already there, the new head; with
    ``artifacts=``, objects copied now and objects the destination store already held
    (``None`` when the artifacts were not copied).
    """

    copied: int
    skipped: int
    head: Head
    artifacts_copied: int | None = None
    artifacts_skipped: int | None = None
    artifacts_bytes: int | None = None


def copy(src_url: str, dst_url: str, *, artifacts: str | None = None, source_artifacts: str | None = None,
         artifact_options: Mapping[str, Any] | None = None,
         source_artifact_options: Mapping[str, Any] | None = None,
         progress: bool | None = None, verify: bool = True, **options: Any) -> CopyResult:
    """
    Copy every event of the log at ``src_url`` into the log at ``dst_url``.

    Positions, stream versions, timestamps, actors, metadata and hashes are kept, so
    the copy has the same head and passes ``verify()``. The destination must be empty,
    or hold a prefix of the source (an interrupted copy): then the copy resumes after it.

    The model files are not in the log: without ``artifacts`` they stay in their store.
    With ``artifacts=DEST``, every object the log refers to (a version's or a run's
    artifacts) is copied from ``source_artifacts`` to ``DEST``, each checked against its
    sha256 as it is written; an object ``DEST`` already holds is skipped (re-hashed when
    ``verify``), so an interrupted copy resumes.

    Args:
        src_url: the log to read.
        dst_url: the log to write (any backend).
        artifacts: the artifact store to copy the referenced objects into.
        source_artifacts: where they are now (default: ``EVENTREG_ARTIFACTS``, else
            ``file://./eventreg-artifacts``, as :func:`eventreg.open`).
        artifact_options: storage options of ``artifacts`` (``endpoint_url`` ...).
        source_artifact_options: storage options of ``source_artifacts``.
        progress: show progress bars (default: only on a terminal).
        verify: check the copy's hash chain against the source's head afterwards, and
            re-hash the objects the destination store already held.
        **options: passed to both backends (e.g. ``connect_args``).

    Returns:
        A :class:`CopyResult`.

    Raises:
        DestinationNotEmpty: the destination holds events that the source does not
            start with.
        LogCorrupted: the source's chain is broken where it is read, or the copy does
            not verify.
        ArtifactIntegrityError: an object is missing from the source store, or its
            bytes (or those already at the destination) differ from the record.
    """
    with open_log(src_url, create=False, **options) as src, open_log(dst_url, **options) as dst:
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
        if artifacts is None:
            return CopyResult(copied, start.position, head)
        objects = referenced_objects(src.read_all(limit=None))
    done = copy_objects(objects, source_artifacts, artifacts, source_options=source_artifact_options,
                        options=artifact_options, progress=progress, verify=verify)
    return CopyResult(copied, start.position, head, *done)


def referenced_objects(events: Iterable[Any]) -> dict[str, int]:
    """
    ``{sha256: size}`` of every artifact object the events refer to.

    An artifact entry is any ``{"sha256": <64 hex>, "size": <int>}`` object in a payload
    (a version's or a run's ``artifacts``, a logged model's files).
    """
    found: dict[str, int] = {}
    for event in events:
        stack: list[Any] = [event.payload]
        while stack:
            value = stack.pop()
            if isinstance(value, Mapping):
                sha, size = value.get("sha256"), value.get("size")
                if (isinstance(sha, str) and len(sha) == 64 and _HEX.issuperset(sha)
                        and isinstance(size, int) and not isinstance(size, bool)):
                    found[sha] = size
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
    return found


def copy_objects(objects: Mapping[str, int], src_url: str | None, dst_url: str, *,
                 source_options: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
                 progress: bool | None = None, verify: bool = True) -> tuple[int, int, int]:
    """
    Copy ``{sha256: size}`` objects between artifact stores; ``(copied, skipped, bytes)``.

    Raises:
        ArtifactIntegrityError: a source object is missing or differs, or an object
            already at the destination differs (with ``verify``).
    """
    from eventreg.artifacts import ArtifactStore, Manifest, ManifestEntry

    src_url = resolve_settings(None, src_url, None)[1]  # as eventreg.open picks it
    source = ArtifactStore(src_url, progress=False, **dict(source_options or {}))
    dest = ArtifactStore(dst_url, progress=False, **dict(options or {}))
    todo, present = {}, {}
    for sha, size in sorted(objects.items()):
        (present if dest.exists(sha, size) else todo)[sha] = size
    if verify and present:
        problems = dest.verify(Manifest.from_json({sha: {"sha256": sha, "size": size}
                                                   for sha, size in present.items()}))
        if problems:
            raise ArtifactIntegrityError(
                f"{len(problems)} object(s) already in {dest!r} differ from the record: {problems[0]}")
    copied = 0
    with bar("copy artifacts", sum(todo.values()), progress=progress, bytes_=True) as advance:
        for sha, size in todo.items():
            entry = ManifestEntry(sha256=sha, size=size)
            with source.open(entry, name=sha) as stream:  # verified before it is handed out
                stored = dest.put(stream, progress=False)
            if (stored.sha256, stored.size) != (sha, size):
                raise ArtifactIntegrityError(f"object {sha} changed while it was copied to {dest!r}")
            copied += size
            advance(size)
    return len(todo), len(present), copied
