"""`python -m vamo_jax.data --config sim --out DIR`: generate the logs, write AuctionNet-format CSVs."""

from __future__ import annotations

import argparse
import dataclasses
import time

from vamo_jax.data.auctionnet import export_auctionnet
from vamo_jax.data.generate import make_dataset
from vamo_jax.data.presets import PRESETS, get_preset


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vamo_jax.data", description=__doc__)
    parser.add_argument("--config", default="sim", help=f"data preset: {sorted(PRESETS)}")
    parser.add_argument("--out", required=True, help="directory for day_DD.csv and market.csv")
    parser.add_argument("--seed", type=int, default=None, help="override the preset's seed")
    args = parser.parse_args(argv)
    config = get_preset(args.config)
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    start = time.perf_counter()
    ds = make_dataset(config)
    paths = export_auctionnet(ds, args.out)
    sizes = {name: ds.split(name).size for name in ("train", "val", "test")}
    print(f"wrote {len(paths)} files to {args.out} ({sizes} trajectories) in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
