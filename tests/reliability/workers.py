"""
Code that runs in other processes for the reliability tests.

Each worker is started with ``python -c`` (see :func:`spawn`) so that a ``kill -9``
hits a plain interpreter with nothing shared with pytest. Workers report progress as
single lines written with one ``os.write`` to stdout, which survive the worker's death
in the pipe: ``B <batch>`` before an append starts, ``D <batch>`` once it returned,
``F <batch> <error>`` when it raised.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def spawn(function: str, *args: Any, stdin: Any = subprocess.DEVNULL) -> subprocess.Popen:
    """
    Start ``tests.reliability.workers.<function>(*args)`` in a fresh interpreter.

    Arguments travel as one JSON document on the command line.
    """
    code = (
        "import json, sys; from tests.reliability import workers; "
        f"workers.{function}(*json.loads(sys.argv[1]))"
    )
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(list(args))],
        cwd=ROOT, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())


# -- crashes: appends of self-describing batches --------------------------------------------


def batch_events(batch_id: str, size: int, pad: int) -> list:
    """
    ``size`` events whose payloads say which batch they belong to and where in it.
    """
    from eventreg.log import NewEvent

    return [NewEvent("crash.test", {"batch": batch_id, "size": size, "index": i, "pad": "x" * pad})
            for i in range(size)]


def crash_writer(url: str, seed: int, max_batches: int, pause: float = 0.0) -> None:
    """
    Append batches of 1-6 events to one of four streams until killed (or done).

    Connection errors are reported (``F``) and the writer carries on, so a test can
    drop the connection under it and watch the next append succeed.
    """
    from eventreg import open_log

    rng = random.Random(seed)
    log = open_log(url)
    _say(f"R {os.getpid()}")
    for k in range(max_batches):
        batch_id = f"{seed}-{k}"
        events = batch_events(batch_id, rng.randint(1, 6), rng.choice((0, 10, 200, 4000)))
        _say(f"B {batch_id}")
        try:
            log.append(f"crash-{rng.randrange(4)}", events)
        except Exception as e:  # reported; the parent decides
            _say(f"F {batch_id} {type(e).__name__}: {str(e)[:200]!r}")
            time.sleep(0.01)
        else:
            _say(f"D {batch_id}")
        if pause:
            time.sleep(pause)
    log.close()
    _say("END")


def parse_report(text: str) -> dict[str, list[str]]:
    """
    Split a crash writer's stdout into started, done and failed batch ids.
    """
    started, done, failed = [], [], []
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "B":
            started.append(rest)
        elif kind == "D":
            done.append(rest)
        elif kind == "F":
            failed.append(rest.split(" ", 1)[0])
    return {"started": started, "done": done, "failed": failed}


# -- concurrent registry writers -------------------------------------------------------------

MODELS = ("alpha", "beta", "gamma")
ALIAS = "production"
COMMANDS = ("register", "metric", "promote", "rollback", "tag")
WEIGHTS = (25, 25, 20, 10, 20)


def projection_text(state: Any) -> str:
    """
    A registry projection as canonical JSON, for comparing two of them exactly.
    """
    from eventreg.domain.codec import converter
    from eventreg.log import canonical_json

    return canonical_json(converter.unstructure(state))


def run_command(reg: Any, rng: random.Random, op: str) -> tuple[str, dict[str, Any]]:
    """
    One random registry command, tagged with the unique ``op`` so the log shows it.

    Returns:
        The command's name and what it returned that the test checks.
    """
    command = rng.choices(COMMANDS, WEIGHTS)[0]
    model = rng.choice(MODELS)
    if command == "register":
        version = reg.register_version(model, tags={"op": op}, code=None)
        return command, {"model": model, "version": version.version}
    latest = reg.get_version(model, "latest").version  # NotFound before the first version
    if command == "metric":
        number = rng.randint(1, latest)
        reg.log_metric(model, number, f"m-{op}", rng.random(), step=rng.randint(0, 10**6))
        return command, {"model": model, "version": number}
    if command == "promote":
        number = rng.randint(1, latest)
        alias = reg.promote(model, number, alias=ALIAS, reason=op)
        return command, {"model": model, "requested": number, "version": alias.version,
                         "reason": alias.reason}
    if command == "rollback":
        alias = reg.rollback(model, alias=ALIAS, reason=op)
        return command, {"model": model, "version": alias.version, "reason": alias.reason}
    number = rng.randint(1, latest)
    reg.set_version_tag(model, number, f"t-{op}", op)
    return command, {"model": model, "version": number}


def registry_worker(url: str, artifacts: str, worker: int, ops: int, seed: int, out_path: str,
                    go_path: str) -> None:
    """
    Run ``ops`` random commands on the shared models; write one JSON line per call.

    Each line is ``{"op", "command", "ok", ...}``; the last line holds the worker's own
    projection and the position it is at, for comparison with a fresh fold.
    """
    import eventreg

    rng = random.Random(seed)
    reg = eventreg.open(url, artifacts=artifacts, actor=f"worker-{worker}", snapshot_every=0)
    out = open(out_path, "w", encoding="utf-8")
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    while not os.path.exists(go_path):
        time.sleep(0.005)
    for i in range(ops):
        op = f"w{worker}-{i}"
        try:
            command, result = run_command(reg, rng, op)
        except Exception as e:  # the test decides which errors are legitimate
            line = {"op": op, "ok": False, "error": type(e).__name__, "message": str(e)[:300]}
        else:
            line = {"op": op, "ok": True, "command": command, **result}
        out.write(json.dumps(line) + "\n")
    state = reg._read_state()
    out.write(json.dumps({"final": True, "position": state.position,
                          "projection": projection_text(state)}) + "\n")
    out.close()
    reg.close()


# -- artifact uploads killed midway ----------------------------------------------------------


def artifact_uploader(log_url: str, artifacts: str, options: dict, seed: int, work_dir: str,
                      size_mb: int) -> None:
    """
    Register versions whose artifacts are large unique files, until killed.
    """
    import eventreg

    rng = random.Random(seed)
    body = rng.randbytes(size_mb * 2**20)
    reg = eventreg.open(log_url, artifacts=artifacts, actor=f"uploader-{seed}", snapshot_every=0,
                        artifact_options=options)
    _say(f"R {os.getpid()}")
    for k in range(10**6):
        folder = Path(work_dir) / f"{seed}-{k}"
        folder.mkdir(parents=True)
        (folder / "weights.bin").write_bytes(f"{seed}-{k}".encode() + body[: rng.randint(1, len(body))])
        (folder / "config.json").write_text(json.dumps({"seed": seed, "k": k}))
        _say(f"B {seed}-{k}")
        reg.register_version("m", artifacts=folder, code=None, tags={"op": f"{seed}-{k}"})
        _say(f"D {seed}-{k}")
