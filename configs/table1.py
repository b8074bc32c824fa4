"""Table 1: STL as the baseline, then every weighting method (paper's six first, then the zoo), 3 seeds.

Run: python -m vamo_jax.main --config table1 (results and readings: REPRODUCTION.md).
"""

import dataclasses

from configs import sim
from vamo_jax.experiments.table1 import PAPER_METHODS, ZOO_METHODS


def get_config():
    base = sim.get_config()
    train = dataclasses.replace(base.train, methods=PAPER_METHODS + ZOO_METHODS)
    return dataclasses.replace(base, name="table1", experiment="table1", train=train)
