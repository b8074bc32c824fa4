"""`python -m vamo_jax.data --config sim --out DIR`: generate the logs, write AuctionNet-format files.

The data set is the `data` section of `configs/<NAME>.py`, with `--set data.…=value` overrides.

  --format trajectories     (default) the project's trajectory CSVs, `day_DD.csv` and `market.csv`
  --format auctionnet-raw   AuctionNet's raw 18-column impression-level files, `period-<day>.csv`
                            (`.parquet` with `--raw-ext parquet`), one per logged day 0..num_days of
                            episode 0 (`vamo_jax.data.raw_export`; pValueSigma is 0). With an
                            AuctionNet config (`--config auctionnet`) the simulator plays a market of
                            its shape (its `data.env`, days and seed) and writes it for that config to read.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from vamo_jax.data.auctionnet import export_auctionnet
from vamo_jax.data.config import AuctionNetConfig, DataConfig
from vamo_jax.data.generate import make_dataset


def simulated_stand_in(config: DataConfig) -> DataConfig:
    """The simulator's data config of the market an `AuctionNetConfig` describes (itself otherwise)."""
    if not isinstance(config, AuctionNetConfig):
        return config
    return DataConfig(**{f.name: getattr(config, f.name) for f in dataclasses.fields(DataConfig)})


def main(argv=None) -> None:
    from vamo_jax.config import available_configs, load_config

    parser = argparse.ArgumentParser(prog="python -m vamo_jax.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="sim", help=f"config name: {', '.join(available_configs())}")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set data.seed=3 (repeatable)")
    parser.add_argument("--out", required=True, help="directory for the files")
    parser.add_argument("--format", default="trajectories", choices=("trajectories", "auctionnet-raw"))
    parser.add_argument("--raw-ext", default="csv", choices=("csv", "parquet"), help="file type of auctionnet-raw")
    args = parser.parse_args(argv)
    config = load_config(args.config, args.overrides).data
    start = time.perf_counter()
    if args.format == "auctionnet-raw":
        from vamo_jax.data.raw_export import write_raw  # polars only where raw files are written

        ds = make_dataset(simulated_stand_in(config))
        paths = write_raw(ds, args.out, args.raw_ext)
        print(f"wrote {len(paths)} raw period files to {args.out} in {time.perf_counter() - start:.1f}s")
        return
    ds = make_dataset(config)
    paths = export_auctionnet(ds, args.out)
    sizes = {name: ds.split(name).size for name in ("train", "val", "test")}
    print(f"wrote {len(paths)} files to {args.out} ({sizes} trajectories) in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
