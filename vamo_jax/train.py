"""Training: a `TrainState`, one jitted step per method, `lax.scan` over steps, `vmap` over seeds.

The trainer knows nothing of bidding: it trains any `MultiTaskProblem` (an init function, a
per-example loss, samplers of train/validation/single-task batches over explicit data arrays).
Each method is an entry of `vamo_jax.methods`; its kind picks the step below (single_task,
loss_weighted, aligned, explicit).

Compilation: the jitted chunk and init functions take the problem's functions, the method and the
config as static arguments (the data as a traced one), so JAX's own cache serves repeated fits of
one problem; problems that differ only in their arrays (of the same shapes) share compilations.

Randomness: the batch of step i of seed s comes from fold_in(key_s, i), so a run resumed from
a checkpoint draws exactly what an uninterrupted run draws.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax import methods as registry
from vamo_jax.methods import Kind
from vamo_jax.mtl import cross_task_gradient, init_cross_task_state, per_task_grads, task_losses, vamo_gradient
from vamo_jax.mtl.vamo import init_state as vamo_init_state
from vamo_jax.train_config import TrainConfig

__all__ = ["MultiTaskProblem", "StepMetrics", "TrainConfig", "TrainState", "eval_params", "init_train_state",
           "init_train_states", "initial_params", "make_chunk", "make_optimizer", "make_step", "make_val_losses",
           "static_problem", "task_losses_on"]


class MultiTaskProblem(NamedTuple):
    """What the trainer needs; every function is pure and jittable.

    Attributes:
      num_tasks: K.
      init_params: key -> params.
      per_example_loss: (params, batch) -> (B,) losses (padding already masked).
      task_of: batch -> (B,) int task ids.
      sample_train: (key, data) -> a mixed training batch (task proportions of the data).
      sample_val: (key, data) -> a mixed validation batch of the same size.
      sample_task: (key, data, k) -> a training batch of task k only (for STL).
      data: the arrays the samplers read (passed to jit as an argument, not baked in).
      sample_cross: (key, data) -> (source (B,) int task of each row, batches stacked on a
        leading target axis K: the same B rows relabeled for each target k); for cross-task
        methods, None where the problem has no relabeling.
    """

    num_tasks: int
    init_params: Callable
    per_example_loss: Callable
    task_of: Callable
    sample_train: Callable
    sample_val: Callable
    sample_task: Callable
    data: Any
    sample_cross: Callable | None = None


@chex.dataclass
class TrainState:
    """Per-seed training state (a leading seed axis when stacked).

    Attributes:
      step: () int32. params: the model (STL: a leading task axis K). opt_state: AdamW's state.
      weighting_state: the multi-task weighting's state (VamoState for the aligned methods).
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


def _averaged(state: TrainState, params, config: TrainConfig):
    if config.ema_decay is None:
        return ()
    return optax.incremental_update(params, state.ema_params, 1.0 - config.ema_decay)


class StepMetrics(NamedTuple):
    """Per-step metrics: train losses (K,) (cross-task: each task's loss on its own rows), task
    weights (K,) (cross-task: (K, K) w[i, k] of source i for target k), gradient global norm ()."""

    losses: chex.Array
    weights: chex.Array
    grad_norm: chex.Array


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    learning_rate = (optax.cosine_decay_schedule(config.learning_rate, config.steps)
                     if config.lr_schedule == "cosine" else config.learning_rate)
    return optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adamw(learning_rate, weight_decay=config.weight_decay),
    )


def initial_params(problem: MultiTaskProblem, single_task: bool, key):
    """One seed's initial parameters (STL: K models on a leading task axis)."""
    if single_task:
        return jax.vmap(problem.init_params)(jax.random.split(jax.random.fold_in(key, 1), problem.num_tasks))
    return problem.init_params(jax.random.fold_in(key, 1))


