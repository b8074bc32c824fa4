"""`python -m vamo_jax.data --config sim --out DIR`: generate the logs, write AuctionNet-format CSVs.

The data set is the `data` section of `configs/<NAME>.py`, with `--set data.…=value` overrides.
"""

from __future__ import annotations

import argparse
import time

from vamo_jax.data.auctionnet import export_auctionnet
from vamo_jax.data.generate import make_dataset


def main(argv=None) -> None:
    from vamo_jax.config import available_configs, load_config

    parser = argparse.ArgumentParser(prog="python -m vamo_jax.data", description=__doc__)
    parser.add_argument("--config", default="sim", help=f"config name: {', '.join(available_configs())}")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set data.seed=3 (repeatable)")
    parser.add_argument("--out", required=True, help="directory for day_DD.csv and market.csv")
    args = parser.parse_args(argv)
    config = load_config(args.config, args.overrides).data
    start = time.perf_counter()
    ds = make_dataset(config)
    paths = export_auctionnet(ds, args.out)
    sizes = {name: ds.split(name).size for name in ("train", "val", "test")}
    print(f"wrote {len(paths)} files to {args.out} ({sizes} trajectories) in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
