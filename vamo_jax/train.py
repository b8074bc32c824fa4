"""Training: a `TrainState`, one jitted step, `lax.scan` over steps, `vmap` over seeds.

The trainer knows nothing of bidding and nothing of any particular method: it trains any
`MultiTaskProblem` (`vamo_jax.problem`) with any `vamo_jax.methods.Method`, which supplies the
initial parameters, the optimiser, the weighting state, the refresh schedule and each step's
combined gradient.

Compilation: the jitted chunk and init functions take the problem's functions, the method and the
config as static arguments (the data as a traced one), so JAX's own cache serves repeated fits of
one problem; problems that differ only in their arrays (of the same shapes) share compilations.

Randomness: the batch of step i of seed s comes from fold_in(key_s, i), so a run resumed from
a checkpoint draws exactly what an uninterrupted run draws.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax import methods as registry
from vamo_jax.methods import Method
from vamo_jax.problem import MultiTaskProblem, static_problem, task_losses_on
from vamo_jax.train_config import TrainConfig

__all__ = ["MultiTaskProblem", "StepMetrics", "TrainConfig", "TrainState", "eval_params", "held_out_losses",
           "init_train_state", "init_train_states", "make_chunk", "make_step", "task_losses_on"]


@chex.dataclass
class TrainState:
    """Per-seed training state (a leading seed axis when stacked).

    Attributes:
      step: () int32. params: the model (STL: a leading task axis K). opt_state: the optimiser's state.
      weighting_state: the method's weighting state (VamoState for the aligned methods).
      key: (2,) uint32, this seed's base key.
      ema_params: the moving average of params (`train.ema_decay`), or () when not kept.
    """

    step: chex.Array
    params: Any
    opt_state: Any
    weighting_state: Any
    key: chex.Array
    ema_params: Any = ()


def eval_params(states: TrainState, config: TrainConfig):
    """The parameters to evaluate: the moving average when `train.ema_decay` is set."""
    return states.ema_params if config.ema_decay is not None else states.params


def _resolve(method: Method | str) -> Method:
    return registry.get(method) if isinstance(method, str) else method


def init_train_state(problem: MultiTaskProblem, method: Method | str, config: TrainConfig, key,
                     params=None) -> TrainState:
    """The state of one seed before its first step; `params`: that seed's `method.draw_params`, when already drawn."""
    method = _resolve(method)
    params = method.draw_params(problem, key) if params is None else params
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=method.optimizer(config).init(params),
                      weighting_state=method.init_state(problem, config, params), key=key,
                      ema_params=params if config.ema_decay is not None else ())


def init_train_states(problem: MultiTaskProblem, method: Method | str, config: TrainConfig) -> TrainState:
    """States of every seed, stacked on a leading axis; seed s's key is fold_in(PRNGKey(train.seed), s).

    The parameters are drawn by one program per (problem, seed count, `method.draw_params`), which
    every shared-model method shares (the random initialisers are most of an init's compile time);
    the rest of the state by a small program per method.
    """
    method, problem = _resolve(method), static_problem(problem)
    base = jax.random.PRNGKey(config.seed)
    keys = jax.vmap(lambda s: jax.random.fold_in(base, s))(jnp.arange(config.num_seeds))
    params = _init_params(keys, problem=problem, draw=method.draw_params)
    return _init_states(keys, params, problem=problem, method=method, config=config)


@functools.partial(jax.jit, static_argnames=("problem", "draw"))
def _init_params(keys, *, problem, draw):
    return jax.vmap(lambda key: draw(problem, key))(keys)


@functools.partial(jax.jit, static_argnames=("problem", "method", "config"))
def _init_states(keys, params, *, problem, method, config):
    return jax.vmap(lambda key, p: init_train_state(problem, method, config, key, p))(keys, params)


class StepMetrics(NamedTuple):
    """Per-step metrics: train losses (K,) (cross-task: each task's loss on its own rows), task
    weights (K,) (cross-task: (K, K) w[i, k] of source i for target k), gradient global norm ()."""

    losses: chex.Array
    weights: chex.Array
    grad_norm: chex.Array


def make_step(problem: MultiTaskProblem, method: Method | str, config: TrainConfig):
    """(state, step_index, data, refresh=False) -> (state, StepMetrics) for one seed; step_index is
    unbatched, `refresh` whether the method refreshes its weights at this step (`make_chunk` follows
    `method.refresh_every`)."""
    method = _resolve(method)
    optimizer = method.optimizer(config)

    def step(state: TrainState, step_index, data, refresh=False):
        grads, weighting_state, losses, weights = method.gradient(
            problem, config, state.params, state.weighting_state, jax.random.fold_in(state.key, step_index), data,
            refresh)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema_params = () if config.ema_decay is None else optax.incremental_update(params, state.ema_params,
                                                                                   1.0 - config.ema_decay)
        state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                              weighting_state=weighting_state, ema_params=ema_params)
        return state, StepMetrics(losses, weights, optax.global_norm(grads))

    return step