def init_train_state(problem: MultiTaskProblem, method: str, config: TrainConfig, key, params=None) -> TrainState:
    """The state of one seed before its first step; `params`: that seed's `initial_params`, when already drawn."""
    k, entry = problem.num_tasks, registry.get(method)
    single_task = entry.kind is Kind.SINGLE_TASK
    params = initial_params(problem, single_task, key) if params is None else params
    optimizer = make_optimizer(config)
    if single_task:
        opt_state, weighting_state = jax.vmap(optimizer.init)(params), ()
    else:
        opt_state = optimizer.init(params)
        if entry.kind is Kind.ALIGNED:
            weighting_state = vamo_init_state(k)
        elif entry.kind is Kind.CROSS_TASK:
            weighting_state = init_cross_task_state(k)
        else:
            weighting_state = entry.transform(k, config).init(params)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
                      weighting_state=weighting_state, key=key,
                      ema_params=params if config.ema_decay is not None else ())


def init_train_states(problem: MultiTaskProblem, method: str, config: TrainConfig) -> TrainState:
    """States of every seed, stacked on a leading axis.

    The parameters are drawn by one program per (problem, seed count, STL or not), which every
    multi-task method shares (the random initialisers are most of an init's compile time); the
    rest of the state by a small program per method.
    """
    base = jax.random.PRNGKey(config.seed)
    keys = jax.vmap(lambda s: jax.random.fold_in(base, s))(jnp.arange(config.num_seeds))
    problem = static_problem(problem)
    params = _init_params(keys, problem=problem, single_task=registry.get(method).kind is Kind.SINGLE_TASK)
    return _init_states(keys, params, problem=problem, method=method, config=config)


@functools.partial(jax.jit, static_argnames=("problem", "single_task"))
def _init_params(keys, *, problem, single_task):
    return jax.vmap(lambda key: initial_params(problem, single_task, key))(keys)


@functools.partial(jax.jit, static_argnames=("problem", "method", "config"))
def _init_states(keys, params, *, problem, method, config):
    return jax.vmap(lambda key, p: init_train_state(problem, method, config, key, p))(keys, params)


def static_problem(problem: MultiTaskProblem) -> MultiTaskProblem:
    """The problem without its arrays: hashable, a static jit argument (the data is passed traced)."""
    return problem._replace(data=None)


def task_losses_on(problem: MultiTaskProblem, params, batch) -> chex.Array:
    """(K,) task-masked losses of `params` on `batch`."""
    return task_losses(problem.per_example_loss(params, batch), problem.task_of(batch), problem.num_tasks)


StepFn = Callable[..., tuple[TrainState, StepMetrics]]


def make_step(problem: MultiTaskProblem, method: str, config: TrainConfig) -> StepFn:
    """(state, step_index, data) -> (state, StepMetrics) for one seed; step_index is unbatched.

    Aligned methods take a fourth argument `refresh` (None: every `update_every` steps).
    """
    builders = {Kind.SINGLE_TASK: _single_task_step, Kind.LOSS_WEIGHTED: _loss_weighted_step,
                Kind.ALIGNED: _aligned_step, Kind.EXPLICIT: _explicit_step, Kind.CROSS_TASK: _cross_task_step}
    entry = registry.get(method)
    return builders[entry.kind](problem, entry, config)


def _apply(optimizer, config: TrainConfig, state: TrainState, grads, weighting_state) -> TrainState:
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                         weighting_state=weighting_state, ema_params=_averaged(state, params, config))


def _step_keys(state: TrainState, step_index):
    """(training key, validation key) of this step: fold_in(seed key, step), so a resumed run draws
    what an uninterrupted one draws."""
    return jax.random.split(jax.random.fold_in(state.key, step_index))


def _train_batch(problem: MultiTaskProblem, state: TrainState, step_index, data):
    """The training batch of this step and the key of its validation batch."""
    key_train, key_val = _step_keys(state, step_index)
    return problem.sample_train(key_train, data), key_val


