"""Table 1: STL as the baseline, then every weighting method (the paper's six first, then the zoo), 3 seeds.

All methods train on the same batches of the same seeds, in one arm; STL is the shared baseline.
Run: python -m vamo_jax.main --config table1 (results and readings: REPRODUCTION.md).
"""

from configs import sim
from vamo_jax.config import Variant

PAPER_METHODS = ("equal", "dwa", "famo", "pcgrad", "fairgrad", "vamo")
ZOO_METHODS = ("mgda", "cagrad", "nashmtl", "uw", "rlw", "imtl_g", "aligned_mtl", "gradnorm")


def get_config():
    methods = ",".join(PAPER_METHODS + ZOO_METHODS)
    return sim.with_arms("table1", "Table 1: test-day return per task", Variant("", (f"train.methods={methods}",)))
