"""
Benchmark of event signing (Ed25519: ``cryptography`` signs, libsodium or OpenSSL verifies).

Measured in one run, each against its baseline without signatures:

- signing: the cost :class:`eventreg.signing.Signer` adds to an event before its append
  (target < 0.2 ms per event), next to building the event (``to_new_event``);
- commands: ``set_version_tag`` on a registry with and without a signing key;
- verify: ``Registry.verify()`` of a log whose events are all signed (chain and
  signatures in one pass; target >= 10,000 events/s), with libsodium (PyNaCl, one thread
  per CPU) and with OpenSSL alone in the reading thread (``eventreg.signing.PYNACL = False``;
  the check before PyNaCl), alternating in the same run, next to the chain alone;
- the ceilings: libsodium's and OpenSSL's Ed25519 verification alone of the same
  signatures, the key loaded once, one thread.

Usage::

    python benchmarks/signing_bench.py [--events 20000] [--rounds 3] [--url sqlite:////tmp/eventreg-signing.db]
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
    for signed in (False, True):
        target = url or f"memory://signing-bench-{signed}"
        with eventreg.open(target, artifacts="memory://unused", actor="alice", snapshot_every=0) as reg:
            if signed:
                reg.register_key("alice", signer.public_key)
                reg.sign_with(signer)
            if "iris" not in {m.name for m in reg.list_models()}:
                reg.register_version("iris", code=None)
            clock = _Clock()
            for i in range(count):
                reg.set_version_tag("iris", 1, f"k{i % 50}", f"{signed}-{i}")
            out.append(_per_event(clock.elapsed(), count))
    return out[0], out[1]


def _timed(fn, *args, **kwargs) -> tuple[tuple[float, float], object]:
    clock = _Clock()
    out = fn(*args, **kwargs)
    return clock.elapsed(), out


def _pynacl(on: bool) -> None:
    signing.PYNACL = on


def bench_verify(count: int, signer: Signer, url: str, rounds: int) -> dict:
    """
    ``verify()`` with libsodium (PyNaCl) and with OpenSSL alone, alternating, ``rounds`` pairs
    in this run; the best round of each (the least disturbed by other work on the machine).
    """
    with eventreg.open(url, artifacts="memory://unused", actor="alice", snapshot_every=0) as reg:
        reg.register_key("alice", signer.public_key, printed_name="Alice")
        reg.sign_with(signer)
        reg.register_version("iris", code=None)
        for i in range(count):
            reg.set_version_tag("iris", 1, f"k{i % 50}", f"v{i}")
        log = reg.log
        total = reg.head().position
        events = list(log.read_all())
        best: dict[str, tuple[float, float]] = {}

        def keep(name: str, seconds: tuple[float, float], n: int) -> None:
            rate = _rate(n, seconds)
            best[name] = max(best.get(name, (0.0, 0.0)), rate)

        for _ in range(rounds):
            seconds, report = _timed(audit.verify, log)
            assert report.ok
            keep("chain", seconds, total)
            for on in (True, False):
                _pynacl(on)
                seconds, report = _timed(reg.verify)
                assert report.ok and report.signatures_checked >= count
                keep(f"verify {on}", seconds, total)
                seconds, check = _timed(verify_signatures, events)
                assert check.ok
                keep(f"signatures {on}", seconds, total)
            _pynacl(True)
        best["openssl raw"], best["libsodium raw"] = _raw_verify_rates(events)
    best["total"] = (total, total)
    return best


def _raw_verify_rates(events: list) -> tuple[tuple[float, float], tuple[float, float]]:
    """
    Signatures/s of OpenSSL's ``Ed25519PublicKey.verify`` and of libsodium's
    ``VerifyKey.verify`` alone over the log's signed events, one thread, the key loaded once.
    """
    import base64

    import nacl.signing
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raws = {e.payload["key_id"]: base64.b64decode(e.payload["public_key"])
            for e in events if e.type == "governance.key_registered"}
    items = [(raws[e.metadata[signing.SIGNED_BY]], base64.b64decode(e.metadata[signing.SIGNATURE]),
              signing.signing_digest(e.stream_id, e.stream_version, e.type, e.schema_version, e.actor, e.payload,
                                     e.metadata))
             for e in events if e.metadata and signing.SIGNATURE in e.metadata]
    openssl = {raw: Ed25519PublicKey.from_public_bytes(raw) for raw in raws.values()}
    clock = _Clock()
    for raw, signature, digest in items:
        openssl[raw].verify(signature, digest)
    openssl_rate = _rate(len(items), clock.elapsed())
    sodium = {raw: nacl.signing.VerifyKey(raw) for raw in raws.values()}
    clock = _Clock()
    for raw, signature, digest in items:
        sodium[raw].verify(digest, signature)
    return openssl_rate, _rate(len(items), clock.elapsed())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--commands", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating pairs of verify with libsodium / OpenSSL")
    parser.add_argument("--url", default=None, help="log URL for the verify run (default: a temporary SQLite file)")
    args = parser.parse_args()
    os.environ.setdefault("EVENTREG_ACTOR", "alice")
    signer = _signer()

    build_us, sign_us = bench_sign(args.events, signer)
    plain_cmd, signed_cmd = bench_commands(args.commands, signer, None)
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'signing.db'}"
        rates = bench_verify(args.events, signer, url, args.rounds)
    total = rates["total"][0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())

    print(f"signing benchmark: {args.events:,} events, {args.commands:,} commands, {args.rounds} alternating "
          f"rounds of verify (best of each); {os.cpu_count()} CPUs, load average {load}\n")
    print(f"| {'measure':<46} | {'wall':>10} | {'CPU':>10} | {'baseline wall':>18} | {'baseline CPU':>12} | "
          f"{'ratio wall':>10} | {'ratio CPU':>9} |")
    print(f"|{'-' * 48}|{'-' * 12}|{'-' * 12}|{'-' * 20}|{'-' * 14}|{'-' * 12}|{'-' * 11}|")
    rows = [
        ("sign one event (us; target < 200)", sign_us, build_us, "us build"),
        ("set_version_tag, memory log (us/command)", signed_cmd, plain_cmd, "us unsigned"),
        ("verify(), libsodium (ev/s; target >= 10k)", rates["verify True"], rates["chain"], "/s chain"),
        ("verify(), OpenSSL alone (ev/s)", rates["verify False"], rates["chain"], "/s chain"),
        ("verify(): libsodium vs OpenSSL", rates["verify True"], rates["verify False"], "/s OpenSSL"),
        ("signatures alone, libsodium (ev/s)", rates["signatures True"], rates["signatures False"], "/s OpenSSL"),
        ("libsodium verify alone, 1 thread (sig/s)", rates["libsodium raw"], rates["openssl raw"], "/s OpenSSL"),
    ]
    for name, value, baseline, unit in rows:
        number = "{:,.1f}" if unit.startswith("us") else "{:,.0f}"
        print(f"| {name:<46} | {number.format(value[0]):>10} | {number.format(value[1]):>10} | "
              f"{number.format(baseline[0]) + ' ' + unit:>18} | {number.format(baseline[1]):>12} | "
              f"{value[0] / baseline[0]:>10.2f} | {value[1] / baseline[1]:>9.2f} |")
    print(f"\nverify rows: {total:,} events, all but two signed, on {url.split(':')[0]}; rates are events per "
          "second of wall clock (the CPU column: per second of this process's CPU, all its threads). "
          "Baselines: building the event without a signature; the same command on an unsigned registry; "
          "the chain alone; OpenSSL (cryptography) in place of libsodium, same run.")


if __name__ == "__main__":
    main()