def _single_task_step(problem: MultiTaskProblem, entry: registry.Method, config: TrainConfig) -> StepFn:
    """STL: K models (a leading task axis), model k trained on task k's batches only."""
    k, optimizer = problem.num_tasks, make_optimizer(config)

    def step(state: TrainState, step_index, data):
        key = jax.random.fold_in(state.key, step_index)

        def one_task(params, opt_state, task):
            batch = problem.sample_task(jax.random.fold_in(key, task), data, task)
            loss, grads = jax.value_and_grad(lambda p: jnp.mean(problem.per_example_loss(p, batch)))(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss, optax.global_norm(grads)

        params, opt_state, losses, norms = jax.vmap(one_task)(state.params, state.opt_state, jnp.arange(k))
        state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                              ema_params=_averaged(state, params, config))
        return state, StepMetrics(losses, jnp.full((k,), 1.0 / k), jnp.sqrt(jnp.sum(norms**2)))

    return step


def _loss_weighted_step(problem: MultiTaskProblem, entry: registry.Method, config: TrainConfig) -> StepFn:
    """Weights from the losses alone: read off the transform applied to the identity, one backward pass."""
    k, optimizer, transform = problem.num_tasks, make_optimizer(config), entry.transform(problem.num_tasks, config)

    def step(state: TrainState, step_index, data):
        batch, _ = _train_batch(problem, state, step_index, data)
        losses, pullback = jax.vjp(lambda p: task_losses_on(problem, p, batch), state.params)
        weights, wstate = transform.update(jnp.eye(k, dtype=losses.dtype), state.weighting_state,
                                           state.params, task_losses=losses)
        (grads,) = pullback(weights)
        metrics = StepMetrics(losses, weights, optax.global_norm(grads))
        return _apply(optimizer, config, state, grads, wstate), metrics

    return step


def _aligned_step(problem: MultiTaskProblem, entry: registry.Method, config: TrainConfig) -> StepFn:
    """VAMO's exact fast path; the validation gradient is computed at refreshes only."""
    optimizer, hp = make_optimizer(config), entry.hyperparams(problem.num_tasks, config)

    def step(state: TrainState, step_index, data, refresh=None):
        batch, key_val = _train_batch(problem, state, step_index, data)
        val_batch = problem.sample_val(key_val, data)
        val_grad = jax.grad(lambda p: jnp.mean(task_losses_on(problem, p, val_batch)))
        if refresh is None:
            refresh = step_index % config.update_every == 0
        grads, wstate, losses = vamo_gradient(lambda p: task_losses_on(problem, p, batch), state.params,
                                              state.weighting_state, hp, val_grad=val_grad, refresh=refresh)
        metrics = StepMetrics(losses, wstate.weights, optax.global_norm(grads))
        return _apply(optimizer, config, state, grads, wstate), metrics

    return step


def _explicit_step(problem: MultiTaskProblem, entry: registry.Method, config: TrainConfig) -> StepFn:
    """K per-task gradients combined by the method's transform."""
    optimizer, transform = make_optimizer(config), entry.transform(problem.num_tasks, config)

    def step(state: TrainState, step_index, data):
        batch, _ = _train_batch(problem, state, step_index, data)
        losses, stacked = per_task_grads(lambda p: task_losses_on(problem, p, batch), state.params)
        grads, wstate = transform.update(stacked, state.weighting_state, state.params, task_losses=losses)
        metrics = StepMetrics(losses, wstate.weights, optax.global_norm(grads))
        return _apply(optimizer, config, state, grads, wstate), metrics

    return step


def cross_task_losses(problem: MultiTaskProblem, params, sources, batches) -> chex.Array:
    """(K, K) L[i, k]: target k's loss on source i's rows of `batches[k]` (relabeled for k)."""
    per_target = jax.vmap(lambda batch: task_losses(problem.per_example_loss(params, batch), sources,
                                                    problem.num_tasks))(batches)  # (K targets, K sources)
    return per_target.T


