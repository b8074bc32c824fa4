"""Command line: `python -m vamo_jax.main --config sim`.

The training pipeline (simulator, model, trainer) is not in place yet, so this runs the VAMO toy
(`vamo_jax.examples.toy`) and says so.
"""

from __future__ import annotations

import argparse
import sys

from vamo_jax.examples.toy import run_toy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vamo_jax.main", description=__doc__)
    parser.add_argument("--config", default="sim", help="config name in configs/ (default: sim)")
    args = parser.parse_args(argv)
    print(f"config {args.config!r}: the training pipeline has not landed yet; running the VAMO toy instead.")
    run_toy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
