"""Table 1: every weighting method against STL on the simulated three-task data.

The paper's six rows (STL, Vanilla = equal, DWA, FAMO, PCGrad, FairGrad, VAMO) first, then the
rest of the zoo (`vamo_jax.mtl.weighting.available()`, VAMO's own ablations left to their
experiments). All methods train on the same batches of the same seeds; `train.methods` selects
the rows (STL is always the baseline).
"""

from __future__ import annotations

from vamo_jax.experiments.sweep import Variant, run_sweep

PAPER_METHODS = ("equal", "dwa", "famo", "pcgrad", "fairgrad", "vamo")
ZOO_METHODS = ("mgda", "cagrad", "nashmtl", "uw", "rlw", "imtl_g", "aligned_mtl", "gradnorm")


def variants(config) -> list[Variant]:
    return [Variant("")]  # one run of every method of config.train.methods


def run(config, workdir, resume: bool = False) -> dict:
    if "stl" in config.train.methods:
        raise ValueError("table1: STL is the baseline and always trained; leave it out of train.methods.")
    return run_sweep(config, workdir, variants(config), resume=resume,
                     title="Table 1: test-day return per task")
