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
        events = batch_events(batch_id, rng.randint(1, 6), rng.choice((0, 10, 2000, 40000)))
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