def make_chunk(problem: MultiTaskProblem, method: Method | str, config: TrainConfig, per_replication: bool = False):
    """jit((states, start, data) -> (states, metrics (S, n, …))) running `log_every` steps.

    `per_replication`: every leaf of `data` carries the seed axis S in front, seed s training on
    its own data (replications over markets: s's market); otherwise every seed reads the same data.

    `start` (the first step's index) is an unbatched traced scalar, so one compilation serves
    every chunk. For a method that refreshes every n steps (`method.refresh_every`), when
    `log_every` is a multiple of n (chunks start on a refresh step) the chunk is a scan over blocks
    of one refresh and n − 1 cached steps, a static schedule measured ~10% faster than a `cond` per
    step; otherwise each step branches on `step % n == 0` with an unbatched predicate.
    """
    return functools.partial(_chunk, problem=static_problem(problem), method=_resolve(method), config=config,
                             per_replication=per_replication)


@functools.partial(jax.jit, static_argnames=("problem", "method", "config", "per_replication"), donate_argnums=0)
def _chunk(states, start, data, *, problem: MultiTaskProblem, method: Method, config: TrainConfig,
           per_replication: bool = False):
    step = make_step(problem, method, config)

    def seeds_step(states, step_index, refresh):
        if per_replication:
            return jax.vmap(lambda s, d: step(s, step_index, d, refresh))(states, data)
        return jax.vmap(lambda s: step(s, step_index, data, refresh))(states)

    every = method.refresh_every(config)
    if every is not None and config.log_every % every == 0:
        def block(carry, first):
            carry, head = seeds_step(carry, first, True)
            carry, tail = jax.lax.scan(lambda c, i: seeds_step(c, first + 1 + i, False), carry, jnp.arange(every - 1))
            return carry, jax.tree.map(lambda h, t: jnp.concatenate([h[None], t]), head, tail)

        states, metrics = jax.lax.scan(block, states, start + every * jnp.arange(config.log_every // every))
        metrics = jax.tree.map(lambda m: m.reshape((config.log_every,) + m.shape[2:]), metrics)
    else:
        def one(carry, i):
            return seeds_step(carry, start + i, False if every is None else (start + i) % every == 0)

        states, metrics = jax.lax.scan(one, states, jnp.arange(config.log_every))
    return states, jax.tree.map(lambda m: jnp.swapaxes(m, 0, 1), metrics)


def held_out_losses(problem: MultiTaskProblem, method: Method | str, params: chex.ArrayTree,
                    batches: Any, per_replication: bool = False) -> chex.Array:
    """(S, K) each seed's loss per task, pooled over a fixed set of held-out batches (n, B, …),
    each task under its own model (`method.task_losses`); `params` seed-stacked (S, …).
    `per_replication`: batches (S, n, B, …), seed s's own."""
    return _held_out(params, batches, problem=static_problem(problem), method=_resolve(method),
                     per_replication=per_replication)


@functools.partial(jax.jit, static_argnames=("problem", "method", "per_replication"))
def _held_out(params, batches, *, problem, method, per_replication=False):
    return jax.vmap(lambda p, b: method.task_losses(problem, p, b),
                    in_axes=(0, 0 if per_replication else None))(params, batches)


def val_batches(problem: MultiTaskProblem, data: Any, key: chex.PRNGKey, num_batches: int = 4,
                per_replication: bool = False) -> Any:
    """`num_batches` validation batches (n, B, …) of the training problem, the b-th from fold_in(key, b):
    what the training loop logs the validation loss on. `per_replication`: data (S, …) → (S, n, B, …),
    the same keys on each seed's data."""
    return _val_batches(data, key, problem=static_problem(problem), num_batches=num_batches,
                        per_replication=per_replication)


@functools.partial(jax.jit, static_argnames=("problem", "num_batches", "per_replication"))
def _val_batches(data, key, *, problem, num_batches, per_replication=False):
    def batches(d):
        return jax.vmap(lambda b: problem.sample_val(jax.random.fold_in(key, b), d))(jnp.arange(num_batches))

    return jax.vmap(batches)(data) if per_replication else batches(data)
