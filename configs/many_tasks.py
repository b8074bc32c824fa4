"""Cost per step of VAMO (fast path) against equal, FAMO, PCGrad and MGDA at K = 3, 8, 32, 64
synthetic tasks on the main job's policy and batches (batch 128 so that every task of K = 64
has examples).

Run: python -m vamo_jax.main --config many_tasks
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="many_tasks", experiment="many_tasks",
                               train=dataclasses.replace(base.train, batch_size=128))
