"""
The training code of a run, enough to rebuild it: the git commit plus what is not in it.

In a git checkout :func:`capture_code` records the repository, commit, branch, remote URL
(credentials stripped) and dirty flag, and stores in the artifact store the uncommitted
diff (``git diff HEAD --binary``) and the untracked files git does not ignore
(``git ls-files --others --exclude-standard``), each file and the total capped. Outside
git it stores the entry-point script and, when the script lives in a package, that
package's ``.py`` files. Always: the command line (``sys.argv``, the entry point and the
working directory relative to the code's root). Whatever is left out is listed under
``"skipped"`` with the reason, so a record is never silently incomplete.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import sys
from pathlib import Path
from typing import Any

from eventreg.environment import _without_credentials

__all__ = ["capture_code", "command_line"]

#: Largest single untracked or package file stored (bytes); bigger ones are skipped.
MAX_FILE_BYTES = 1 << 20
#: Most bytes of diff plus files stored for one capture; beyond it files are skipped.
MAX_TOTAL_BYTES = 20 << 20
#: Most files stored for one capture.
MAX_FILES = 2000


def _git(folder: str, *args: str, text: bool = True) -> Any:
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=text, timeout=30,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() if text else done.stdout


def entry_point() -> Path | None:
    """
    The script the process was started with, or None (interactive, ``-c``, a notebook).
    """
    main = sys.modules.get("__main__")
    candidate = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else None)
    if not candidate or candidate in ("-c", "-m"):
        return None
    path = Path(candidate).resolve()
    return path if path.is_file() else None


def command_line(root: Path | None) -> dict[str, Any]:
    """
    ``sys.argv``, the entry-point script and the working directory, relative to ``root``.
    """
    script = entry_point()
    cwd = Path(os.getcwd()).resolve()
    out: dict[str, Any] = {"argv": [str(a) for a in sys.argv]}
    if getattr(sys.modules.get("__main__"), "__spec__", None) is not None:
        out["module"] = sys.modules["__main__"].__spec__.name  # python -m NAME
    out["entry_point"] = _relative(script, root) if script else None
    out["cwd"] = _relative(cwd, root)
    return out


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix() or "."
        except ValueError:
            pass
    return str(path)


class _Budget:
    """
    Collects files while the caps allow and stores them as one tar archive (one write to
    the store however many files: a folder of 200 files costs one object, not 200);
    notes what it skips. Each file's own sha256 and size are recorded too.
    """

    def __init__(self, store: Any, max_file: int, max_total: int, exclude: tuple[str, ...] = ()) -> None:
        self.store, self.max_file, self.left, self.exclude = store, max_file, max_total, exclude
        self.files: dict[str, dict[str, Any]] = {}
        self.skipped: dict[str, str] = {}
        self.own = 0
        self._contents: list[tuple[str, bytes, int]] = []

    def add(self, rel: str, path: Path) -> None:
        try:
            stat = path.stat()
        except OSError as e:
            self.skipped[rel] = f"unreadable: {e.strerror}"
            return
        size = stat.st_size
        if self.exclude and str(path.resolve()).startswith(self.exclude):
            self.own += 1
            self.skipped["(registry files)"] = f"{self.own} file(s) of the registry's own log or artifact store"
        elif len(self.files) >= MAX_FILES:
            self.skipped[rel] = f"over {MAX_FILES} files"
        elif size > self.max_file:
            self.skipped[rel] = f"{size:,} bytes, over the {self.max_file:,}-byte file cap"
        elif size > self.left:
            self.skipped[rel] = "over the total size cap"
        else:
            try:
                data = path.read_bytes()
            except OSError as e:
                self.skipped[rel] = f"unreadable: {e.strerror}"
                return
            # "digest", not "sha256": the file is stored inside the bundle, not as an object
            self.files[rel] = {"digest": f"sha256:{hashlib.sha256(data).hexdigest()}", "size": len(data)}
            self._contents.append((rel, data, 0o755 if stat.st_mode & 0o111 else 0o644))
            self.left -= len(data)

    def bundle(self) -> dict[str, Any] | None:
        """
        Store the collected files as one deterministic tar archive; its entry, or None.
        """
        if not self._contents:
            return None
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for rel, data, mode in sorted(self._contents):
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = len(data), mode, 0
                tar.addfile(info, io.BytesIO(data))
        entry = self.store.put_bytes(out.getvalue(), progress=False)
        return {"sha256": entry.sha256, "size": entry.size, "format": "tar"}


def capture_code(store: Any, *, files: bool = True, max_file_bytes: int = MAX_FILE_BYTES,
                 max_total_bytes: int = MAX_TOTAL_BYTES, path: str | None = None,
                 exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """
    The code record of this process (see the module's docstring).

    Args:
        store: the artifact store the diff and files go to.
        files: store the diff and files (False: metadata only, recorded as skipped).
        max_file_bytes, max_total_bytes: the caps.
        path: the folder to look for a checkout from (default: the working directory).
        exclude: absolute path prefixes never stored (the registry's own files).
    """
    folder = str(Path(path or os.getcwd()).resolve())
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top:
        return _git_record(store, folder, Path(top), files, max_file_bytes, max_total_bytes, exclude)
    return _script_record(store, files, max_file_bytes, max_total_bytes, exclude)


def _status(top: Path) -> tuple[str | None, str | None, bool, list[str]] | None:
    """
    Commit, branch, dirty flag and untracked files (not ignored) in one ``git status``.
    """
    out = _git(str(top), "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all")
    if out is None:
        return None
    commit = branch = None
    dirty = False
    untracked = []
    items = out.split("\0")
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("# branch.oid "):
            commit = item[13:] if item[13:] != "(initial)" else None
        elif item.startswith("# branch.head "):
            branch = item[14:] if item[14:] != "(detached)" else None
        elif item.startswith("? "):
            untracked.append(item[2:])
        elif item[:2] in ("1 ", "2 ", "u "):
            dirty = True
            if item.startswith("2 "):
                i += 1  # a rename's original path follows
        i += 1
    return commit, branch, dirty, untracked


def _git_record(store: Any, folder: str, top: Path, files: bool, max_file: int, max_total: int,
                exclude: tuple[str, ...]) -> dict[str, Any]:
    status = _status(top)
    commit, branch, dirty, untracked = status if status is not None else (None, None, False, [])
    remote = _git(folder, "config", "--get", "remote.origin.url")
    record: dict[str, Any] = {
        "kind": "git",
        "repo": _without_credentials(remote) if remote else str(top),
        "root": str(top),
        "commit": commit,
        "branch": branch,
        "dirty": dirty,
        "command": command_line(top),
    }
    if remote:
        record["remote"] = _without_credentials(remote)
    skipped: dict[str, str] = {}
    if status is None:
        skipped["status"] = "git status failed"
    if not files:
        skipped["diff"] = skipped["untracked"] = "capture=light"
    else:
        budget = _Budget(store, max_file, max_total, exclude)
        if commit and dirty:
            diff = _git(str(top), "diff", "HEAD", "--binary", text=False)
            if diff is None:
                skipped["diff"] = "git diff failed"
            elif len(diff) > max_total:
                skipped["diff"] = f"{len(diff):,} bytes, over the total size cap"
            else:
                entry = store.put_bytes(diff, progress=False)
                record["diff"] = {"sha256": entry.sha256, "size": entry.size}
                budget.left -= entry.size
        elif not commit:
            skipped["diff"] = "no commit yet: every file is untracked"
        for rel in untracked:
            budget.add(rel, top / rel)
        if budget.files:
            record["untracked"] = budget.files
            record["untracked_bundle"] = budget.bundle()
        skipped.update({f"untracked:{k}": v for k, v in budget.skipped.items()})
    if skipped:
        record["skipped"] = skipped
    return record


def _installed(script: Path) -> bool:
    """
    Whether ``script`` belongs to an installed distribution (site-packages, a console script).
    """
    import sysconfig

    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "scripts")}
    return any(script.is_relative_to(Path(r).resolve()) for r in roots if r)


def _package_root(script: Path) -> Path:
    """
    The folder holding the script's top-level package, or the script's folder.
    """
    folder = script.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


def _script_record(store: Any, files: bool, max_file: int, max_total: int,
                   exclude: tuple[str, ...]) -> dict[str, Any]:
    script = entry_point()
    if script is None:
        return {"kind": "none", "command": command_line(None),
                "skipped": {"code": "not in a git checkout and no entry-point script (interactive or -c)"}}
    root = _package_root(script)
    record: dict[str, Any] = {"kind": "files", "root": str(root), "command": command_line(root)}
    if _installed(script):
        record["kind"] = "installed"
        record["skipped"] = {"files": "the entry point is installed code (its distribution is in the environment)"}
        return record
    if not files:
        record["skipped"] = {"files": "capture=light"}
        return record
    budget = _Budget(store, max_file, max_total, exclude)
    budget.add(script.relative_to(root).as_posix(), script)
    if script.parent != root or (script.parent / "__init__.py").is_file():
        package = script.relative_to(root).parts[0]
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel not in budget.files and "__pycache__" not in path.parts:
                budget.add(rel, path)
    record["files"] = budget.files
    record["files_bundle"] = budget.bundle()
    if budget.skipped:
        record["skipped"] = {f"files:{k}": v for k, v in budget.skipped.items()}
    return record
