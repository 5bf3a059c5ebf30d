"""
Benchmark of event signing (Ed25519, the ``cryptography`` package).

Measured in one run, each against its baseline without signatures:

- signing: the cost :class:`eventreg.signing.Signer` adds to an event before its append
  (target < 0.2 ms per event), next to building the event (``to_new_event``);
- commands: ``set_version_tag`` on a registry with and without a signing key;
- verify: ``Registry.verify()`` of a log whose events are all signed (chain and
  signatures; target >= 10,000 events/s) next to the chain alone;
- the ceiling: OpenSSL's Ed25519 verification alone (``cryptography``'s
  ``Ed25519PublicKey.verify`` of the same signatures, the key loaded once), per core.

Usage::

    python benchmarks/signing_bench.py [--events 20000] [--url sqlite:////tmp/eventreg-signing.db]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import eventreg
from eventreg import audit
from eventreg.domain import events as ev
from eventreg.domain.codec import to_new_event
from eventreg import signing
from eventreg.signing import Signer, verify_signatures


def _signer() -> Signer:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Signer(Ed25519PrivateKey.generate())


def _events(count: int) -> list:
    return [ev.VersionTagSet(model="iris", version=1 + i % 5, key=f"k{i % 50}", value=f"value {i}")
            for i in range(count)]


class _Clock:
    """
    Wall-clock and this process's CPU time together: on a shared machine the CPU time is
    what the work costs, the wall clock what a user waits.
    """

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _per_event(seconds: tuple[float, float], count: int) -> tuple[float, float]:
    return seconds[0] / count * 1e6, seconds[1] / count * 1e6


def _rate(count: int, seconds: tuple[float, float]) -> tuple[float, float]:
    return count / seconds[0], count / seconds[1]


def bench_sign(count: int, signer: Signer) -> tuple[float, float]:
    objects = _events(count)
    clock = _Clock()
    news = [to_new_event(e, actor="alice") for e in objects]
    build = clock.elapsed()
    clock = _Clock()
    for i, new in enumerate(news, 1):
        signer.sign(new, "model:iris", i)
    sign = clock.elapsed()
    return _per_event(build, count), _per_event(sign, count)


def bench_commands(count: int, signer: Signer, url: str | None) -> tuple[float, float]:
    out = []
    for signing in (False, True):
        target = url or f"memory://signing-bench-{signing}"
        with eventreg.open(target, artifacts="memory://unused", actor="alice", snapshot_every=0) as reg:
            if signing:
                reg.register_key("alice", signer.public_key)
                reg.sign_with(signer)
            if "iris" not in {m.name for m in reg.list_models()}:
                reg.register_version("iris", code=None)
            clock = _Clock()
            for i in range(count):
                reg.set_version_tag("iris", 1, f"k{i % 50}", f"{signing}-{i}")
            out.append(_per_event(clock.elapsed(), count))
    return out[0], out[1]


def bench_verify(count: int, signer: Signer, url: str) -> tuple[int, float, float]:
    with eventreg.open(url, artifacts="memory://unused", actor="alice", snapshot_every=0) as reg:
        reg.register_key("alice", signer.public_key, printed_name="Alice")
        reg.sign_with(signer)
        reg.register_version("iris", code=None)
        for i in range(count):
            reg.set_version_tag("iris", 1, f"k{i % 50}", f"v{i}")
        log = reg.log
        total = reg.head().position
        clock = _Clock()
        assert audit.verify(log).ok
        chain = clock.elapsed()
        clock = _Clock()
        assert reg.verify().ok
        both = clock.elapsed()
        clock = _Clock()
        assert verify_signatures(log.read_all()).checked >= count
        only = clock.elapsed()
        events = list(log.read_all())
        ceiling = _raw_verify_rate(events)
        signing.BATCH = max(1000, count // 2)  # a batch per half: worker processes in this run
        workers = os.cpu_count() or 1
        clock = _Clock()
        assert verify_signatures(events, workers=workers).checked >= count
        parallel = clock.elapsed()
    return (total, _rate(total, chain), _rate(total, both), _rate(total, only), (_rate(total, parallel), workers),
            ceiling)


def _raw_verify_rate(events: list) -> tuple[float, float]:
    """
    Signatures/s of ``Ed25519PublicKey.verify`` alone over the log's signed events.
    """
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    keys = {e.payload["key_id"]: Ed25519PublicKey.from_public_bytes(base64.b64decode(e.payload["public_key"]))
            for e in events if e.type == "governance.key_registered"}
    items = [(keys[e.metadata[signing.SIGNED_BY]], base64.b64decode(e.metadata[signing.SIGNATURE]),
              signing.signing_digest(e.stream_id, e.stream_version, e.type, e.schema_version, e.actor, e.payload,
                                     e.metadata))
             for e in events if e.metadata and signing.SIGNATURE in e.metadata]
    clock = _Clock()
    for key, signature, digest in items:
        key.verify(signature, digest)
    return _rate(len(items), clock.elapsed())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--commands", type=int, default=2_000)
    parser.add_argument("--url", default=None, help="log URL for the verify run (default: a temporary SQLite file)")
    args = parser.parse_args()
    os.environ.setdefault("EVENTREG_ACTOR", "alice")
    signer = _signer()

    build_us, sign_us = bench_sign(args.events, signer)
    plain_cmd, signed_cmd = bench_commands(args.commands, signer, None)
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'signing.db'}"
        total, chain_rate, both_rate, sig_rate, (par_rate, workers), raw_rate = bench_verify(args.events, signer,
                                                                                             url)

    print(f"signing benchmark: {args.events:,} events, {args.commands:,} commands (same run); "
          "wall clock and this process's CPU time\n")
    print(f"| {'measure':<44} | {'wall':>10} | {'CPU':>10} | {'baseline CPU':>14} | {'ratio CPU':>9} |")
    print(f"|{'-' * 46}|{'-' * 12}|{'-' * 12}|{'-' * 16}|{'-' * 11}|")
    rows = [
        ("sign one event (us; target < 200)", sign_us, build_us, "us", "{:,.1f}"),
        ("set_version_tag, memory log (us/command)", signed_cmd, plain_cmd, "us", "{:,.1f}"),
        ("verify(): chain + signatures (ev/s; >=10k)", both_rate, chain_rate, "ev/s", "{:,.0f}"),
        ("signatures alone (events/s)", sig_rate, chain_rate, "ev/s", "{:,.0f}"),
        (f"signatures, {workers} processes (events/s, wall)", par_rate, sig_rate, "ev/s", "{:,.0f}"),
        ("signatures alone vs OpenSSL verify alone", sig_rate, raw_rate, "ev/s", "{:,.0f}"),
    ]
    for name, value, baseline, unit, number in rows:
        if value is par_rate or value is both_rate:  # may use worker processes, whose CPU is not counted here
            print(f"| {name:<44} | {number.format(value[0]):>10} | {'-':>10} | "
                  f"{number.format(baseline[0]) + ' ' + unit:>14} | {value[0] / baseline[0]:>9.2f} |")
            continue
        print(f"| {name:<44} | {number.format(value[0]):>10} | {number.format(value[1]):>10} | "
              f"{number.format(baseline[1]) + ' ' + unit:>14} | {value[1] / baseline[1]:>9.2f} |")
    print(f"\nbaselines: building the event without a signature; the same command on an unsigned registry; "
          f"verify of the chain alone ({total:,} events); the parallel row against signatures alone in one "
          "process, both wall clock; the last row against OpenSSL's Ed25519 verify of the same signatures "
          f"alone ({raw_rate[1]:,.0f}/s of CPU per core: the ceiling is that times the free cores)")


if __name__ == "__main__":
    main()
