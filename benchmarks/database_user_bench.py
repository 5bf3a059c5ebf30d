"""
Benchmark: what the database-user trigger costs an append (schema 3, PostgreSQL and MySQL).

Two fresh databases per server: one as eventreg makes it, one with the ``BEFORE INSERT``
trigger dropped (the column default still records the user of ordinary inserts; the
trigger only overrides a client that names the column itself). Appends alternate between
the two, one append at a time (a slow phase of a shared machine falls on both), for
single-event appends and batches of 100; the best of three rounds, in microseconds per
event, with the ratio to the database without the trigger.

Usage::

    python benchmarks/database_user_bench.py [--appends 200]

Servers: ``EVENTREG_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
``EVENTREG_MYSQL_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306/test``); the
databases are dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import sqlalchemy as sa

from eventreg import open_log
from eventreg.log import NewEvent

_DROP = {
    "postgresql": ["DROP TRIGGER eventreg_events_database_user ON eventreg_events"],
    "mysql": ["DROP TRIGGER eventreg_events_user_ins"],
}


def _measure(admin_url: str, batch: int, appends: int) -> dict[str, float]:
    postgres = admin_url.startswith("postgresql")
    engine = sa.create_engine(admin_url, **({"isolation_level": "AUTOCOMMIT"} if postgres else {}))
    logs, names = {}, []
    try:
        for label in ("with trigger", "without trigger"):
            name = f"eventreg_userbench_{uuid.uuid4().hex[:8]}"
            with engine.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
                conn.commit()
            names.append(name)
            url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            logs[label] = open_log(url)
            if label == "without trigger":
                plain = sa.create_engine(url)
                with plain.begin() as conn:
                    for statement in _DROP["postgresql" if postgres else "mysql"]:
                        conn.execute(sa.text(statement))
                plain.dispose()
            logs[label].append("warm", [NewEvent("e", {})])
        best = dict.fromkeys(logs, float("inf"))
        for round_ in range(3):
            total = dict.fromkeys(logs, 0.0)
            for i in range(appends):
                order = list(logs.items()) if i % 2 else list(logs.items())[::-1]
                for label, log in order:
                    events = [NewEvent("metric.logged", {"key": "loss", "value": j / 7}) for j in range(batch)]
                    start = time.perf_counter()
                    log.append(f"s{round_}", events)
                    total[label] += time.perf_counter() - start
            for label in logs:
                best[label] = min(best[label], total[label] / (appends * batch))
        return best
    finally:
        for log in logs.values():
            log.close()
        with engine.connect() as conn:
            for name in names:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}" + (" WITH (FORCE)" if postgres else "")))
                conn.commit()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=200)
    args = parser.parse_args()
    servers = [("PostgreSQL", os.environ.get("EVENTREG_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")),
               ("MariaDB", os.environ.get("EVENTREG_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"))]
    print(f"{'server':<12} {'events/append':>13} {'trigger':<16} {'us/event':>9} {'ratio':>6}")
    for title, url in servers:
        for batch, appends in ((1, args.appends), (100, max(1, args.appends // 10))):
            results = _measure(url, batch, appends)
            base = results["without trigger"]
            for label, seconds in results.items():
                print(f"{title:<12} {batch:>13} {label:<16} {seconds * 1e6:>9.1f} {seconds / base:>6.2f}")


if __name__ == "__main__":
    main()
