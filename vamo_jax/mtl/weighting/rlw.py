"""RLW (Lin et al. 2021): random loss weighting."""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl.weighting import _common


class RLWState(NamedTuple):
    """Attributes: count () int32; weights (K,) the weights of the last step; key (2,) uint32."""

    count: chex.Array
    weights: chex.Array
    key: chex.Array


def rlw(num_tasks: int, seed: int = 0) -> optax.GradientTransformationExtraArgs:
    """d = Σ_k w_k g_k with w = softmax(z), z ~ N(0, I_K) drawn anew at every step.

    Random weights on the losses give the same combined gradient as on the gradients, so RLW
    needs no `task_losses=`. The weights lie on the simplex: identical gradients g give g (scale
    convention). The draw uses the key in the state, seeded by `seed`.

    Args:
      num_tasks: K.
      seed: int seed (default 0).

    Reference: Lin et al., "Reasonable Effectiveness of Random Weighting: A Litmus Test for
    Multi-Task Learning", TMLR 2022 (arXiv:2111.10603); LibMTL's RLW (normal, softmax).
    """
    _common.check_positive_int("num_tasks", num_tasks)
    _common.check_positive_int("seed", seed, minimum=0)

    def init_fn(params):
        del params
        return RLWState(
            jnp.zeros((), jnp.int32), jnp.full((num_tasks,), 1.0 / num_tasks, jnp.float32), _common.key_data(seed)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params
        _common.check_extra_args(extra_args)
        _common.check_stacked(updates, num_tasks)
        key, sub = jax.random.split(jax.random.wrap_key_data(state.key))
        w = jax.nn.softmax(jax.random.normal(sub, (num_tasks,), jnp.float32))
        return _common.combine(updates, w), RLWState(state.count + 1, w, jax.random.key_data(key))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
