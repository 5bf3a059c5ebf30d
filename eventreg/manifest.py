"""
Manifests: what a model version's files are, as relative path -> (sha256, size).

A :class:`Manifest` goes into the event log; :class:`~eventreg.artifacts.ArtifactStore`
stores and checks the bytes it names. Paths are normalised and checked here, so no
manifest can name a file outside the folder it is downloaded into.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from eventreg.errors import ArtifactIntegrityError, UnsafePath, ValidationError
from eventreg.log import canonical_bytes

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_DRIVE = re.compile(r"^[A-Za-z]:")


# -- manifests -------------------------------------------------------------------------


def normalize_artifact_path(path: str | os.PathLike[str]) -> str:
    """
    The canonical form of a relative artifact path: ``/``-separated, no ``.`` or empty parts.

    Backslashes count as separators, so a manifest written on Windows means the same
    everywhere.

    Raises:
        UnsafePath: the path is empty, absolute (``/x``, ``C:x``), contains ``..`` or NUL,
            or is not text.
    """
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str):
        raise UnsafePath(f"artifact path must be a string, not {type(path).__name__}")
    shown = repr(path if len(path) <= 200 else path[:200] + "...")
    text = path.replace("\\", "/")
    if "\x00" in text:
        raise UnsafePath(f"artifact path {shown} contains a NUL character")
    if text.startswith("/") or _DRIVE.match(text):
        raise UnsafePath(f"artifact path {shown} is absolute; use a path relative to the artifact root")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"artifact path {shown} contains '..'")
    if not parts:
        raise UnsafePath(f"artifact path {shown} is empty")
    return "/".join(parts)


def _check_sha256(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not _SHA256.match(value):
        raise ValidationError(f"sha256 must be 64 lower-case hex digits, not {value!r:.80}")


def _check_size(instance: Any, attribute: Any, value: Any) -> None:
    if type(value) is not int or value < 0:
        raise ValidationError(f"size must be a non-negative integer, not {value!r:.80}")


@attrs.frozen
class ManifestEntry:
    """
    One stored file: the sha256 of its bytes and their number.
    """

    sha256: str = attrs.field(validator=_check_sha256)
    size: int = attrs.field(validator=_check_size)

    def to_json(self) -> dict[str, Any]:
        """
        ``{"sha256": ..., "size": ...}``.
        """
        return {"sha256": self.sha256, "size": self.size}

    @classmethod
    def from_json(cls, obj: Any) -> ManifestEntry:
        """
        The inverse of :meth:`to_json`.

        Raises:
            ValidationError: ``obj`` is not such an object.
        """
        if not isinstance(obj, Mapping) or set(obj) != {"sha256", "size"}:
            raise ValidationError(f"a manifest entry is {{'sha256': ..., 'size': ...}}, not {obj!r:.120}")
        return cls(obj["sha256"], obj["size"])


class Manifest(Mapping[str, ManifestEntry]):
    """
    The files of an artifact set: normalised relative path -> :class:`ManifestEntry`.

    Immutable, ordered by path, compared by content. ``a | b`` merges two manifests
    (``b`` wins on a path both have).
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, ManifestEntry] | Iterable[tuple[str, ManifestEntry]] = ()) -> None:
        """
        Args:
            entries: path -> entry; paths are normalised.

        Raises:
            UnsafePath: a path is absolute, contains ``..`` or is empty.
            ValidationError: an entry is not a :class:`ManifestEntry`, two paths
                normalise to the same one, or a path is both a file and a folder.
        """
        items = entries.items() if isinstance(entries, Mapping) else entries
        normalised: dict[str, ManifestEntry] = {}
        for path, entry in items:
            key = normalize_artifact_path(path)
            if not isinstance(entry, ManifestEntry):
                raise ValidationError(f"manifest entry for {key!r} is a {type(entry).__name__}, not a ManifestEntry")
            if key in normalised:
                raise ValidationError(f"manifest names {key!r} twice")
            normalised[key] = entry
        folders = {key.rsplit("/", i)[0] for key in normalised for i in range(1, key.count("/") + 1)}
        clash = sorted(folders & normalised.keys())
        if clash:
            raise ValidationError(f"manifest path {clash[0]!r} is both a file and a folder")
        self._entries = dict(sorted(normalised.items()))

    def __getitem__(self, path: str) -> ManifestEntry:
        return self._entries[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Manifest):
            return self._entries == other._entries
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._entries.items()))

    def __or__(self, other: Manifest) -> Manifest:
        if not isinstance(other, Manifest):
            return NotImplemented
        return Manifest({**self._entries, **other._entries})

    def __repr__(self) -> str:
        return f"Manifest({len(self)} files, {self.total_size} bytes)"

    @property
    def total_size(self) -> int:
        """
        The sum of the sizes of all files.
        """
        return sum(entry.size for entry in self._entries.values())

    @property
    def digest(self) -> str:
        """
        sha256 of the canonical JSON of the manifest: one digest for the whole set.
        """
        return hashlib.sha256(canonical_bytes(self.to_json())).hexdigest()

    def to_json(self) -> dict[str, dict[str, Any]]:
        """
        ``{"path": {"sha256": ..., "size": ...}, ...}``, as recorded in events.
        """
        return {path: entry.to_json() for path, entry in self._entries.items()}

    @classmethod
    def from_json(cls, obj: Any) -> Manifest:
        """
        The inverse of :meth:`to_json`.

        Raises:
            UnsafePath: a path would escape its destination.
            ValidationError: ``obj`` is not a manifest object.
        """
        if not isinstance(obj, Mapping):
            raise ValidationError(f"a manifest is a JSON object, not {type(obj).__name__}")
        return cls((path, ManifestEntry.from_json(entry)) for path, entry in obj.items())

    def with_prefix(self, prefix: str) -> Manifest:
        """
        The same files under the folder ``prefix``.
        """
        base = normalize_artifact_path(prefix)
        return Manifest((f"{base}/{path}", entry) for path, entry in self._entries.items())

    def subtree(self, prefix: str) -> Manifest:
        """
        The files under the folder ``prefix``, with the prefix removed (a file named
        exactly ``prefix`` keeps its base name).
        """
        base = normalize_artifact_path(prefix)
        out = {}
        for path, entry in self._entries.items():
            if path.startswith(base + "/"):
                out[path[len(base) + 1:]] = entry
            elif path == base:
                out[base.rsplit("/", 1)[-1]] = entry
        return Manifest(out)


@attrs.frozen
class ArtifactProblem:
    """
    One failed check of :meth:`ArtifactStore.verify`.

    ``actual_sha256`` is None when the object is missing.
    """

    path: str
    expected: ManifestEntry
    actual_sha256: str | None
    actual_size: int | None

    def __str__(self) -> str:
        if self.actual_sha256 is None:
            return (f"{self.path}: stored object is missing "
                    f"(expected sha256 {self.expected.sha256}, {self.expected.size} bytes)")
        return (f"{self.path}: stored bytes changed (expected sha256 {self.expected.sha256}, "
                f"{self.expected.size} bytes; found sha256 {self.actual_sha256}, "
                f"{self.actual_size} bytes)")


def _integrity_error(problem: ArtifactProblem) -> ArtifactIntegrityError:
    error = ArtifactIntegrityError(f"artifact {problem}")
    error.path = problem.path
    error.expected = problem.expected.sha256
    error.actual = problem.actual_sha256
    return error
