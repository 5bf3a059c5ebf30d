"""
How the artifact store moves bytes: streaming with hashing, kernel copies, and what a
filesystem offers (exclusive create, fsync of folders). Used by :mod:`eventreg.artifacts`.
"""

from __future__ import annotations

import errno
import hashlib
import inspect
import io
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Union

from eventreg.errors import ArtifactError

#: Bytes read and hashed at a time (memory use of a put or get is about twice this).
CHUNK_SIZE = 8 * 2**20
#: Block size of uploads to object stores (s3fs' default of 50 MiB would be buffered whole).
UPLOAD_BLOCK_SIZE = 16 * 2**20
#: Below this size no progress bar is shown unless one is asked for.
PROGRESS_THRESHOLD = 8 * 2**20


Source = Union[str, "os.PathLike[str]", BinaryIO]


# -- streaming helpers -----------------------------------------------------------------


def _pump(source: BinaryIO, write: Callable[[Any], Any] | None,
          advance: Callable[[int], None]) -> tuple[str, int]:
    """
    Copy ``source`` to ``write`` chunk by chunk, hashing each chunk in a second thread
    while it is written; the (sha256, size) read.

    Reads into two reused buffers when the source has ``readinto`` (no allocation per
    chunk), so memory use is two chunks whatever the size.
    """
    digest = hashlib.sha256()
    size = 0
    readinto = getattr(source, "readinto", None)
    buffers = [memoryview(bytearray(CHUNK_SIZE)) for _ in range(2)] if readinto else None
    with ThreadPoolExecutor(1, thread_name_prefix="eventreg-hash") as pool:
        pending = None
        turn = 0
        while True:
            if buffers is not None:
                buffer = buffers[turn]
                turn ^= 1
                n = readinto(buffer)  # this buffer's previous hash finished one turn ago
                chunk = buffer[:n] if n else b""
            else:
                chunk = source.read(CHUNK_SIZE)
            if not chunk:
                break
            if pending is not None:
                pending.result()
            pending = pool.submit(digest.update, chunk)  # hashlib releases the GIL
            if write is not None:
                write(chunk)
            size += len(chunk)
            advance(len(chunk))
        if pending is not None:
            pending.result()
    return digest.hexdigest(), size


def _copy_local(source: BinaryIO, out: BinaryIO, advance: Callable[[int], None],
                flush_early: str | None = None) -> tuple[str, int]:
    """
    Copy between two local files in the kernel (``copy_file_range``) while hashing what
    has landed in ``out`` (opened for reading too); falls back to :func:`_pump`.

    The digest is of the bytes in ``out``, so it names exactly what was stored.

    Args:
        flush_early: the path of ``out``: once the kernel copy is done (it runs several
            times faster than sha256), the copying thread starts flushing the file to
            disk with an fsync of its own descriptor while the hash catches up, without
            holding up the return. The caller's own fsync of ``out`` afterwards then finds
            little left to write, and is still the one that makes the copy durable and
            reports write errors (a separate open file sees them too).
    """
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is None or not isinstance(source, io.FileIO):  # a buffered reader's offset
        return _pump(source, out.write, advance)                 # is not the descriptor's
    src_fd, out_fd = source.fileno(), out.fileno()
    flush_fd = os.open(flush_early, os.O_RDONLY) if flush_early is not None else None
    state = {"done": 0, "finished": False, "error": None}
    changed = threading.Condition()

    def copier() -> None:
        try:
            while True:
                n = copy_range(src_fd, out_fd, CHUNK_SIZE)
                if n == 0:
                    break
                with changed:
                    state["done"] += n
                    changed.notify()
        except BaseException as e:  # handed to the caller below
            state["error"] = e
        finally:
            with changed:
                state["finished"] = True
                changed.notify()
        if flush_fd is not None:
            try:
                if state["error"] is None and state["done"]:
                    os.fsync(flush_fd)  # overlaps with the hashing of the tail
            except OSError:
                pass  # the caller's fsync reports it
            finally:
                os.close(flush_fd)

    thread = threading.Thread(target=copier, name="eventreg-copy", daemon=True)
    thread.start()
    digest = hashlib.sha256()
    hashed = 0
    view = memoryview(bytearray(CHUNK_SIZE))
    while True:
        with changed:
            while hashed >= state["done"] and not state["finished"]:
                changed.wait()
            available, finished = state["done"], state["finished"]
        while hashed < available:
            n = os.preadv(out_fd, [view[:min(CHUNK_SIZE, available - hashed)]], hashed)
            if n <= 0:
                raise ArtifactError("a local file shrank while it was being copied")
            digest.update(view[:n])
            hashed += n
            advance(n)
        if finished and hashed >= state["done"]:
            break
    if flush_fd is None:
        thread.join()  # otherwise it may still be flushing: a duplicate need not wait
    error = state["error"]
    if error is not None:
        if state["done"] == 0 and isinstance(error, OSError) and error.errno in (
                errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF):
            return _pump(source, out.write, advance)  # no kernel copy between these
        raise error
    return digest.hexdigest(), hashed


