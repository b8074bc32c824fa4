"""VAMO against the size of the validation day (trajectories per task on day 9), and equal, 3 seeds.

Run: python -m vamo_jax.main --config validation_size (results and readings: REPRODUCTION.md).
"""

from configs import sim
from vamo_jax.config import Variant

SIZES = (None, (10, 10, 5), (4, 4, 2), (1, 1, 1))


def _arm(size) -> Variant:
    label = "VAMO, val = all of day 9" if size is None else f"VAMO, val = {'/'.join(map(str, size))}"
    return Variant(label, ("train.methods=vamo", "data.val_per_task=" + ("none" if size is None else ",".join(map(str, size)))))


def get_config():
    return sim.with_arms("validation_size", "VAMO against the validation day's size (trajectories per task)",
                         *(_arm(size) for size in SIZES), Variant("equal", ("train.methods=equal",)))
