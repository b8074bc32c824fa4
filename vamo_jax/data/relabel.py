"""Cross-task relabeling: re-score a source task's trajectories under a target task's value.

Every won impression carries a value under every channel (GMV, Dir-GMV, CartCnt), so the
rewards of a trajectory are known under every task and relabeling is exact for them: the
returns-to-go become Σ_{t' ≥ t} reward[t', target] × unit_value[target] / budget and the
task becomes the target. What cannot be relabeled is kept as logged: the actions (multipliers of
the source task's value estimate) and the state features built from the source task's values.
The constraint is set to 0 (the source advertiser has no constraint under the target task).
Relabeling is defined on the three campaign-type tasks: the learning task becomes the target too.
"""

from __future__ import annotations

import jax.numpy as jnp

from vamo_jax.data.dataset import Split


def relabel(split: Split, target_task: int, unit_value: tuple[float, float, float]) -> Split:
    """Returns `split` re-scored under `target_task` (every trajectory, whatever its task)."""
    if not 0 <= int(target_task) < 3:
        raise ValueError(f"relabel: target_task={target_task} must be in 0..2.")
    own = jnp.asarray(split.rewards)[..., target_task] * unit_value[target_task]
    rtg = jnp.flip(jnp.cumsum(jnp.flip(own, 1), 1), 1) / jnp.asarray(split.budget)[:, None]
    return split.replace(
        returns_to_go=rtg.astype(jnp.float32),
        campaign=jnp.full_like(jnp.asarray(split.campaign), target_task),
        task=jnp.full_like(jnp.asarray(split.task), target_task),
        constraint=jnp.zeros_like(jnp.asarray(split.constraint)),
    )
