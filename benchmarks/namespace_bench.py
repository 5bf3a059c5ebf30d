"""
Benchmark: does a namespace slow appends? Single-event appends into a log in the
database's default namespace (the baseline), in a PostgreSQL schema (``?schema=``) and
behind a table prefix (``?prefix=``), on PostgreSQL, MariaDB and SQLite.

A namespace changes only the table names in the statements, compiled once per log
(schema-qualified names, no ``search_path``), so the ratios should be ~1.00. Each
measurement is cut into slices and the namespaces take turns slice by slice (a slow phase
of a shared machine falls on all of them); the best of ``--repeat`` sums counts.

Usage::

    python benchmarks/namespace_bench.py [--appends 2000] [--repeat 3] [--no-servers]

Servers: ``EVENTREG_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
``EVENTREG_MYSQL_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306/test``); a database
``eventreg_nsbench_<random>`` is made on each and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid

import sqlalchemy as sa

from eventreg import open_log
from eventreg.log import NewEvent

SLICES = 10


def _fresh_database(admin_url: str) -> tuple[sa.Engine, str, str]:
    name = f"eventreg_nsbench_{uuid.uuid4().hex[:8]}"
    postgres = admin_url.startswith("postgresql")
    engine = sa.create_engine(admin_url, **({"isolation_level": "AUTOCOMMIT"} if postgres else {}))
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
        conn.commit()
    return engine, name, sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _measure(urls: dict[str, str], appends: int, repeat: int) -> dict[str, float]:
    """
    Seconds per append for each URL: the best of ``repeat`` runs, slices interleaved.
    """
    best = {name: float("inf") for name in urls}
    logs = {name: open_log(url) for name, url in urls.items()}
    try:
        for log in logs.values():  # warm: connections, compiled statements, the stream's version
            log.append("model:warm", [NewEvent("e", {"n": 0})])
        per_slice = max(1, appends // SLICES)
        for _ in range(repeat):
            total = dict.fromkeys(urls, 0.0)
            for _ in range(SLICES):
                for name, log in logs.items():
                    start = time.perf_counter()
                    for i in range(per_slice):
                        log.append("model:bench", [NewEvent("metric.logged", {"key": "loss", "value": i / 7})])
                    total[name] += time.perf_counter() - start
            for name in urls:
                best[name] = min(best[name], total[name] / (per_slice * SLICES))
    finally:
        for log in logs.values():
            log.close()
    return best


def _print(title: str, results: dict[str, float]) -> None:
    base = results["default namespace"]
    print(f"\n{title}")
    print(f"  {'log':<24} {'us/append':>10} {'ratio':>7}")
    for name, seconds in results.items():
        print(f"  {name:<24} {seconds * 1e6:>10.0f} {seconds / base:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-servers", action="store_true", help="SQLite only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        _print("SQLite (synchronous=FULL)", _measure(
            {"default namespace": url, "?prefix=team_a_": f"{url}?prefix=team_a_"}, args.appends, args.repeat))
    if args.no_servers:
        return
    servers = [
        ("PostgreSQL", os.environ.get("EVENTREG_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
         ["?schema=team_a", "?prefix=team_a_"]),
        ("MariaDB", os.environ.get("EVENTREG_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
         ["?prefix=team_a_"]),
    ]
    for title, admin_url, namespaces in servers:
        engine, name, url = _fresh_database(admin_url)
        try:
            urls = {"default namespace": url, **{query: url + query for query in namespaces}}
            _print(title, _measure(urls, args.appends, args.repeat))
        finally:
            with engine.connect() as conn:
                force = " WITH (FORCE)" if admin_url.startswith("postgresql") else ""
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}{force}"))
                conn.commit()
            engine.dispose()


if __name__ == "__main__":
    main()
