"""
Benchmark of the SQL event log against the physical limit: stdlib sqlite3 doing the same inserts.

On a SQLite file: 20,000 single-event appends, 100,000 events in batches of 100, then
``read_all`` of everything with decoded payloads. The baseline writes the same rows
(same table definition, same values, same transaction per append) with plain
``sqlite3`` and the same PRAGMAs (WAL, the same ``synchronous`` and ``wal_autocheckpoint``),
in the same run: each append measurement is cut into 10 slices and raw and eventreg take
turns slice by slice (a slow phase of a shared machine falls on both), each on its own
file; a measurement is the sum of its slices, and the best of ``--repeat`` counts.
eventreg additionally validates and encodes each event, checks the stream version and
computes the hash chain, and guards each
insert with the previous event's hash: that is what the ratio prices. eventreg sends an
append's rows as multi-row ``INSERT`` statements, so a reference row also prices it
against raw ``sqlite3`` doing that.

``--with-eventsourcing`` adds calibration rows: the Python ``eventsourcing`` library's own
SQLite persistence doing the same workload in the same run, measured against the same raw
rows. It runs in another interpreter that has eventsourcing installed (never a dependency
of eventreg; this script re-runs itself there in a worker mode that imports nothing from
eventreg), made once with::

    python -m venv .venv-es && .venv-es/bin/pip install eventsourcing

(``--es-python`` or ``EVENTREG_ES_PYTHON`` points at another interpreter; default
``.venv-es/bin/python``). Its path is the one an eventsourcing ``Application`` takes on
SQLite: ``SQLiteApplicationRecorder.insert_events`` of ``StoredEvent`` objects built
before the clock starts (their ``state`` the same payload JSON as the raw rows), one call
per append, on a fresh file in WAL mode with the run's ``synchronous``; reads page through
``select_notifications`` (2,000 per call, as eventreg's ``read_all``) and decode each
``state`` with the library's ``JSONTranscoder``.

With a reachable PostgreSQL server (``EVENTREG_PG_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``) it adds a row for 4 writer
processes appending single events at once.

``--read-against TREE --read-db DB`` measures only ``read_all`` decoded on an existing
SQLite log (e.g. replay_bench's 1,000,000 events) against another checkout of eventreg
(e.g. ``git worktree add ../old 05a4482``, the last commit with the C modules, run with
``EVENTREG_PURE_PYTHON=1``: the pure-Python path before msgspec): each pass is a fresh
process, this tree and that one taking turns, and the table shows events/s and CPU
µs/event of both and their ratio (best and median of the passes).

Usage::

    python benchmarks/log_bench.py [--singles 20000] [--batches 1000] [--repeat 3]
                                   [--synchronous FULL|NORMAL] [--no-postgres] [--verbose]
                                   [--with-eventsourcing [--es-python PATH]]
    python benchmarks/log_bench.py --read-against TREE --read-db DB [--repeat 5]

``BENCH_DIR`` picks the folder for the database files (default: the system temp dir).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

#: True in the eventsourcing worker, which runs in an interpreter without eventreg (or
#: sqlalchemy) and must import nothing from it.
_ES_WORKER = __name__ == "__main__" and sys.argv[1:2] == ["--es-worker"]
if not _ES_WORKER:
    from sqlalchemy.dialects import sqlite as sqlite_dialect
    from sqlalchemy.schema import CreateIndex, CreateTable

    from eventreg import NewEvent, open_log
    from eventreg.backends import sql_connections, sql_statements
    from eventreg.backends import sql_schema

HERE = Path(__file__).resolve().parent
DEFAULT_ES_PYTHON = os.environ.get("EVENTREG_ES_PYTHON", str(HERE.parent / ".venv-es" / "bin" / "python"))
ES_READ_PAGE = 2_000

SINGLE_STREAMS = 100
BATCH_SIZE = 100
BATCH_STREAMS = 10


def payload(i: int) -> dict:
    """
    A typical registry event: a metric logged at a step of a run.
    """
    return {"run": "run-7f3a", "key": "val_loss", "value": 1.0 / (i + 1), "step": i}


# -- raw sqlite3: the physical limit ---------------------------------------------------


def raw_connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA wal_autocheckpoint={sql_connections.WAL_AUTOCHECKPOINT}")  # as eventreg's connections
    dialect = sqlite_dialect.dialect()
    table = sql_schema.events  # the very same table definition and indexes
    conn.execute(str(CreateTable(table).compile(dialect=dialect)))
    for index in table.indexes:
        conn.execute(str(CreateIndex(index).compile(dialect=dialect)))
    return conn


def appends(count: int, streams: int, batch: int) -> list[list[tuple[int, int, int]]]:
    """
    The workload's appends in order: per append, its events as (stream index, global
    position, stream version); appends go round the streams.
    """
    versions = [0] * streams
    out, position = [], 0
    for n in range(count // batch):
        s = n % streams
        group = []
        for _ in range(batch):
            position += 1
            versions[s] += 1
            group.append((s, position, versions[s]))
        out.append(group)
    return out


def raw_rows(count: int, streams: int, batch: int) -> list[list[tuple]]:
    """
    The rows eventreg would write, grouped per append (built before the clock starts).
    """
    out, prev = [], "0" * 64
    for events in appends(count, streams, batch):
        group = []
        for s, position, version in events:
            text = json.dumps(payload(position), sort_keys=True, separators=(",", ":"))
            digest = hashlib.sha256(text.encode()).hexdigest()
            group.append((position, f"run:{s}", version, "metric.logged", 1,
                          "2026-11-27T12:00:00.000000Z", "bench", text, "{}", prev, digest))
            prev = digest
        out.append(group)
    return out


#: slices an append measurement is cut into, raw sqlite3 and eventreg taking turns, so
#: that a slow phase of the shared machine (CPU steal, a slow fsync) falls on both
SLICES = 10


def _slices(items: list) -> list[list]:
    size = -(-len(items) // SLICES)
    return [items[i:i + size] for i in range(0, len(items), size)]


def taking_turns(*runs: Iterator[tuple[float, float]]) -> list[tuple[float, float]]:
    """
    Each run's slices in turn (first slice of each, then the second ...); per run, the
    summed (wall, CPU) seconds.
    """
    totals = [(0.0, 0.0)] * len(runs)
    try:
        for steps in zip(*runs):
            totals = [(wall + w, used + u) for (wall, used), (w, u) in zip(totals, steps)]
    finally:
        for run in runs:
            run.close()
    return totals


def raw_append(path: Path, groups: list[list[tuple]], synchronous: str) -> Iterator[tuple[float, float]]:
    """
    The physical limit: the rows, one transaction per append; (wall, CPU) seconds per slice.
    """
    conn = raw_connect(path, synchronous)
    insert = sql_schema.compile_statements(sqlite_dialect.dialect(paramstyle="qmark"))["insert"].text
    try:
        for part in _slices(groups):
            started, cpu = time.perf_counter(), time.process_time()
            for group in part:
                conn.execute("BEGIN IMMEDIATE")
                if len(group) == 1:
                    conn.execute(insert, group[0])
                else:
                    conn.executemany(insert, group)
                conn.execute("COMMIT")
            yield time.perf_counter() - started, time.process_time() - cpu
    finally:
        conn.close()


def raw_multirow_append(path: Path, groups: list[list[tuple]], synchronous: str) -> tuple[float, float]:
    """
    The same rows, each append's in multi-row ``INSERT ... VALUES (...), (...)`` statements
    of up to 64 rows (as eventreg writes them) instead of ``executemany``: a stricter
    baseline than the issue's, printed for reference.
    """
    conn = raw_connect(path, synchronous)
    texts = sql_statements.Statements(sql_statements.SQLITE_STATEMENTS)
    statements = texts.insert_texts  # [n]: the INSERT of n rows
    flat = [[[value for row in group[i:i + 64] for value in row] for i in range(0, len(group), 64)]
            for group in groups]
    started, cpu = time.perf_counter(), time.process_time()
    for chunks in flat:
        conn.execute("BEGIN IMMEDIATE")
        for chunk in chunks:
            conn.execute(statements[len(chunk) // 11], chunk)
        conn.execute("COMMIT")
    elapsed = (time.perf_counter() - started, time.process_time() - cpu)
    conn.close()
    return elapsed


def raw_encode_append(path: Path, groups: list[list[tuple]], synchronous: str) -> tuple[float, float]:
    """
    The same inserts, with the loop also encoding each payload and chaining its hash.

    What a minimal hand-written tamper-evident log must do at least; eventreg against
    this is the cost of the library itself (validation, envelopes, records).
    """
    conn = raw_connect(path, synchronous)
    insert = sql_schema.compile_statements(sqlite_dialect.dialect(paramstyle="qmark"))["insert"].text
    dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
    sha256 = hashlib.sha256
    inputs = [[(row[0], row[1], row[2], json.loads(row[7])) for row in group] for group in groups]
    started, cpu = time.perf_counter(), time.process_time()
    prev = "0" * 64
    for group in inputs:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        rows = []
        for position, stream, version, data in group:
            text = dumps(data)
            head = dumps([position, stream, version, "metric.logged", 1, stamp, "bench"])
            digest = sha256(bytes.fromhex(prev) + f"{head[:-1]},{text},{{}}]".encode()).hexdigest()
            rows.append((position, stream, version, "metric.logged", 1, stamp, "bench", text, "{}", prev, digest))
            prev = digest
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, rows)
        conn.execute("COMMIT")
    elapsed = (time.perf_counter() - started, time.process_time() - cpu)
    conn.close()
    return elapsed


def raw_read(path: Path) -> tuple[float, float]:
    conn = sqlite3.connect(path)
    started, cpu = time.perf_counter(), time.process_time()
    rows = conn.execute("SELECT * FROM eventreg_events ORDER BY position").fetchall()
    decoded = [json.loads(row[7]) for row in rows]
    elapsed = (time.perf_counter() - started, time.process_time() - cpu)
    conn.close()
    assert decoded
    return elapsed


# -- eventreg --------------------------------------------------------------------------


def eventreg_append(url: str, count: int, streams: int, batch: int,
                    synchronous: str) -> Iterator[tuple[float, float]]:
    """
    The same appends through eventreg; (wall, CPU) seconds per slice.
    """
    log = open_log(url, actor="bench", sqlite_synchronous=synchronous)
    versions = [0] * streams
    groups = []
    i = 0
    for n in range(count // batch):
        groups.append((f"run:{n % streams}", n % streams, [NewEvent("metric.logged", payload(i + k))
                                                          for k in range(batch)]))
        i += batch
    try:
        for part in _slices(groups):
            started, cpu = time.perf_counter(), time.process_time()
            for stream, s, group in part:
                log.append(stream, group, expected_version=versions[s])
                versions[s] += batch
            yield time.perf_counter() - started, time.process_time() - cpu
    finally:
        log.close()


def eventreg_read(url: str, expected: int) -> tuple[float, float]:
    log = open_log(url)
    started, cpu = time.perf_counter(), time.process_time()
    count = 0
    for event in log.read_all():
        count += 1
    elapsed = (time.perf_counter() - started, time.process_time() - cpu)
    log.close()
    assert count == expected, (count, expected)
    return elapsed


# -- the eventsourcing library (runs in its own interpreter: imports nothing from eventreg) --


def es_recorder(path: str, synchronous: str):
    """
    eventsourcing's SQLite application recorder on ``path``, its connections with ``synchronous``.

    The library opens its connections in WAL mode and sets no ``synchronous`` (SQLite's
    default, FULL); its pool is given the run's setting on every connection it creates.
    """
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteConnectionPool, SQLiteDatastore

    class Pool(SQLiteConnectionPool):
        def _create_connection(self):
            conn = super()._create_connection()
            with conn.cursor() as cursor:
                cursor.execute(f"PRAGMA synchronous={synchronous}")
            return conn

    datastore = SQLiteDatastore(path)
    datastore.pool.close()
    datastore.pool = Pool(db_name=path)
    recorder = SQLiteApplicationRecorder(datastore)
    recorder.create_table()
    with datastore.transaction(commit=False) as c:
        c.execute("PRAGMA journal_mode")
        mode = c.fetchone()[0]
        c.execute("PRAGMA synchronous")
        level = c.fetchone()[0]
    assert mode.lower() == "wal", mode
    assert level == {"FULL": 2, "NORMAL": 1}[synchronous], level
    return datastore, recorder


def es_append(path: str, count: int, streams: int, batch: int, synchronous: str) -> tuple[float, float]:
    from eventsourcing.persistence import JSONTranscoder, StoredEvent

    datastore, recorder = es_recorder(path, synchronous)
    encode = JSONTranscoder().encode
    ids = [uuid.uuid4() for _ in range(streams)]
    groups = [[StoredEvent(originator_id=ids[s], originator_version=version, topic="bench:MetricLogged",
                           state=encode(payload(position))) for s, position, version in events]
              for events in appends(count, streams, batch)]
    insert_events = recorder.insert_events
    started, cpu = time.perf_counter(), time.process_time()
    for group in groups:
        insert_events(group)
    elapsed = (time.perf_counter() - started, time.process_time() - cpu)
    assert recorder.max_notification_id() == count
    datastore.close()
    return elapsed


def es_read(path: str, expected: int, synchronous: str) -> tuple[float, float]:
    from eventsourcing.persistence import JSONTranscoder

    datastore, recorder = es_recorder(path, synchronous)
    decode = JSONTranscoder().decode
    select = recorder.select_notifications
    started, cpu = time.perf_counter(), time.process_time()
    decoded, start = [], 1
    while True:
        page = select(start, ES_READ_PAGE)
        decoded.extend(decode(n.state) for n in page)
        if len(page) < ES_READ_PAGE:
            break
        start = page[-1].id + 1
    elapsed = (time.perf_counter() - started, time.process_time() - cpu)
    datastore.close()
    assert len(decoded) == expected, (len(decoded), expected)
    return elapsed


def es_worker(job: dict) -> dict:
    from importlib.metadata import version

    if job["op"] == "append":
        wall, used = es_append(job["path"], job["count"], job["streams"], job["batch"], job["synchronous"])
    else:
        wall, used = es_read(job["path"], job["count"], job["synchronous"])
    assert not any(m == "eventreg" or m.startswith("eventreg.") for m in sys.modules)
    return {"wall": wall, "cpu": used, "version": version("eventsourcing")}


def run_es(python: str, folder: Path, **job) -> tuple[float, float]:
    """
    One eventsourcing measurement in its interpreter; (wall, CPU) seconds.
    """
    done = subprocess.run([python, str(Path(__file__).resolve()), "--es-worker", json.dumps(job)],
                          check=True, capture_output=True, text=True, cwd=folder)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    run_es.version = result["version"]
    return result["wall"], result["cpu"]


# -- PostgreSQL: 4 writer processes ----------------------------------------------------


def _pg_writer(url: str, stream: str, count: int, barrier) -> None:
    log = open_log(url, actor="bench")
    barrier.wait(60)
    for i in range(count):
        log.append(stream, [NewEvent("metric.logged", payload(i))], expected_version=i)
    log.close()


def postgres_row(per_writer: int, writers: int = 4) -> tuple[float, float] | str:
    """
    Events/s of ``writers`` processes appending single events, and of one process alone.
    """
    import sqlalchemy as sa

    admin_url = os.environ.get("EVENTREG_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2})
        with admin.connect():
            pass
    except Exception as e:  # no server: the row says why
        return f"PostgreSQL not reachable ({type(e).__name__})"
    name = f"eventreg_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        open_log(url).close()  # create the schema once
        ctx = multiprocessing.get_context("spawn")
        results = []
        for n in (writers, 1):
            barrier = ctx.Barrier(n + 1)
            procs = [ctx.Process(target=_pg_writer, args=(url, f"w{n}-{w}", per_writer, barrier))
                     for w in range(n)]
            for p in procs:
                p.start()
            barrier.wait(60)
            started = time.perf_counter()
            for p in procs:
                p.join()
            results.append(n * per_writer / (time.perf_counter() - started))
        with open_log(url) as log:
            assert log.verify().ok
        return results[0], results[1]
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


# -- read_all against another checkout ------------------------------------------------

#: one pass of ``read_all`` in a fresh process, importing eventreg from its PYTHONPATH
_READ_PASS = """
import json, sys, time
from eventreg import open_log
log = open_log("sqlite:///" + sys.argv[1])
started, cpu = time.perf_counter(), time.process_time()
count = 0
for event in log.read_all():
    count += 1
