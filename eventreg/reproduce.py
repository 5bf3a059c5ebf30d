"""
``eventreg reproduce``: rebuild a version from its record, re-run it, compare, record.

:func:`reproduce` works in five steps, each from what the version recorded
(:mod:`eventreg.capture`):

1. **code**: clone the recorded checkout (its folder if it still exists, else its
   remote), check out the commit, apply the stored uncommitted diff and write the stored
   untracked files; outside git, write the stored script and package files;
2. **data**: every file or folder dataset is verified by digest before anything runs;
   a dataset inside the code's folder that the code did not bring is copied from where
   it was read; a changed byte stops here with :class:`DataMismatch` naming the file and
   both digests;
3. **environment**: the current interpreter when it already has every recorded
   distribution at its recorded version (and the same Python), else a fresh virtual
   environment in the work folder installed from the recorded requirements with
   ``--no-deps`` (the record is the whole set; ``uv`` when installed, else this
   interpreter's ``pip --python``; both honour their own settings for a wheel cache or an
   offline index, e.g. ``UV_FIND_LINKS``/``UV_OFFLINE`` or ``PIP_FIND_LINKS``/
   ``PIP_NO_INDEX``); an install that fails is recorded as ``failed``;
4. **run**: the recorded command, from the recorded working directory, logging to the
   same registry (the re-run's run is tagged ``eventreg.reproduces`` and registers no
   version);
5. **compare**: params equal, each metric within ``rtol`` (exact by default), artifact
   digests equal — or, for a model logged with a probe set (:mod:`eventreg.capture.probe`),
   its predictions on the recorded inputs equal within ``rtol``; the outcome is appended
   as a ``version.reproduced`` event, and :func:`reproductions` reads them back.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from eventreg import capture
from eventreg.artifacts import ManifestEntry
from eventreg.capture import probe
from eventreg.capture.datasets import fingerprint
from eventreg.capture.environment import current_environment, load_environment, requirements
from eventreg.domain import events as ev
from eventreg.domain.repro_events import VersionReproduced
from eventreg.errors import DataMismatch, NotFound, ValidationError
from eventreg.writer import Plan

__all__ = ["DataMismatch", "Difference", "Reproduction", "ReproductionReport", "reproduce", "reproductions"]

REPRODUCED, NOT_REPRODUCED, FAILED, PLANNED = "reproduced", "not_reproduced", "failed", "planned"
#: How long the re-run may take (seconds; ``EVENTREG_REPRODUCE_TIMEOUT``).
DEFAULT_TIMEOUT = 3600


@attrs.frozen
class Difference:
    """
    One way the re-run differs: ``kind`` is ``param``, ``metric``, ``artifact`` or ``probe``.
    """

    kind: str
    key: str
    original: Any
    reproduced: Any
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"original": self.original, "reproduced": self.reproduced}
        return {**out, "detail": self.detail} if self.detail else out

    def __str__(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.kind} {self.key}: {self.original!r} -> {self.reproduced!r}{extra}"


@attrs.frozen
class ReproductionReport:
    """
    What :func:`reproduce` did and found; ``ok`` when the version was reproduced.
    """

    model: str
    version: int
    outcome: str
    differences: tuple[Difference, ...] = ()
    run_id: str | None = None
    environment: str | None = None
    rtol: float = 0.0
    plan: tuple[str, ...] = ()
    workdir: str | None = None
    reason: str | None = None
    checked: tuple[str, ...] = ()
    probe: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == REPRODUCED

    def summary(self) -> str:
        """
        One line: ``reproduced: params equal, metrics equal, model digest equal`` or
        ``not reproduced: ...`` with each difference.
        """
        if self.outcome == PLANNED:
            return f"plan to reproduce {self.model} version {self.version}"
        if self.outcome == FAILED:
            return f"not reproduced: {self.reason}"
        if self.outcome == REPRODUCED:
            return "reproduced: " + ", ".join(self.checked)
        return "not reproduced: " + "; ".join(str(d) for d in self.differences)


class EnvironmentBuildFailed(Exception):
    """
    The recorded environment could not be installed (reported and recorded as ``failed``).
    """


# -- planning ----------------------------------------------------------------------------


@attrs.define
class _Job:
    """
    Everything :func:`reproduce` needs, worked out before anything is changed.
    """

    model: str
    version: int
    code: dict[str, Any]
    command: dict[str, Any]
    datasets: dict[str, dict[str, Any]]
    env_doc: dict[str, Any] | None
    env_digest: str | None
    reuse: bool
    mismatches: list[str]
    original: Any
    artifacts: dict[str, Any]
    model_path: str | None
    steps: list[str] = attrs.field(factory=list)


def _job(reg: Any, model: str, version: Any, env: str) -> _Job:
    found = reg.get_version(model, version)
    code = dict(found.code or {})
    command = code.get("command") or {}
    if code.get("kind") not in ("git", "files") or not command.get("entry_point"):
        why = (code.get("skipped") or {}).get("code") if isinstance(code.get("skipped"), Mapping) else None
        raise ValidationError(
            f"version {found.version} of {found.name!r} records no code and command to re-run"
            + (f" ({why})" if why else " (registered without capture, or from an interactive session)"))
    original = reg.get_run(found.run_id) if found.run_id else None
    datasets = dict(((found.data or {}).get("datasets") or {})) if isinstance(found.data, Mapping) else {}
    env_doc = None
    digest = (found.environment or {}).get("digest")
    if digest:
        env_doc = load_environment(reg._artifact_store(), found.environment)
    mismatches = _env_mismatches(env_doc) if env_doc is not None else ["no environment document was recorded"]
    if env not in ("auto", "current", "venv"):
        raise ValidationError(f"env must be 'auto', 'current' or 'venv', not {env!r}")
    reuse = env == "current" or (env == "auto" and not mismatches)
    if env == "venv" and env_doc is None:
        raise ValidationError("env='venv' needs the recorded environment document, and none was recorded")
    return _Job(model=found.name, version=found.version, code=code, command=command, datasets=datasets,
                env_doc=env_doc, env_digest=digest, reuse=reuse, mismatches=mismatches, original=original,
                artifacts=dict(found.artifacts), model_path=(found.model_info or {}).get("path"))


def _key(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _env_mismatches(recorded: dict[str, Any]) -> list[str]:
    """
    How the current interpreter differs from the recorded environment (empty: it matches).
    """
    current, _, _ = current_environment()
    out = []
    if current["python"] != recorded["python"] or current["implementation"] != recorded["implementation"]:
        out.append(f"Python {recorded['implementation']} {recorded['python']} recorded, "
                   f"{current['implementation']} {current['python']} here")
    have = {_key(d["name"]): d["version"] for d in current["distributions"]}
    for item in recorded["distributions"]:
        version = have.get(_key(item["name"]))
        if version != item["version"]:
            out.append(f"{item['name']}=={item['version']} recorded, {version or 'not installed'} here")
    return out


def _absolute_url(url: str) -> str:
    """
    A log or artifact URL that means the same from another working directory.
    """
    if url.startswith("memory:"):
        raise ValidationError("a memory:// registry cannot be reached by the re-run; use a file, SQLite or server URL")
    for prefix in ("sqlite:///", "file://"):
        if url.startswith(prefix):
            rest = url[len(prefix):]
            if prefix == "sqlite:///" and (rest.startswith("/") or rest.startswith(":memory:")):
                return url
            if prefix == "file://" and rest.startswith("/"):
                return url
            path, sep, query = rest.partition("?")
            return f"{prefix}{os.path.abspath(path)}{sep}{query}"
    return url


# -- materialising -----------------------------------------------------------------------


def _run_git(*args: str, cwd: Path | None = None) -> None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    if done.returncode != 0:
        raise ValidationError(f"git {' '.join(args[:2])} failed: {done.stderr.strip()[-500:]}")


def _write_entry(store: Any, entry: Mapping[str, Any], dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    store.get_file(ManifestEntry(sha256=entry["sha256"], size=int(entry["size"])), dest)


def _materialise_code(reg: Any, job: _Job, codedir: Path) -> None:
    store = reg._artifact_store()
    code = job.code
    if code["kind"] == "git":
        source = code.get("root") if code.get("root") and Path(code["root"], ".git").exists() else code.get("repo")
        if not code.get("commit"):
            raise ValidationError("the recorded checkout had no commit yet; nothing to check out")
        _run_git("clone", "--quiet", "--no-checkout", str(source), str(codedir))
        _run_git("-c", "advice.detachedHead=false", "checkout", "--quiet", code["commit"], cwd=codedir)
        if code.get("diff"):
            patch = codedir.parent / "uncommitted.diff"
            _write_entry(store, code["diff"], patch)
            _run_git("apply", "--whitespace=nowarn", str(patch), cwd=codedir)
        _unpack(store, code.get("untracked_bundle"), codedir)
    else:
        _unpack(store, code.get("files_bundle"), codedir)


def _unpack(store: Any, bundle: Mapping[str, Any] | None, dest: Path) -> None:
    """
    Extract a stored tar bundle of files (only regular files inside ``dest``).
    """
    if not bundle:
        return
    import io
    import tarfile

    data = store.get_bytes(ManifestEntry(sha256=bundle["sha256"], size=int(bundle["size"])))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        for member in members:  # the bundle holds regular files under relative paths only
            if not member.isfile() or member.name.startswith("/") or ".." in Path(member.name).parts:
                raise ValidationError(f"the stored code bundle holds an unsafe entry {member.name!r}")
        if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
            tar.extractall(dest, members=members, filter="data")
        else:  # pragma: no cover - checked above
            tar.extractall(dest, members=members)  # noqa: S202


def _check_dataset(name: str, ds: Mapping[str, Any], codedir: Path) -> None:
    """
    Verify one file or folder dataset by digest, copying it into the code folder if it
    lived there and the code did not bring it.

    Raises:
        DataMismatch: its digest differs (nothing has run yet).
        NotFound: it is gone.
    """
    recorded = ds.get("digest")
    uri = ds.get("uri")
    if ds.get("kind") not in ("file", "folder") or not recorded or not uri:
        return
    target = codedir / ds["path"] if ds.get("path") else None
    if target is not None and not target.exists():
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
        if not fs.exists(path):
            raise NotFound(f"dataset {name!r} is gone from {uri}")
        fs.get(path, str(target), recursive=ds["kind"] == "folder")
    checked = str(target) if target is not None else uri
    found = fingerprint(checked)["digest"]
    if found != recorded:
        where = uri if target is None or not ds.get("path") else f"{ds['path']} (from {uri})"
        raise DataMismatch(
            f"dataset {name!r} changed: {where} has digest {found}, the version was trained on {recorded}; "
            "nothing was run", path=where, recorded=recorded, found=found)


def _pip_can_target() -> bool:
    """
    Whether this interpreter's pip can install into another environment (``--python``,
    pip >= 22.3): the new environment then needs no pip of its own.
    """
    from importlib import metadata

    try:
        major, minor = (int(p) for p in metadata.version("pip").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (22, 3)


def _local_projects(env_doc: Mapping[str, Any]) -> list[str]:
    """
    Folders of recorded distributions installed from a local folder that still exists
    (a project in development, eventreg itself in a checkout): installed from there.
    """
    out = []
    for item in env_doc["distributions"]:
        url = item.get("direct_url") or ""
        if url.startswith("file://") and not item.get("hash") and Path(url[7:]).is_dir():
            out.append(url[7:])
    return out


def _python_for(job: _Job, venv: Path, steps: list[str], execute: bool) -> str:
    if job.reuse:
        steps.append(f"environment: reuse this interpreter {sys.executable} (it has every recorded distribution)"
                     if not job.mismatches else f"environment: this interpreter {sys.executable}, as asked "
                     f"({len(job.mismatches)} difference(s) from the record)")
        return sys.executable
    assert job.env_doc is not None
    uv = shutil.which("uv")
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    reqs = venv.parent / "requirements.txt"
    extra = _local_projects(job.env_doc)
    # The record lists every distribution (the closure), so nothing is resolved anew:
    # --no-deps installs exactly what was recorded; bytecode is compiled on first import.
    if uv:
        commands = [["uv", "venv", "--quiet", "--python", job.env_doc["python"], str(venv)],
                    ["uv", "pip", "install", "--quiet", "--no-deps", "--python", str(python), "-r", str(reqs), *extra]]
    elif _pip_can_target():
        commands = [[sys.executable, "-m", "venv", "--without-pip", str(venv)],
                    [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                     "--no-compile", "-r", str(reqs), *extra]]
    else:
        commands = [[sys.executable, "-m", "venv", str(venv)],
                    [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "-r", str(reqs),
                     *extra]]
    steps.append(f"environment: build {venv} ({'uv' if uv else 'pip'}; {len(job.env_doc['distributions'])} "
                 f"distributions) because: {'; '.join(job.mismatches[:5])}")
    steps.extend("  $ " + " ".join(c) for c in commands)
    if execute:
        reqs.write_text(requirements(job.env_doc, "uv" if uv else "pip"), encoding="utf-8")
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise EnvironmentBuildFailed(f"building the environment failed: {' '.join(command[:3])}: "
                                             f"{done.stderr.strip()[-800:]}")
    return str(python)


# -- comparing ---------------------------------------------------------------------------


def _same(a: Any, b: Any, rtol: float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b if rtol == 0 else math.isclose(a, b, rel_tol=rtol, abs_tol=0.0)
    return bool(a == b) and type(a) is type(b)


def _compare(reg: Any, job: _Job, version: Any, new: Any,
             rtol: float) -> tuple[list[Difference], list[str], dict[str, Any] | None]:
    original = job.original
    params = original.params if original is not None else version.params
    metrics = original.metrics if original is not None else version.metrics
    differences = []
    for key in sorted(set(params) | set(new.params)):
        a, b = params.get(key), new.params.get(key)
        if key not in new.params or key not in params or not _same(a, b, 0.0):
            differences.append(Difference("param", key, a, b))
    for key in sorted(set(metrics) | set(new.metrics)):
        a, b = metrics.get(key), new.metrics.get(key)
        if a is None or b is None or not _same(float(a), float(b), rtol):
            detail = None
            if a is not None and b is not None:
                detail = f"difference {b - a:+.6g}" + (f", over rtol {rtol:g}" if rtol else "")
            differences.append(Difference("metric", key, a, b, detail))
    model_prefix = (job.model_path + "/") if job.model_path else None
    probe_info = ((version.model_info or {}).get("flavor") or {}).get("probe") if job.model_path else None
    probe_prefix = probe_info["path"] + "/" if probe_info else None
    model_diffs: list[Difference] = []
    for path in sorted(set(job.artifacts) | set(new.artifacts)):
        if probe_prefix and path.startswith(probe_prefix):
            continue  # compared by value below
        a, b = job.artifacts.get(path), new.artifacts.get(path)
        if a is None or b is None or a.sha256 != b.sha256:
            diff = Difference("artifact", path, a.sha256 if a else None, b.sha256 if b else None)
            (model_diffs if model_prefix and path.startswith(model_prefix) else differences).append(diff)
    checked = [f"params {'equal' if not any(d.kind == 'param' for d in differences) else 'differ'}",
               f"metrics {'equal' if not any(d.kind == 'metric' for d in differences) else 'differ'}"
               + (f" within rtol {rtol:g}" if rtol else "")]
    probed = _compare_probe(reg, job, new, probe_info, rtol) if probe_info else None
    if model_prefix:
        checked.append(f"model digest {'equal' if not model_diffs else 'differs'}")
    if probed is not None:
        probed["model_digest"] = "equal" if not model_diffs else "differs"
        verdict = "equal" if probed["equal"] else "differ"
        checked.append(f"probe predictions {verdict}" + (f" within rtol {rtol:g}" if rtol and probed["equal"] else "")
                       + f" ({probed['rows']} row(s))")
        if not probed["equal"]:
            differences.append(Difference("probe", "predictions", f"{probed['rows']} row(s)",
                                          f"{probed['mismatched']} differ", probed.get("detail") or _probe_detail(probed)))
    if model_diffs and not (probed and probed["equal"]):
        differences.extend(model_diffs)  # equal predictions on the probe set stand for unstable files
    others = [p for p in set(job.artifacts) | set(new.artifacts)
              if not (model_prefix and p.startswith(model_prefix)) and not (probe_prefix and p.startswith(probe_prefix))]
    if others:
        checked.append(f"artifact digests {'equal' if not any(d.kind == 'artifact' for d in differences) else 'differ'}")
    return differences, checked, probed


def _probe_detail(probe: Mapping[str, Any]) -> str | None:
    parts = [f"{label} {probe[key]:.3g}" for key, label in (("max_abs_difference", "max abs difference"),
                                                          ("max_rel_difference", "max rel difference"))
             if probe.get(key) is not None]
    return ", ".join(parts) or None


def _compare_probe(reg: Any, job: _Job, new: Any, info: Mapping[str, Any], rtol: float) -> dict[str, Any]:
    """
    The re-run's predictions on the recorded probe inputs against the original's.
    """
    store = reg._artifact_store()
    inputs, predictions = (f"{info['path']}/{name}" for name in (probe.INPUTS, probe.PREDICTIONS))
    out: dict[str, Any] = {"rows": info.get("rows"), "method": info.get("method")}
    a, b = job.artifacts.get(predictions), new.artifacts.get(predictions)
    if a is None or b is None:
        return {**out, "equal": False, "mismatched": info.get("rows"),
                "detail": "the re-run recorded no predictions on the probe set (log_model(..., probe=...))"}
    if job.artifacts[inputs].sha256 != new.artifacts[inputs].sha256:
        return {**out, "equal": False, "mismatched": info.get("rows"), "inputs": "differ",
                "detail": "the re-run predicted on other inputs than the recorded ones"}
    found = probe.compare(store.get_bytes(ManifestEntry(sha256=a.sha256, size=a.size)),
                          store.get_bytes(ManifestEntry(sha256=b.sha256, size=b.size)), rtol)
    return {**out, **found, "inputs": "equal"}


def _record(reg: Any, report: ReproductionReport) -> None:
    event = VersionReproduced(
        model=report.model, version=report.version, outcome=report.outcome,
        differences={f"{d.kind}:{d.key}": d.to_json() for d in report.differences}, run_id=report.run_id,
        environment=report.environment,
        comparison={"rtol": report.rtol, "checked": list(report.checked),
                    **({"probe": report.probe} if report.probe is not None else {})},
        reason=report.reason)
    reg._execute(lambda state: Plan(ev.model_stream(report.model), [event]))


# -- the command -------------------------------------------------------------------------


def reproduce(reg: Any, model: str, version: Any, *, workdir: str | os.PathLike[str] | None = None,
              rtol: float = 0.0, dry_run: bool = False, env: str = "auto", python: str | None = None,
              timeout: float | None = None) -> ReproductionReport:
    """
    Rebuild ``model`` ``version`` from its record, re-run it and compare (see the module).

    Args:
        reg: the registry (the re-run logs to it too).
        model: the model's name.
        version: the version to reproduce (number, label, alias or ``latest``).
        workdir: an empty or new folder to rebuild in (default: a new temporary folder).
        rtol: relative tolerance of each metric (0: exactly equal).
        dry_run: only work out and return the plan (``report.plan``); change nothing.
        env: ``auto`` (this interpreter when it matches the record, else a new virtual
            environment), ``current`` (this interpreter regardless) or ``venv`` (always build).
        python: run with this interpreter instead (overrides ``env``).
        timeout: seconds the re-run may take (default ``EVENTREG_REPRODUCE_TIMEOUT`` or an hour).

    Returns:
        A :class:`ReproductionReport`; its outcome (also when the re-run failed) is
        appended as a ``version.reproduced`` event, except for a dry run.

    Raises:
        DataMismatch: a dataset's digest differs (recorded as ``failed``; nothing ran).
        NotFound: the version, or a dataset, does not exist.
        ValidationError: the version records no command, or ``workdir`` is not empty.
    """
    if not (isinstance(rtol, (int, float)) and rtol >= 0 and math.isfinite(rtol)):
        raise ValidationError(f"rtol must be a finite number >= 0, not {rtol!r}")
    job = _job(reg, model, version, "current" if python else env)
    if workdir is not None:
        base = Path(workdir).absolute()
    elif dry_run:
        base = Path(tempfile.gettempdir()) / "eventreg-reproduce-<new>"
    else:
        base = Path(tempfile.mkdtemp(prefix="eventreg-reproduce-"))
    if base.exists() and any(base.iterdir()):
        raise ValidationError(f"workdir {str(base)!r} is not empty")
    codedir, venv = base / "code", base / "venv"
    steps = job.steps
    code = job.code
    if code["kind"] == "git":
        steps.append(f"code: clone {code.get('root') or code.get('repo')} at {code['commit']}"
                     + (", apply the uncommitted diff" if code.get("diff") else "")
                     + (f", write {len(code.get('untracked') or {})} untracked file(s)" if code.get("untracked") else "")
                     + f" into {codedir}")
    else:
        steps.append(f"code: write {len(code.get('files') or {})} stored file(s) into {codedir}")
    for name, ds in job.datasets.items():
        where = ds.get("uri") or ds.get("kind")
        if ds.get("path"):  # inside the code's folder: the rebuilt copy is checked (the code may bring it)
            where = f"{ds['path']} in the rebuilt code, recorded at {where}"
        steps.append(f"data: verify {name} ({where}) against {ds.get('digest')}")
    if not dry_run:
        base.mkdir(parents=True, exist_ok=True)
        _materialise_code(reg, job, codedir)
        try:
            for name, ds in job.datasets.items():
                _check_dataset(name, ds, codedir)
        except DataMismatch as e:
            _record(reg, ReproductionReport(job.model, job.version, FAILED, environment=job.env_digest,
                                            rtol=float(rtol), reason=str(e)))
            raise
    try:
        runner = python or _python_for(job, venv, steps, execute=not dry_run)
    except EnvironmentBuildFailed as e:
        report = ReproductionReport(job.model, job.version, FAILED, environment=job.env_digest, rtol=float(rtol),
                                    plan=tuple(steps), workdir=str(base), reason=str(e))
        _record(reg, report)
        return report
    command = job.command
    argv = [runner, str(codedir / command["entry_point"]), *command.get("argv", [])[1:]]
    if command.get("module"):
        argv = [runner, "-m", command["module"], *command.get("argv", [])[1:]]
    cwd = codedir / command.get("cwd", ".") if not os.path.isabs(command.get("cwd", ".")) else codedir
    steps.append(f"run: {' '.join(argv)} (in {cwd})")
    steps.append("compare: params equal, metrics " + (f"within rtol {rtol:g}" if rtol else "exactly equal")
                 + ", artifact digests equal; record a version.reproduced event")
    if dry_run:
        return ReproductionReport(job.model, job.version, PLANNED, environment=job.env_digest, rtol=float(rtol),
                                  plan=tuple(steps), workdir=str(base))
    run_ids = base / "run-ids.txt"
    child_env = {**os.environ,
                 "EVENTREG_URL": _absolute_url(reg.log.url), "EVENTREG_ARTIFACTS": _absolute_url(reg.artifacts_url),
                 "EVENTREG_ACTOR": reg.actor, capture.REPRODUCING_ENV: f"{job.model}:{job.version}",
                 capture.RUN_ID_FILE_ENV: str(run_ids)}
    if python is None and not job.reuse:  # the rebuilt environment alone: no packages from the caller's path
        for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE"):
            child_env.pop(name, None)
        child_env["PYTHONNOUSERSITE"] = "1"
    limit = timeout or float(os.environ.get("EVENTREG_REPRODUCE_TIMEOUT") or DEFAULT_TIMEOUT)
    try:
        done = subprocess.run(argv, cwd=cwd, env=child_env, capture_output=True, text=True, timeout=limit)
        failure = None if done.returncode == 0 else (
            f"the re-run exited with {done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}")
    except (OSError, subprocess.TimeoutExpired) as e:
        failure = f"the re-run could not finish: {e}"
    new_ids = run_ids.read_text(encoding="utf-8").split() if run_ids.exists() else []
    if failure is None and not new_ids:
        failure = "the re-run started no eventreg run (does the script call start_run?)"
    if failure is not None:
        report = ReproductionReport(job.model, job.version, FAILED, run_id=new_ids[-1] if new_ids else None,
                                    environment=job.env_digest, rtol=float(rtol), plan=tuple(steps),
                                    workdir=str(base), reason=failure)
        _record(reg, report)
        return report
    new = reg.get_run(new_ids[-1])
    differences, checked, probed = _compare(reg, job, reg.get_version(job.model, job.version), new, float(rtol))
    report = ReproductionReport(
        job.model, job.version, NOT_REPRODUCED if differences else REPRODUCED, tuple(differences),
        run_id=new.id, environment=(new.environment or {}).get("digest"), rtol=float(rtol), plan=tuple(steps),
        workdir=str(base), checked=tuple(checked), probe=probed)
    _record(reg, report)
    return report


# -- reading the record ------------------------------------------------------------------


@attrs.frozen
class Reproduction:
    """
    One recorded reproduction of a version (a ``version.reproduced`` event), as
    ``versions show``, the audit report and the web UI show it.
    """

    model: str
    version: int
    outcome: str
    position: int
    at: Any
    actor: str | None
    run_id: str | None = None
    environment: str | None = None
    differences: dict[str, Any] = attrs.field(factory=dict)
    comparison: dict[str, Any] = attrs.field(factory=dict)
    reason: str | None = None

    @property
    def probe(self) -> dict[str, Any] | None:
        """
        The probe-set comparison (rows, mismatched, largest differences), when one was made.
        """
        return self.comparison.get("probe")

    def summary(self) -> str:
        """
        One line: what was checked, or each difference, or why it failed.
        """
        if self.outcome == REPRODUCED:
            return "reproduced: " + ", ".join(self.comparison.get("checked") or ())
        if self.outcome == FAILED:
            return f"failed: {self.reason}"
        return "not reproduced: " + "; ".join(
            f"{key.replace(':', ' ', 1)}: {d.get('original')!r} -> {d.get('reproduced')!r}"
            + (f" ({d['detail']})" if d.get("detail") else "") for key, d in sorted(self.differences.items()))

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "outcome": self.outcome, "position": self.position,
                "at": self.at.isoformat() if hasattr(self.at, "isoformat") else self.at, "actor": self.actor,
                "run_id": self.run_id, "environment": self.environment, "differences": self.differences,
                "comparison": self.comparison, "reason": self.reason, "summary": self.summary()}


def reproductions(reader: Any, model: str, version: Any = None) -> list[Reproduction]:
    """
    The recorded reproductions of ``model`` (of one ``version`` when given), oldest first.

    Args:
        reader: a registry or a read-only view (``reg.as_of(...)``: as recorded then).
        model: the model's name.
        version: a version reference (number, label, alias), or None for every version.

    Raises:
        NotFound: the model, or the version, does not exist (at the view's moment).
    """
    number = reader.get_version(model, version).version if version is not None else None
    out = []
    for e in reader.history(model, types="version.reproduced"):
        p = e.payload
        if number is not None and p.get("version") != number:
            continue
        out.append(Reproduction(
            model=p["model"], version=p["version"], outcome=p["outcome"], position=e.position, at=e.recorded_at,
            actor=e.actor, run_id=p.get("run_id"), environment=p.get("environment"),
            differences=dict(p.get("differences") or {}), comparison=dict(p.get("comparison") or {}),
            reason=p.get("reason")))
    return out
