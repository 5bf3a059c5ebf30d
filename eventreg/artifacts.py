"""
A content-addressed, verified artifact store over fsspec.

(:mod:`eventreg.manifest` holds manifests, :mod:`eventreg.artifact_io` the byte moving.)

Every stored file is an *object* named by the sha256 of its bytes,
``<root>/objects/<sha[:2]>/<sha>``, so the same bytes are stored once however often
they are logged. What a model version consists of is a :class:`Manifest` — relative
path -> (sha256, size) — that goes into the event log; the log alone then says which
bytes each version is, and every read checks them again.

The URL picks the filesystem through :func:`fsspec.core.url_to_fs` (``file://``,
``memory://``, ``s3://bucket/prefix``, ``gs://bucket/prefix``, ``abfs://container/prefix``
and any other installed fsspec protocol). How an object is made visible depends on
what the store offers:

- local disk: copied in the kernel to ``<root>/tmp/`` and fsynced while the copy is
  hashed (sha256 is the slower part, so the flush costs no wall time), then hard-linked
  to its name (``link`` fails if the name exists, so publication is atomic and
  exclusive); if the object exists already the copy is dropped;
- object stores: a local file is hashed first, so an existing object is not uploaded
  again (dedup); otherwise the bytes go straight to their final key — a (multipart)
  upload is invisible until it completes — with exclusive create
  (``pipe_file(mode="create")`` / ``open("xb")``), hashed again while they are sent,
  and the upload is discarded if the two digests differ. A stream that cannot be
  re-read goes to a temporary key and is copied into place.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import inspect
import io
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from eventreg.artifact_io import (
    CHUNK_SIZE,
    UPLOAD_BLOCK_SIZE,
    Source,
    _abandon,
    _advance_callback,
    _copy_local,
    _exclusive_pipe,
    _file_source,
    _fsync_dir,
    _hash_file,
    _hash_remote,
    _new_file,
    _pump,
    _seekable,
    _show,
    _stat,
)
from eventreg.config import redact_url
from eventreg.errors import (
    ArtifactError,
    BackendUnavailable,
    ConfigurationError,
    EventregError,
    MissingDriver,
    UnknownBackend,
    UnsafePath,
    ValidationError,
)
from eventreg.manifest import (
    ArtifactProblem,
    Manifest,
    ManifestEntry,
    _check_sha256,
    _integrity_error,
    normalize_artifact_path,
)
from eventreg.progress import bar


#: Which eventreg extra installs the driver of a protocol (only for error messages;
#: fsspec's own registry decides which filesystem serves a URL).
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "abfs": "azure",
           "abfss": "azure", "az": "azure"}


# -- the store -------------------------------------------------------------------------


def _store_failure(url: str, error: BaseException) -> EventregError:
    """
    The eventreg error for a failure a storage driver raised (boto, google-auth, azure ...).
    """
    shown = redact_url(url)
    name = type(error).__name__
    text = str(error).splitlines()[0] if str(error) else name
    if "credential" in name.lower() or "credential" in text.lower():
        return ConfigurationError(
            f"artifact store {shown}: no usable credentials ({text}); set them the way the "
            "driver expects (e.g. AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "GOOGLE_APPLICATION_CREDENTIALS) or pass key=/secret=/token= storage options"
        )
    if isinstance(error, ConnectionError) or "connect" in name.lower():
        return BackendUnavailable(f"artifact store {shown} is unreachable: {text}")
    return ArtifactError(f"artifact store {shown} failed: {name}: {text}")


def _translated(method: Callable[..., Any]) -> Callable[..., Any]:
    """
    Turn a storage driver's own exceptions into eventreg errors at the store's boundary.
    """
    @functools.wraps(method)
    def wrapper(self: ArtifactStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except EventregError:
            raise
        except Exception as e:
            if type(e).__module__ == "builtins" and not isinstance(e, OSError):
                raise  # a bug of ours or a caller's wrong argument type: keep it visible
            raise _store_failure(self.url, e) from e
    return wrapper


class ArtifactStore:
    """
    A content-addressed store of files at a URL, read back only after verification.

    Example::

        store = ArtifactStore("s3://models/registry", endpoint_url="http://127.0.0.1:9000")
        manifest = store.put_tree("model_dir/")          # path -> ManifestEntry
        store.download(manifest, "restored/")            # checks every sha256
    """

    def __init__(self, url: str | os.PathLike[str], *, progress: bool | None = None,
                 **storage_options: Any) -> None:
        """
        Args:
            url: ``file://path``, ``memory://name``, ``s3://bucket/prefix``,
                ``gs://bucket/prefix``, ``abfs://container/prefix`` or any fsspec URL;
                a plain path means local disk.
            progress: show progress bars (default: on a terminal, above 8 MiB).
            **storage_options: passed to the fsspec filesystem (``endpoint_url``,
                ``key``/``secret``, ``token``, ``profile``, ``connection_string`` ...).
                What is not given comes from fsspec's configuration and the driver's
                usual environment variables (``AWS_*``, ``STORAGE_EMULATOR_HOST`` ...).

        Raises:
            UnknownBackend: no fsspec filesystem handles the URL's protocol.
            MissingDriver: the protocol's driver is not installed (names the extra).
            ConfigurationError: the filesystem rejects the options.
        """
        self.url = os.fspath(url)
        self.progress = progress
        shown = redact_url(self.url)
        protocol = self.url.split("://", 1)[0].lower() if "://" in self.url else "file"
        try:
            import fsspec.core  # here, not at import: opening a registry need not load fsspec

            self.fs, root = fsspec.core.url_to_fs(self.url, **storage_options)
        except ImportError as e:
            extra = _EXTRAS.get(protocol)
            hint = f"pip install 'eventreg[{extra}]'" if extra else f"install the fsspec driver for {protocol}://"
            raise MissingDriver(f"artifact store {protocol}:// needs a driver that is not installed: {hint}") from e
        except ValueError as e:
            if "protocol not known" not in str(e).lower():
                raise ConfigurationError(f"cannot open artifact store {shown}: {e}") from e
            raise UnknownBackend(
                f"no filesystem for artifact store protocol {protocol}:// (for S3 pip install "
                "'eventreg[s3]', for gs:// 'eventreg[gcs]', for abfs:// 'eventreg[azure]')") from e
        except TypeError as e:
            raise ConfigurationError(f"cannot open artifact store {shown}: {e}") from e
        self.root = root.rstrip("/")
        protocols = self.fs.protocol if isinstance(self.fs.protocol, (tuple, list)) else (self.fs.protocol,)
        # Local disk needs OS operations fsspec does not offer (fsync, link); everything
        # else goes through the filesystem's own exclusive create.
        self.local = "file" in protocols or "local" in protocols

    def __repr__(self) -> str:
        return f"ArtifactStore({redact_url(self.url)!r})"

    # -- names ----------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        if self.root or self.local:  # a local root of "/" is stripped to ""
            return "/".join((self.root, *parts))
        return "/".join(parts)

    def object_key(self, sha256: str) -> str:
        """
        Where the object with this digest lives in the filesystem.
        """
        _check_sha256(None, None, sha256)
        return self._key("objects", sha256[:2], sha256)

    def _stored_size(self, key: str) -> int | None:
        self.fs.invalidate_cache(key)
        try:
            info = self.fs.info(key)
        except FileNotFoundError:
            return None
        size = info.get("size")
        return size if info.get("type", "file") == "file" and size is not None else None

    @_translated
    def exists(self, sha256: str, size: int | None = None) -> bool:
        """
        Whether an object with this digest (and, if given, this size) is stored.
        """
        stored = self._stored_size(self.object_key(sha256))
        return stored is not None and (size is None or stored == size)

    # -- writing --------------------------------------------------------------------

    @_translated
    def put(self, source: Source, *, progress: bool | None = None) -> ManifestEntry:
        """
        Store a local file or the rest of a binary file object; return its entry.

        Streams in chunks (memory use does not grow with the file), hashes while it
        writes, and makes the object visible only once it is complete. If an object
        with the same digest exists, nothing is uploaded.

        Args:
            source: a local path, or a file object opened for binary reading.
            progress: show a progress bar (default: the store's setting).

        Returns:
            The :class:`ManifestEntry` of the stored bytes.

        Raises:
            ArtifactError: the source is not a file, changed while it was stored, or
                the store failed.
        """
        path, fileobj = _file_source(source)
        size = os.path.getsize(path) if path is not None else None
        show = _show(self.progress if progress is None else progress, size)
        name = os.path.basename(path) if path is not None else "stream"
        with bar(f"upload {name}", size, progress=show, bytes_=True) as advance:
            return self._put(path, fileobj, advance)

    def _put(self, path: str | None, fileobj: BinaryIO | None,
             advance: Callable[[int], None]) -> ManifestEntry:
        try:
            if path is not None:
                with open(path, "rb", buffering=0) as source:
                    return self._put_stream(source, advance)
            return self._put_stream(fileobj, advance)
        except (ArtifactError, ValidationError):
            raise
        except OSError as e:
            raise ArtifactError(f"storing into {redact_url(self.url)} failed: {e}") from e

    @_translated
    def put_bytes(self, data: bytes, *, progress: bool | None = None) -> ManifestEntry:
        """
        Store ``data``; return its entry (see :meth:`put`).
        """
        show = _show(self.progress if progress is None else progress, len(data))
        with bar("upload bytes", len(data), progress=show, bytes_=True) as advance:
            return self._put(None, io.BytesIO(data), advance)

    @_translated
    def put_tree(self, local_path: str | os.PathLike[str], *, prefix: str | None = None,
                 progress: bool | None = None) -> Manifest:
        """
        Store a file or a whole folder; return its manifest.

        A file is recorded under its base name; a folder's files under their paths
        relative to it (structure kept, empty folders not recorded). Symbolic links
        to files are stored as the file they point to.

        Args:
            local_path: a file or folder on local disk.
            prefix: put everything under this folder of the manifest (e.g. ``"model"``).
            progress: show one progress bar for all files.

        Raises:
            ArtifactError: the path does not exist, or a folder inside is a symbolic
                link (not followed, to keep the tree finite and inside the folder).
        """
        root = Path(local_path)
        if root.is_file():
            files = [(root.name, root)]
        elif root.is_dir():
            files = []
            for folder, dirs, names in os.walk(root):
                for d in sorted(dirs):
                    if os.path.islink(os.path.join(folder, d)):
                        raise ArtifactError(f"{os.path.join(folder, d)} is a symbolic link to a folder; not followed")
                dirs.sort()
                for n in sorted(names):
                    full = Path(folder, n)
                    if not full.is_file():
                        raise ArtifactError(f"{full} is not a regular file (a broken link, a socket ...)")
                    files.append((full.relative_to(root).as_posix(), full))
        else:
            raise ArtifactError(f"no such file or folder: {local_path}")
        total = sum(os.path.getsize(full) for _, full in files)
        show = _show(self.progress if progress is None else progress, total)
        entries = {}
        with bar(f"upload {root.name or local_path}", total, progress=show, bytes_=True) as advance:
            for rel, full in files:
                entries[rel] = self._put(os.fspath(full), None, advance)
        manifest = Manifest(entries)
        return manifest.with_prefix(prefix) if prefix else manifest

    def _put_stream(self, source: BinaryIO, advance: Callable[[int], None]) -> ManifestEntry:
        """
        On an object store, hash a re-readable source first (dedup: no upload if the
        object exists), then upload it while hashing again. On local disk, and for a
        one-way stream, copy once while hashing and publish (or drop) the copy.
        """
        if self.local or not _seekable(source):
            # On local disk one sha256 pass is the cost that matters (a copy that is
            # dropped again never reaches the disk), so no separate dedup pass.
            before = _stat(source)
            entry = self._put_once(source, advance)
            if before is not None and _stat(source) != before:
                raise ArtifactError("the source changed while it was being stored; try again")
            return entry
        start = source.tell()
        hashed = _pump(source, None, lambda n: None)
        entry = ManifestEntry(*hashed)
        stored = self._stored_size(self.object_key(entry.sha256))
        if stored == entry.size:
            advance(entry.size)
            return entry  # dedup: nothing written
        source.seek(start)
        if entry.size <= CHUNK_SIZE:  # one exclusive request
            data = source.read(entry.size + 1)
            if (hashlib.sha256(data).hexdigest(), len(data)) != hashed:
                raise ArtifactError("the source changed while it was being stored; try again")
            self._publish_bytes(entry, data, damaged=stored is not None)
            advance(entry.size)
            return entry
        return self._write_remote(source, advance, entry, damaged=stored is not None)

    def _put_once(self, source: BinaryIO, advance: Callable[[int], None]) -> ManifestEntry:
        if self.local:
            return self._write_local(source, advance, expected=None)
        tmp = self._key("tmp", uuid.uuid4().hex)
        try:
            with self.fs.open(tmp, "wb", block_size=UPLOAD_BLOCK_SIZE) as f:
                written = _pump(source, f.write, advance)
            entry = ManifestEntry(*written)
            if not self.exists(entry.sha256, entry.size):
                self.fs.copy(tmp, self.object_key(entry.sha256))  # no atomic rename on object stores
            return entry
        finally:
            try:
                self.fs.rm_file(tmp)
            except FileNotFoundError:
                pass

    def _write_local(self, source: BinaryIO, advance: Callable[[int], None],
                     expected: ManifestEntry | None) -> ManifestEntry:
        """
        Copy into ``<root>/tmp/``, fsync, then hard-link to the object's name.
        """
        tmp_dir = self._key("tmp")
        os.makedirs(tmp_dir, exist_ok=True)
        tmp = os.path.join(tmp_dir, uuid.uuid4().hex)
        try:
            with open(tmp, "x+b", buffering=0) as out:
                entry = ManifestEntry(*_copy_local(source, out, advance, flush_early=tmp))
                if expected is not None and entry != expected:
                    raise ArtifactError("the source changed while it was being stored; try again")
                final = self.object_key(entry.sha256)
                stored = self._stored_size(final)
                if stored == entry.size:
                    return entry  # stored already (dedup): the copy is dropped
                os.fsync(out.fileno())  # waits for the early flush, reports its errors
            os.makedirs(os.path.dirname(final), exist_ok=True)
            try:
                if stored is None:
                    os.link(tmp, final)  # atomic and exclusive
                else:
                    os.replace(tmp, final)  # a damaged object (wrong size): replace it
            except FileExistsError:
                pass  # another writer stored the same bytes first
            except OSError as e:  # a filesystem without hard links: atomic, not exclusive
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                os.replace(tmp, final)
            _fsync_dir(os.path.dirname(final))
            return entry
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _write_remote(self, source: BinaryIO, advance: Callable[[int], None],
                      entry: ManifestEntry, damaged: bool) -> ManifestEntry:
        """
        Upload straight to the object's key: a (multipart) upload is invisible until it
        completes, and is discarded if the bytes sent are not the ones hashed before.
        """
        final = self.object_key(entry.sha256)
        f = self.fs.open(final, "wb" if damaged else "xb", block_size=UPLOAD_BLOCK_SIZE)
        try:
            sent = _pump(source, f.write, advance)
        except BaseException:
            _abandon(f)
            raise
        if sent != (entry.sha256, entry.size):
            _abandon(f)
            raise ArtifactError("the source changed while it was being stored; try again")
        try:
            f.close()
        except FileExistsError:  # another writer stored the same bytes first
            _abandon(f)
        return entry

    def _publish_bytes(self, entry: ManifestEntry, data: bytes, damaged: bool = False) -> None:
        final = self.object_key(entry.sha256)
        if damaged:  # present with the wrong size: repair
            self.fs.pipe_file(final, data)
            return
        try:
            _exclusive_pipe(self.fs, final, data)
        except FileExistsError:
            pass  # another writer stored the same bytes first

    # -- reading --------------------------------------------------------------------

    @_translated
    def get_file(self, entry: ManifestEntry, dest: str | os.PathLike[str], *,
                 name: str | None = None, progress: bool | None = None) -> None:
        """
        Write the object of ``entry`` to the local file ``dest``, verified.

        The bytes go to a temporary file next to ``dest`` and are moved into place only
        after their size and sha256 match; ``dest`` is never left holding other bytes.

        Raises:
            ArtifactIntegrityError: the object is missing or its bytes differ (names
                ``name`` and both digests).
        """
        name = name or entry.sha256
        dest = os.fspath(dest)
        folder = os.path.dirname(os.path.abspath(dest))
        os.makedirs(folder, exist_ok=True)
        tmp = _new_file(folder)
        show = _show(self.progress if progress is None else progress, entry.size)
        try:
            with bar(f"download {name}", entry.size, progress=show, bytes_=True) as advance:
                actual = self._fetch(entry, tmp, advance)
            if actual != (entry.sha256, entry.size):
                raise _integrity_error(ArtifactProblem(name, entry, *(actual or (None, None))))
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _fetch(self, entry: ManifestEntry, tmp: str | None,
               advance: Callable[[int], None]) -> tuple[str, int] | None:
        """
        Copy the object into the local file ``tmp`` (if given); its actual (sha256,
        size), or None if it is missing. An object of the wrong size is only hashed.
        """
        key = self.object_key(entry.sha256)
        try:
            stored = self._stored_size(key)
            if stored is None:
                return None
            if self.local:
                with open(key, "rb", buffering=0) as src:
                    if tmp is None or stored != entry.size:
                        return _pump(src, None, lambda n: None)
                    with open(tmp, "w+b", buffering=0) as out:
                        return _copy_local(src, out, advance)
            if stored != entry.size:  # do not download what cannot be right
                return _hash_remote(self.fs, key)
            if tmp is None:
                with tempfile.TemporaryDirectory(prefix="eventreg-verify-") as scratch:
                    return self._fetch(entry, os.path.join(scratch, "object"), advance)
            self.fs.get_file(key, tmp, callback=_advance_callback(advance), **self._download_options())
            return _hash_file(tmp)  # from the page cache; the driver wrote the file
        except FileNotFoundError:
            return None
        except OSError as e:
            raise ArtifactError(f"reading from {redact_url(self.url)} failed: {e}") from e

    def _download_options(self) -> dict[str, Any]:
        """
        One streamed request per object where the driver can do it (``max_concurrency=1``).

        s3fs otherwise fetches 50 MiB parts ten at a time and holds each whole in memory
        (up to 500 MiB for a large model); one stream keeps a get's memory bounded, and
        is also faster than parallel ranges on a nearby endpoint.
        """
        try:
            params = inspect.signature(self.fs._get_file).parameters
        except (AttributeError, TypeError, ValueError):
            return {}
        return {"max_concurrency": 1} if "max_concurrency" in params else {}

    @_translated
    def open(self, entry: ManifestEntry, *, name: str | None = None) -> BinaryIO:
        """
        A binary file holding the object's bytes, verified before it is returned.

        The bytes are copied to an anonymous local temporary file first, so nothing
        unverified is ever handed out; use :meth:`download` to keep the files.

        Raises:
            ArtifactIntegrityError: the object is missing or its bytes differ.
        """
        fd, tmp = tempfile.mkstemp(prefix="eventreg-")
        os.close(fd)
        try:
            self.get_file(entry, tmp, name=name)
            return open(tmp, "rb")
        finally:
            try:
                os.unlink(tmp)  # the open handle keeps the bytes (POSIX)
            except OSError:
                pass

    @_translated
    def get_bytes(self, entry: ManifestEntry, *, name: str | None = None) -> bytes:
        """
        The object's bytes, verified.

        Raises:
            ArtifactIntegrityError: the object is missing or its bytes differ.
        """
        key = self.object_key(entry.sha256)
        try:
            data = self.fs.cat_file(key)
        except FileNotFoundError:
            raise _integrity_error(ArtifactProblem(name or entry.sha256, entry, None, None)) from None
        except OSError as e:
            raise ArtifactError(f"reading from {redact_url(self.url)} failed: {e}") from e
        actual = hashlib.sha256(data).hexdigest()
        if (actual, len(data)) != (entry.sha256, entry.size):
            raise _integrity_error(ArtifactProblem(name or entry.sha256, entry, actual, len(data)))
        return data

    @_translated
    def download(self, manifest: Manifest | Mapping[str, Any], dest_dir: str | os.PathLike[str], *,
                 progress: bool | None = None) -> Path:
        """
        Write every file of ``manifest`` under ``dest_dir``, verified; return ``dest_dir``.

        All paths are checked before anything is written. Existing files of the same
        names are replaced.

        Raises:
            UnsafePath: a path is absolute, contains ``..`` or would land outside
                ``dest_dir`` (also through a symbolic link already there).
            ArtifactIntegrityError: an object is missing or its bytes differ.
        """
        if not isinstance(manifest, Manifest):
            manifest = Manifest.from_json(manifest)
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        base = dest.resolve()
        targets = []
        for rel, entry in manifest.items():
            target = (base / rel).resolve()
            if target == base or base not in target.parents:
                raise UnsafePath(f"artifact path {rel!r} would be written outside {dest}")
            targets.append((rel, entry, target))
        show = _show(self.progress if progress is None else progress, manifest.total_size)
        with bar(f"download {dest.name or dest}", manifest.total_size, progress=show, bytes_=True) as advance:
            for rel, entry, target in targets:
                self.get_file(entry, target, name=rel, progress=False)
                advance(entry.size)
        return dest

    @_translated
    def verify(self, manifest: Manifest | Mapping[str, Any]) -> list[ArtifactProblem]:
        """
        Check that every object of ``manifest`` is stored with the right bytes.

        Returns:
            The problems found (empty when all is well); ``str()`` of each names the
            path and both digests.
        """
        if not isinstance(manifest, Manifest):
            manifest = Manifest.from_json(manifest)
        problems = []
        for rel, entry in manifest.items():
            actual = self._fetch(entry, None, lambda n: None)
            if actual != (entry.sha256, entry.size):
                problems.append(ArtifactProblem(rel, entry, *(actual or (None, None))))
        return problems


__all__ = [
    "ArtifactProblem",
    "ArtifactStore",
    "CHUNK_SIZE",
    "Manifest",
    "ManifestEntry",
    "normalize_artifact_path",
]