print(json.dumps([time.perf_counter() - started, time.process_time() - cpu, count]))
"""


def read_pass(tree: str, db: str, pure_python: bool) -> tuple[float, float, int]:
    """
    (wall, CPU, events) of one ``read_all`` of ``db`` by the eventreg in ``tree``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTREG_")}
    env["PYTHONPATH"] = tree
    if pure_python:
        env["EVENTREG_PURE_PYTHON"] = "1"  # an older tree with C modules: its Python path
    done = subprocess.run([sys.executable, "-c", _READ_PASS, db], env=env, check=True, capture_output=True,
                          text=True, cwd=tempfile.gettempdir())
    wall, used, count = json.loads(done.stdout.strip().splitlines()[-1])
    return wall, used, count


def read_against(other: str, db: str, repeat: int) -> int:
    """
    The table of ``--read-against``: this tree's ``read_all`` and ``other``'s, taking turns.
    """
    import statistics

    here = str(HERE.parent)
    runs: dict[str, list[tuple[float, float, int]]] = {"this": [], "other": []}
    for n in range(repeat):
        order = [("other", other), ("this", here)] if n % 2 == 0 else [("this", here), ("other", other)]
        for name, tree in order:
            runs[name].append(read_pass(tree, db, pure_python=name == "other"))
    counts = {run[2] for both in runs.values() for run in both}
    assert len(counts) == 1, f"the two trees read different numbers of events: {counts}"
    count = counts.pop()
    print(f"read_all decoded, {count:,} events of {db}; SQLite {sqlite3.sqlite_version}, Python "
          f"{sys.version.split()[0]}; {repeat} passes each, alternating, each in a fresh process; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = f"{'measure':<28} {'this tree':>12} {'other tree':>12} {'ratio':>7}"
    print(f"this tree: {here}\nother tree: {other} (EVENTREG_PURE_PYTHON=1)")
    print(header)
    print("-" * len(header))
    for label, index in (("events/s, wall clock", 0), ("events/s, CPU time", 1)):
        for how, pick in (("best", min), ("median", statistics.median)):
            ours = count / pick(run[index] for run in runs["this"])
            theirs = count / pick(run[index] for run in runs["other"])
            print(f"{label + ', ' + how:<28} {ours:>12,.0f} {theirs:>12,.0f} {ours / theirs:>6.2f}x")
    best_cpu = [min(run[1] for run in runs[name]) / count * 1e6 for name in ("this", "other")]
    print(f"{'CPU us/event, best':<28} {best_cpu[0]:>12.2f} {best_cpu[1]:>12.2f}")
    return 0


# -- the table -------------------------------------------------------------------------


def best(runs: list[tuple[float, float]]) -> float:
    return min(wall for wall, _ in runs)


def cpu(runs: list[tuple[float, float]]) -> float:
    return min(used for _, used in runs)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--es-worker"]:
        print(json.dumps(es_worker(json.loads(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=1_000, help="appends of 100 events each")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--pg-events", type=int, default=2_000, help="events per PostgreSQL writer")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print every run, not only the best")
    parser.add_argument("--with-eventsourcing", action="store_true",
                        help="also the eventsourcing library's SQLite recorder, in the same run")
    parser.add_argument("--es-python", default=DEFAULT_ES_PYTHON,
                        help="an interpreter with eventsourcing installed")
    parser.add_argument("--read-against", metavar="TREE",
                        help="only read_all of --read-db, against the eventreg checkout in TREE")
    parser.add_argument("--read-db", metavar="DB", help="an existing SQLite log for --read-against")
    args = parser.parse_args(argv)
    if args.read_against:
        if not args.read_db or not Path(args.read_db).exists():
            print("--read-against needs --read-db with an existing SQLite log (e.g. "
                  "python benchmarks/replay_bench.py --build-only)", file=sys.stderr)
            return 2
        return read_against(str(Path(args.read_against).resolve()), str(Path(args.read_db).resolve()),
                            args.repeat)
    sync = args.synchronous
    es = args.with_eventsourcing
    if es and not Path(args.es_python).exists():
        print(f"--with-eventsourcing: no interpreter at {args.es_python}; make one with\n"
              "    python -m venv .venv-es && .venv-es/bin/pip install eventsourcing", file=sys.stderr)
        return 2
    batched = args.batches * BATCH_SIZE
    single_rows = raw_rows(args.singles, SINGLE_STREAMS, 1)
    batch_rows = raw_rows(batched, BATCH_STREAMS, BATCH_SIZE)

    timings: dict[str, list[tuple[float, float]]] = {
        k: [] for k in ("raw1", "ev1", "rawB", "evB", "rawR", "evR", "enc1", "encB", "mrB", "es1", "esB", "esR")}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="eventreg-bench-", dir=os.environ.get("BENCH_DIR")) as tmp:
            tmp = Path(tmp)
            raw1, ev1 = taking_turns(raw_append(tmp / "raw1.db", single_rows, sync),
                                     eventreg_append(f"sqlite:///{tmp / 'ev1.db'}", args.singles,
                                                     SINGLE_STREAMS, 1, sync))
            timings["raw1"].append(raw1)
            timings["ev1"].append(ev1)
            if es:
                timings["es1"].append(run_es(args.es_python, tmp, op="append", path=str(tmp / "es1.db"),
                                             count=args.singles, streams=SINGLE_STREAMS, batch=1,
                                             synchronous=sync))
            rawB, evB = taking_turns(raw_append(tmp / "rawB.db", batch_rows, sync),
                                     eventreg_append(f"sqlite:///{tmp / 'evB.db'}", batched,
                                                     BATCH_STREAMS, BATCH_SIZE, sync))
            timings["rawB"].append(rawB)
            timings["evB"].append(evB)
            if es:
                timings["esB"].append(run_es(args.es_python, tmp, op="append", path=str(tmp / "esB.db"),
                                             count=batched, streams=BATCH_STREAMS, batch=BATCH_SIZE,
                                             synchronous=sync))
            timings["rawR"].append(raw_read(tmp / "rawB.db"))
            if es:
                timings["esR"].append(run_es(args.es_python, tmp, op="read", path=str(tmp / "esB.db"),
                                             count=batched, synchronous=sync))
            timings["enc1"].append(raw_encode_append(tmp / "enc1.db", single_rows, sync))
            timings["encB"].append(raw_encode_append(tmp / "encB.db", batch_rows, sync))
            timings["mrB"].append(raw_multirow_append(tmp / "mrB.db", batch_rows, sync))
            timings["evR"].append(eventreg_read(f"sqlite:///{tmp / 'evB.db'}", batched))

    rows = [
        (f"single appends ({args.singles:,})", args.singles, "ev1", "raw1", ">= 0.85x raw"),
        (f"batches of {BATCH_SIZE} ({batched:,} events)", batched, "evB", "rawB", ">= 0.75x raw"),
        (f"read_all, decoded ({batched:,})", batched, "evR", "rawR", ">= 300,000/s"),
        ("single, raw also encodes+hashes", args.singles, "ev1", "enc1", "(reference)"),
        ("batches, raw also encodes+hashes", batched, "evB", "encB", "(reference)"),
        ("batches, raw multi-row INSERTs", batched, "evB", "mrB", "(reference)"),
    ]
    if es:
        rows += [
            (f"eventsourcing single ({args.singles:,})", args.singles, "es1", "raw1", "(calibration)"),
            (f"eventsourcing batches ({batched:,})", batched, "esB", "rawB", "(calibration)"),
            (f"eventsourcing read ({batched:,})", batched, "esR", "rawR", "(calibration)"),
        ]
    print(f"SQLite {sqlite3.sqlite_version}, WAL, synchronous={sync}; Python {sys.version.split()[0]}; "
          f"best of {args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    header = (f"{'operation':<32} {'eventreg ev/s':>14} {'raw sqlite3 ev/s':>17} {'ratio':>7}  "
              f"{'target':<13} {'CPU us/ev eventreg / raw':>24}")
    print(header)
    print("-" * len(header))
    for label, count, ours, raw, target in rows:
        ev_rate = count / best(timings[ours])
        raw_rate = count / best(timings[raw])
        print(f"{label:<32} {ev_rate:>14,.0f} {raw_rate:>17,.0f} {ev_rate / raw_rate:>6.2f}x  {target:<13} "
              f"{cpu(timings[ours]) / count * 1e6:>15.1f} / {cpu(timings[raw]) / count * 1e6:.1f}")
        if args.verbose:
            for name, key in (("eventsourcing" if ours.startswith("es") else "eventreg", ours), ("raw", raw)):
                runs = ", ".join(f"{count / wall:,.0f}" for wall, _ in timings[key])
                print(f"{'':<34}{name} runs: {runs}")
    if es:
        print(f"eventsourcing rows: eventsourcing {run_es.version} in {args.es_python} "
              "(SQLiteApplicationRecorder.insert_events of pre-built StoredEvents; reads: "
              f"select_notifications pages of {ES_READ_PAGE:,} + JSONTranscoder.decode), "
              "against the same raw rows")
    if not args.no_postgres:
        pg = postgres_row(args.pg_events)
        if isinstance(pg, str):
            print(f"{'PostgreSQL, 4 writer processes':<32} {'-':>14}   {pg}")
        else:
            four, one = pg
            print(f"{'PostgreSQL, 4 writer processes':<32} {four:>14,.0f} {'-':>17} {'':>7}  "
                  f"(1 process alone: {one:,.0f} ev/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
