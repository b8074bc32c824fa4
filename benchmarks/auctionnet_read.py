"""Read time and peak memory of one full-size AuctionNet period (≈500k impressions × 48 advertisers).

    python benchmarks/auctionnet_read.py [--out /tmp/auctionnet_bench] [--keep]

The period is generated here: the simulator plays the `auctionnet` config's market (48
advertisers, 48 steps, 500k impressions a period, one conversion type) and writes one period in
AuctionNet's raw format, a few steps at a time (`raw_export.write_period`), as CSV and as Parquet.
Each read then runs in a fresh process, whose peak resident memory (`ru_maxrss`) is reported
with the time: the per-(advertiser, step) aggregates the trajectories need (`read_period`) and
the per-impression traffic the offline evaluator needs (`read_traffic`), and the bare
interpreter with the reader imported as the baseline (peaks from /proc/self/status VmHWM).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time


def _read(path: str, what: str) -> None:
    """In a child process: time one read, print {"seconds", "peak_gb", "rows"} as JSON."""
    import polars as pl

    from vamo_jax.data.auctionnet_raw import read_period, read_traffic

    start = time.perf_counter()
    rows = None
    if what == "aggregates":
        log = read_period(path, 3, 0.01, 48)
        rows = int(log.volume.sum()) * len(log.advertiser)
    elif what == "traffic":
        log = read_period(path, 3, 0.01, 48)
        traffic = read_traffic(path, log, 3, 0.01, int(log.volume.max()))
        rows = int(traffic.valid.sum()) * traffic.pvalue.shape[-1]
    else:
        pl.DataFrame({"x": [0]})
    seconds = time.perf_counter() - start
    with open("/proc/self/status") as fh:  # this process's own peak (ru_maxrss carries the parent's across exec)
        peak_gb = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 2**20
    print(json.dumps({"seconds": seconds, "peak_gb": peak_gb, "rows": rows}))


def _measure(path: str, what: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", what, "--out", path], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _generate(out_dir: str) -> dict[str, str]:
    from configs import auctionnet
    from vamo_jax.data.__main__ import simulated_stand_in
    from vamo_jax.data.generate import make_dataset
    from vamo_jax.data.raw_export import write_period

    data = auctionnet.get_config().data
    data = dataclasses.replace(simulated_stand_in(data), num_days=3, train_days=(1,), val_day=2, test_day=3)
    start = time.perf_counter()
    dataset = make_dataset(data)
    print(f"simulated {data.num_days + 1} full-size days in {time.perf_counter() - start:.0f}s", flush=True)
    paths = {}
    for ext in ("csv", "parquet"):
        start = time.perf_counter()
        paths[ext] = write_period(dataset, 1, os.path.join(out_dir, f"period-1.{ext}"), chunk=4)
        size = os.path.getsize(paths[ext]) / 2**30
        print(f"wrote {paths[ext]} ({size:.2f} GB) in {time.perf_counter() - start:.0f}s", flush=True)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/auctionnet_bench")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--reuse", action="store_true", help="read the files a --keep run left in --out")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _read(args.out, args.child)
        return
    os.makedirs(args.out, exist_ok=True)
    existing = {ext: os.path.join(args.out, f"period-1.{ext}") for ext in ("csv", "parquet")}
    paths = existing if args.reuse and all(map(os.path.exists, existing.values())) else _generate(args.out)
    base = _measure(paths["csv"], "baseline")
    print(f"baseline (python + the reader imported): peak {base['peak_gb']:.2f} GB")
    for ext, path in paths.items():
        for what in ("aggregates", "traffic"):
            m = _measure(path, what)
            print(f"{ext:8s} {what:10s} {m['rows'] / 1e6:.1f}M rows: {m['seconds']:.1f} s, peak {m['peak_gb']:.2f} GB",
                  flush=True)
    if not args.keep:
        shutil.rmtree(args.out)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
