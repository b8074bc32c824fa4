"""Many tasks (open question): Δm% and cost per step of VAMO (fast path) against equal, FAMO,
PCGrad and MGDA with K = 8, 32, 64 per-category tasks (`vamo_jax.data.tasks`).

The market has 64 advertisers (26/25/13 of the three campaign types), so K = 64 gives one
advertiser, hence 8 training trajectories, a task; every training trajectory is used. Sized for a
2-core CPU: STL trains K models and the explicit-gradient methods K backward passes a step, so
the policy has no temporal module (TimesNet is 15× the rest of a step on a CPU), 2 seeds, 200
steps. The cost half times the same policy and batches.

Run: python -m vamo_jax.main --config many_tasks
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    env = dataclasses.replace(base.data.env, num_advertisers=64)
    data = dataclasses.replace(base.data, env=env, train_per_task=None)
    model = dataclasses.replace(base.model, temporal="none")
    train = dataclasses.replace(base.train, num_seeds=2, steps=200, checkpoint_every=100)
    return dataclasses.replace(base, name="many_tasks", experiment="many_tasks", data=data, model=model,
                               train=train)
