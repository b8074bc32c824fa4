"""Many tasks (open question): Δm% of VAMO (fast path) against equal, FAMO, PCGrad and MGDA with
K = 8, 32, 64 per-category tasks (`vamo_jax.data.tasks`), each K against its own STL.

The market has 64 advertisers (26/25/13 of the three campaign types), so K = 64 gives one
advertiser, hence 8 training trajectories, a task; every training trajectory is used. Sized for a
2-core CPU: STL trains K models and the explicit-gradient methods K backward passes a step, so
the policy has no temporal module, 2 seeds, 200 steps. The cost of a step against K is measured
by `python -m benchmarks.step_cost_vs_k`.

Run: python -m vamo_jax.main --config many_tasks
"""

import dataclasses

from configs import sim
from vamo_jax.config import SweepConfig, Variant

TASK_COUNTS = (8, 32, 64)


def get_config():
    base = sim.get_config()
    env = dataclasses.replace(base.data.env, num_advertisers=64)
    return dataclasses.replace(
        base, name="many_tasks", experiment="many_tasks",
        data=dataclasses.replace(base.data, env=env, train_per_task=None),
        model=dataclasses.replace(base.model, temporal="none"),
        train=dataclasses.replace(base.train, num_seeds=2, steps=200, checkpoint_every=100,
                                  methods=("stl", "equal", "vamo", "famo", "pcgrad", "mgda")),
        sweep=SweepConfig(variants=tuple(Variant(f"K={k}", (f"data.num_tasks={k}", f"model.num_tasks={k}"))
                                         for k in TASK_COUNTS), shared_baseline=False))