def _cross_task_step(problem: MultiTaskProblem, entry: registry.Method, config: TrainConfig) -> StepFn:
    """VAO: per-target weights over the sources' relabeled batches (uniform for data sharing)."""
    if problem.sample_cross is None:
        raise ValueError(f"method {entry.name!r} needs relabeled batches: this problem has no sample_cross.")
    optimizer, hp = make_optimizer(config), entry.hyperparams(problem.num_tasks, config)

    def step(state: TrainState, step_index, data, refresh=None):
        key_train, key_val = _step_keys(state, step_index)
        sources, batches = problem.sample_cross(key_train, data)
        val_batch = problem.sample_val(key_val, data)
        if entry.uniform:
            refresh = False
        elif refresh is None:
            refresh = step_index % config.update_every == 0
        grads, wstate, losses = cross_task_gradient(
            lambda p: cross_task_losses(problem, p, sources, batches), state.params, state.weighting_state, hp,
            val_losses_fn=lambda p: task_losses_on(problem, p, val_batch), refresh=refresh)
        metrics = StepMetrics(jnp.diagonal(losses), wstate.weights, optax.global_norm(grads))
        return _apply(optimizer, config, state, grads, wstate), metrics

    return step


def make_chunk(problem: MultiTaskProblem, method: str, config: TrainConfig):
    """jit((states, start, data) -> (states, metrics (S, n, …))) running `log_every` steps.

    `start` (the first step's index) is an unbatched traced scalar, so one compilation serves
    every chunk. For an aligned method, when `log_every` is a multiple of `update_every` (chunks
    start on a refresh step), the chunk is a scan over blocks of one refresh and
    `update_every − 1` cached steps, a static schedule measured ~10% faster than a `cond` per
    step; otherwise each step branches on `step % update_every == 0` with an unbatched predicate.
    """
    return functools.partial(_chunk, problem=static_problem(problem), method=method, config=config)


@functools.partial(jax.jit, static_argnames=("problem", "method", "config"), donate_argnums=0)
def _chunk(states, start, data, *, problem: MultiTaskProblem, method: str, config: TrainConfig):
    step = make_step(problem, method, config)
    every = config.update_every
    entry = registry.get(method)
    refreshes = entry.kind is Kind.ALIGNED or (entry.kind is Kind.CROSS_TASK and not entry.uniform)
    if refreshes and config.log_every % every == 0:
        refreshing = jax.vmap(lambda s, i, d: step(s, i, d, True), in_axes=(0, None, None))
        cached = jax.vmap(lambda s, i, d: step(s, i, d, False), in_axes=(0, None, None))

        def block(carry, first):
            carry, head = refreshing(carry, first, data)
            carry, tail = jax.lax.scan(lambda c, i: cached(c, first + 1 + i, data), carry, jnp.arange(every - 1))
            return carry, jax.tree.map(lambda h, t: jnp.concatenate([h[None], t]), head, tail)

        states, metrics = jax.lax.scan(block, states, start + every * jnp.arange(config.log_every // every))
        metrics = jax.tree.map(lambda m: m.reshape((config.log_every,) + m.shape[2:]), metrics)
    else:
        seeds_step = jax.vmap(step, in_axes=(0, None, None))
        states, metrics = jax.lax.scan(lambda c, i: seeds_step(c, start + i, data), states,
                                       jnp.arange(config.log_every))
    return states, jax.tree.map(lambda m: jnp.swapaxes(m, 0, 1), metrics)


def make_val_losses(problem: MultiTaskProblem, method: str, config: TrainConfig, num_batches: int = 4):
    """jit((states, data, key) -> (S, K) validation losses of the evaluated parameters
    (`eval_params`), averaged over a few val batches)."""
    return functools.partial(_val_losses, problem=static_problem(problem), config=config, num_batches=num_batches,
                             single_task=registry.get(method).kind is Kind.SINGLE_TASK)


@functools.partial(jax.jit, static_argnames=("problem", "config", "single_task", "num_batches"))
def _val_losses(states: TrainState, data, key, *, problem: MultiTaskProblem, config: TrainConfig,
                single_task: bool, num_batches: int):
    def one_seed(state: TrainState):
        params = eval_params(state, config)

        def on_batch(b):
            batch = problem.sample_val(jax.random.fold_in(key, b), data)
            if single_task:
                return jnp.diagonal(jax.vmap(lambda p: task_losses_on(problem, p, batch))(params))
            return task_losses_on(problem, params, batch)

        return jnp.mean(jax.vmap(on_batch)(jnp.arange(num_batches)), axis=0)

    return jax.vmap(one_seed)(states)