def _hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    with open(path, "rb", buffering=0) as f:
        return _pump(f, None, lambda n: None)


def _file_source(source: Source) -> tuple[str | None, BinaryIO | None]:
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise ArtifactError(f"not a file: {path}")
        return path, None
    if not hasattr(source, "read"):
        raise ArtifactError(f"put() takes a path or a binary file object, not {type(source).__name__}")
    return None, source


def _new_file(folder: str) -> str:
    """
    Create an empty, uniquely named hidden file in ``folder`` (mode 0666 minus the umask,
    unlike ``mkstemp``'s 0600, because it becomes the user's file).
    """
    while True:
        path = os.path.join(folder, f".eventreg-{uuid.uuid4().hex}.part")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return path
        except FileExistsError:
            continue


def _stat(fileobj: BinaryIO) -> tuple[int, int] | None:
    try:
        info = os.fstat(fileobj.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return info.st_size, info.st_mtime_ns


def _seekable(fileobj: BinaryIO) -> bool:
    try:
        return bool(fileobj.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _show(progress: bool | None, size: int | None) -> bool | None:
    if progress is None and (size is None or size < PROGRESS_THRESHOLD):
        return False
    return progress


# -- filesystem capabilities ------------------------------------------------------------


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible on every platform
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _exclusive_pipe(fs: Any, path: str, data: bytes) -> None:
    """
    Write ``data`` to ``path`` in one request that fails if ``path`` exists.

    fsspec's newer drivers take ``mode="create"``, adlfs takes ``overwrite=False``.
    """
    params = inspect.signature(fs.pipe_file).parameters
    if "mode" in params:
        fs.pipe_file(path, data, mode="create")
    elif "overwrite" in params:
        fs.pipe_file(path, data, overwrite=False)
    else:
        if fs.exists(path):
            raise FileExistsError(path)
        fs.pipe_file(path, data)


def _abandon(f: Any) -> None:
    """
    Throw away an unfinished upload without publishing it (aborts a multipart upload).
    """
    try:
        f.discard()
    except Exception:
        pass
    f.closed = True  # so that close() from the garbage collector does not commit it


def _hash_remote(fs: Any, key: str) -> tuple[str, int]:
    with fs.open(key, "rb", block_size=UPLOAD_BLOCK_SIZE) as f:
        return _pump(f, None, lambda n: None)


def _advance_callback(advance: Callable[[int], None]) -> Any:
    """
    An fsspec transfer callback that drives an ``advance(n)`` function.
    """
    from fsspec.callbacks import Callback

    class _Advance(Callback):
        def __init__(self) -> None:
            super().__init__()
            self._seen = 0

        def call(self, *args: Any, **kwargs: Any) -> None:
            if self.value > self._seen:
                advance(self.value - self._seen)
                self._seen = self.value

    return _Advance()
