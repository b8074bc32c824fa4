"""Open question: how small can the validation day be before validation alignment stops helping?

VAMO with day 9 cut to n trajectories per task (GMV, Dir-GMV, CartCnt), from all of the day's
advertisers down to one each, against equal weighting (which never reads day 9). The training
days, the test day and the batch size are unchanged; a smaller validation set only makes
g_val a noisier, more particular estimate of the later days' gradient.
"""

from __future__ import annotations

from vamo_jax.experiments.sweep import Variant, run_sweep

SIZES = (None, (10, 10, 5), (4, 4, 2), (1, 1, 1))


def _label(size) -> str:
    return "VAMO, val = all of day 9" if size is None else f"VAMO, val = {'/'.join(map(str, size))}"


def variants(config, sizes=SIZES) -> list[Variant]:
    arms = [
        Variant(_label(size), ("train.methods=vamo",
                               "data.val_per_task=" + ("none" if size is None else ",".join(map(str, size)))))
        for size in sizes
    ]
    return arms + [Variant("equal", ("train.methods=equal",))]


def run(config, workdir, resume: bool = False) -> dict:
    return run_sweep(config, workdir, variants(config), resume=resume,
                     title="VAMO against the validation day's size (trajectories per task)")
