"""
Artifact store benchmark: eventreg's verified, content-addressed put/get next to a plain
fsspec copy of the same file, in the same run.

Measures, on ``file://`` and on a local S3 endpoint (moto's server on 127.0.0.1):

- put and get throughput of one file (default 256 MiB) and the ratio to ``fs.put_file``
  / ``fs.get_file`` of the same bytes (target: >= 0.8x);
- the time to put the unchanged file again (dedup: no upload; the object is not rewritten);
- peak RSS of a put and a get of a large file (default 1 GiB), measured in a child
  process as growth of its peak RSS over the baseline after imports (target: < 100 MiB),
  next to a plain ``fs.get_file`` of the same object.

Fair baselines: on ``file://`` eventreg fsyncs what it stores and must hash every byte
once, so the table also shows a plain copy followed by fsync and sha256 alone (the
floor of any sha256-addressed put or verified get). On S3 s3fs' ``get_file`` fetches
50 MiB ranges ten at a time, holding them in memory; eventreg streams one request
(bounded memory), so the plain one-stream get (``max_concurrency=1``) is shown too.

Usage::

    python benchmarks/artifact_bench.py                 # 256 MiB, 1 GiB, 3 repeats
    python benchmarks/artifact_bench.py --size-mb 64 --rss-size-mb 256 --repeat 1   # quick
    python benchmarks/artifact_bench.py --json          # machine-readable

Needs the test extra (moto, s3fs). Linux only: peak RSS is read from /proc/self/status.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

MiB = 2**20


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for i in range(size // MiB):
            # vary each block cheaply so nothing deduplicates or compresses by accident
            f.write(i.to_bytes(8, "little") + block[8:])


def hash_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def start_s3() -> tuple[str, object]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}", server


def s3_options(endpoint: str) -> dict:
    return {"key": "bench", "secret": "bench", "endpoint_url": endpoint}


def bench_store(kind: str, url_of, options: dict, src: Path, work: Path, repeat: int) -> dict:
    """
    Median put/get seconds of eventreg and of a plain fsspec copy, plus the dedup re-put.
    """
    import fsspec.core

    from eventreg.artifacts import ArtifactStore

    size = src.stat().st_size
    rows: dict[str, list[float]] = {k: [] for k in ("plain_put", "put", "plain_get", "get", "reput")}
    local = kind == "file"
    if local:  # what a durable copy costs, and the floor of any verified store: one sha256 pass
        rows["plain_put_fsync"], rows["sha256"] = [], []
    else:  # the plain get with one stream, as eventreg reads
        rows["plain_get_stream"] = []
    for i in range(repeat):
        url = url_of(f"run{i}-{uuid.uuid4().hex[:8]}")
        store = ArtifactStore(url, progress=False, **options)
        fs, root = fsspec.core.url_to_fs(url, **options)
        plain_key = f"{root.rstrip('/')}/plain/{src.name}"
        fs.makedirs(f"{root.rstrip('/')}/plain", exist_ok=True)
        # alternate the order so that neither side always gets the warmer cache
        if i % 2:
            rows["plain_put"].append(timed(lambda: fs.put_file(str(src), plain_key)))
            rows["put"].append(timed(lambda: rows.setdefault("entry", []).append(store.put(src))))
        else:
            rows["put"].append(timed(lambda: rows.setdefault("entry", []).append(store.put(src))))
            rows["plain_put"].append(timed(lambda: fs.put_file(str(src), plain_key)))
        if local:
            def durable_copy():
                fs.put_file(str(src), plain_key + ".fsync")
                with open(plain_key + ".fsync", "rb+") as f:
                    os.fsync(f.fileno())
            rows["plain_put_fsync"].append(timed(durable_copy))
            rows["sha256"].append(timed(lambda: hash_file(src)))
        entry = rows["entry"][-1]
        key = store.object_key(entry.sha256)
        before = fs.info(key)
        rows["reput"].append(timed(lambda: store.put(src)))
        fs.invalidate_cache()
        after = fs.info(key)
        stamp = [f for f in ("mtime", "ETag", "LastModified") if f in before]
        assert all(before[f] == after[f] for f in stamp), "dedup re-put rewrote the object"
        out_plain, out_ours = work / f"plain-{i}", work / f"ours-{i}"
        if i % 2:
            rows["plain_get"].append(timed(lambda: fs.get_file(plain_key, str(out_plain))))
            rows["get"].append(timed(lambda: store.get_file(entry, out_ours)))
        else:
            rows["get"].append(timed(lambda: store.get_file(entry, out_ours)))
            rows["plain_get"].append(timed(lambda: fs.get_file(plain_key, str(out_plain))))
        assert out_ours.stat().st_size == size
        if not local:
            out_plain.unlink()
            rows["plain_get_stream"].append(
                timed(lambda: fs.get_file(plain_key, str(out_plain), max_concurrency=1)))
        out_plain.unlink()
        out_ours.unlink()
        fs.rm(root, recursive=True)
    med = {k: statistics.median(v) for k, v in rows.items() if k != "entry"}
    mb = size / MiB
    extra = {}
    if local:
        extra = {"plain_put_fsync_mib_s": mb / med["plain_put_fsync"],
                 "put_ratio_vs_fsync_copy": med["plain_put_fsync"] / med["put"],
                 "sha256_mib_s": mb / med["sha256"],
                 "put_ratio_vs_sha256": med["sha256"] / med["put"],
                 "get_ratio_vs_sha256": med["sha256"] / med["get"]}
    else:
        extra = {"plain_get_stream_mib_s": mb / med["plain_get_stream"],
                 "get_ratio_vs_stream": med["plain_get_stream"] / med["get"]}
    return {
        **extra,
        "store": kind,
        "size_mib": mb,
        "plain_put_mib_s": mb / med["plain_put"],
        "put_mib_s": mb / med["put"],
        "put_ratio": med["plain_put"] / med["put"],
        "plain_get_mib_s": mb / med["plain_get"],
        "get_mib_s": mb / med["get"],
        "get_ratio": med["plain_get"] / med["get"],
        "reput_s": med["reput"],
        "put_s": med["put"],
        "runs": {k: [round(x, 3) for x in v] for k, v in rows.items() if k != "entry"},
    }


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def child_rss(url: str, options_json: str, path: str) -> None:
    """
    (In a child process) put ``path`` and print the growth of peak RSS in bytes.

    The peak (``VmHWM``) is reset to the current RSS once the store is connected, so the
    growth is what the put itself needs (Linux; ``ru_maxrss`` would include the parent's).
    """
    from eventreg.artifacts import ArtifactStore

    store = ArtifactStore(url, progress=False, **json.loads(options_json))
    store.exists("0" * 64)  # connect, so that the client's set-up is in the baseline
    out = {}
    for step in ("put", "get", "plain_get"):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        baseline = _status_kib("VmRSS") * 1024
        start = time.perf_counter()
        if step == "put":
            entry = store.put(path)
        elif step == "get":
            store.get_file(entry, path + ".got")
        else:  # the driver's own defaults
            store.fs.get_file(store.object_key(entry.sha256), path + ".got")
        seconds = time.perf_counter() - start
        peak = _status_kib("VmHWM") * 1024
        if step != "put":
            os.unlink(path + ".got")
        out[step] = {"baseline": baseline, "peak": peak, "growth": peak - baseline,
                     "seconds": seconds, "size": entry.size}
    print(json.dumps(out))


def measure_rss(kind: str, url: str, options: dict, path: Path) -> dict:
    env = dict(os.environ, GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT="false")
    out = subprocess.run(
        [sys.executable, __file__, "--child-rss", url, json.dumps(options), str(path)],
        check=True, capture_output=True, text=True, env=env,
        cwd=Path(__file__).resolve().parents[1])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {step: {**r, "store": kind} for step, r in result.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=256, help="file size for throughput (MiB)")
    parser.add_argument("--rss-size-mb", type=int, default=1024, help="file size for peak RSS (MiB)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stores", default="file,s3")
    parser.add_argument("--workdir", default=None, help="where to write the test files (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child-rss", nargs=3, metavar=("URL", "OPTIONS", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_rss:
        child_rss(*args.child_rss)
        return 0

    stores = args.stores.split(",")
    endpoint, server = start_s3() if "s3" in stores else (None, None)
    results, rss = [], []
    try:
        with tempfile.TemporaryDirectory(prefix="eventreg-bench-", dir=args.workdir) as tmp:
            work = Path(tmp)
            src = work / "model.bin"
            make_file(src, args.size_mb * MiB)
            for kind in stores:
                if kind == "file":
                    results.append(bench_store("file", lambda name: f"file://{work / name}", {},
                                               src, work, args.repeat))
                elif kind == "s3":
                    import s3fs

                    bucket = f"bench-{uuid.uuid4().hex[:8]}"
                    s3fs.S3FileSystem(**s3_options(endpoint), skip_instance_cache=True).mkdir(bucket)
                    results.append(bench_store("s3 (moto)", lambda name: f"s3://{bucket}/{name}",
                                               s3_options(endpoint), src, work, args.repeat))
            src.unlink()
            big = work / "big.bin"
            make_file(big, args.rss_size_mb * MiB)
            for kind in stores:
                if kind == "file":
                    rss.append(measure_rss("file", f"file://{work / 'rss'}", {}, big))
                elif kind == "s3":
                    rss.append(measure_rss("s3 (moto)", f"s3://{bucket}/rss", s3_options(endpoint), big))
    finally:
        if server is not None:
            server.stop()

    if args.json:
        print(json.dumps({"throughput": results, "peak_rss": rss, "loadavg": os.getloadavg()}, indent=2))
        return 0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"eventreg artifact benchmark: Python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs (load average {load} at the end), median of {args.repeat}")
    print()
    print("| store | size | put MiB/s (plain fsspec) | put ratio | get MiB/s (plain fsspec) "
          "| get ratio | re-put unchanged (dedup) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['store']} | {r['size_mib']:.0f} MiB | {r['put_mib_s']:.0f} ({r['plain_put_mib_s']:.0f}) "
              f"| {r['put_ratio']:.2f}x | {r['get_mib_s']:.0f} ({r['plain_get_mib_s']:.0f}) "
              f"| {r['get_ratio']:.2f}x | {r['reput_s']:.2f} s (first put {r['put_s']:.2f} s) |")
    print()
    print("Fair baselines:")
    print()
    print("| store | baseline | MiB/s | eventreg put vs it | eventreg get vs it |")
    print("|---|---|---|---|---|")
    for r in results:
        if "sha256_mib_s" in r:
            print(f"| {r['store']} | plain copy + fsync (eventreg fsyncs its objects) "
                  f"| {r['plain_put_fsync_mib_s']:.0f} | {r['put_ratio_vs_fsync_copy']:.2f}x | - |")
            print(f"| {r['store']} | sha256 of the file alone (floor of a verified put/get) "
                  f"| {r['sha256_mib_s']:.0f} | {r['put_ratio_vs_sha256']:.2f}x | {r['get_ratio_vs_sha256']:.2f}x |")
        if "plain_get_stream_mib_s" in r:
            print(f"| {r['store']} | plain get_file with one stream (max_concurrency=1) "
                  f"| {r['plain_get_stream_mib_s']:.0f} | - | {r['get_ratio_vs_stream']:.2f}x |")
    print()
    print("| store | operation | time | peak RSS growth over baseline |")
    print("|---|---|---|---|")
    names = {"put": "eventreg put", "get": "eventreg get", "plain_get": "plain fsspec get_file"}
    for result in rss:
        for step, r in result.items():
            print(f"| {r['store']} | {names[step]} of {r['size'] / MiB:.0f} MiB | {r['seconds']:.1f} s "
                  f"| {r['growth'] / MiB:.1f} MiB (baseline {r['baseline'] / MiB:.0f} MiB) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
