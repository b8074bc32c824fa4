"""Training: a `TrainState`, one jitted step per method, `lax.scan` over steps, `vmap` over seeds.

The trainer knows nothing of bidding: it trains any `MultiTaskProblem` (an init function, a
per-example loss, samplers of train/validation/single-task batches over explicit data arrays).
Methods:
  stl          one model per task, trained on its own task's data only (vmap over tasks)
  equal        ∇ (1/K) Σ_k L_k, one backward pass
  vamo         VAMO's exact fast path (`vamo_gradient`), alignment with the validation day
  vamo_train   the same with the mean training gradient as target (w/o held-out validation)
  greedy       VAMO with λ → 0 (1e-8 × the configured temperature)
  dwa, famo, uw, rlw
               weights from the task losses and the method's state only: one forward pass,
               the weights, then one backward pass of Σ_k w_k L_k (exactly Σ_k w_k g_k)
  any other    a transform of `vamo_jax.mtl.weighting` over explicit per-task gradients

Randomness: the batch of step i of seed s comes from fold_in(key_s, i), so a run resumed from
a checkpoint draws exactly what an uninterrupted run draws.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl import VamoHyperparams, per_task_grads, task_losses, vamo_gradient, weighted_task_grad
from vamo_jax.mtl.vamo import init_state as vamo_init_state

FAST_METHODS = ("equal", "vamo", "vamo_train", "greedy")
REFRESHING_METHODS = ("vamo", "vamo_train", "greedy")
LOSS_WEIGHTED_METHODS = ("dwa", "famo", "uw", "rlw")
"""Zoo methods whose update is Σ_k w_k g_k with w a function of the task losses and their own
state, never of the gradients; the trainer reads their weights off the transform applied to the
identity (task k's "gradient" e_k combines to w) and takes one backward pass."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters shared by every method of a run.

    Attributes:
      methods: methods to train, in order (see the module docstring).
      num_seeds: seeds trained at once with `vmap` (the paper reports 3).
      seed: base seed; seed s trains from fold_in(PRNGKey(seed), s).
      steps: optimisation steps per method.
      batch_size: training (and validation, Alg. 1 line 5) batch size.
      learning_rate, weight_decay, grad_clip: AdamW with global-norm clipping.
      temperature, update_every, normalize: VAMO's λ, refresh period and alignment normalisation.
      temperature_end: None (fixed λ), or λ decays geometrically from `temperature` to this
        over `steps` (`mtl.temperature.exponential_schedule`).
      target_entropy: None, or λ matched at each refresh so the weights' entropy is this
        fraction of log K (`VamoHyperparams.target_entropy`; `temperature` is then unused).
      epoch_length: steps per "epoch" for methods defined on epochs (DWA's loss ratios).
      log_every: steps per jitted chunk; validation losses are logged at chunk ends.
      checkpoint_every: steps between orbax checkpoints (a multiple of log_every).
      progress: show a progress bar.
    """

    methods: tuple[str, ...] = ("stl", "equal", "vamo")
    num_seeds: int = 3
    seed: int = 0
    steps: int = 1000
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    temperature: float = 1.0
    update_every: int = 5
    normalize: str | None = None
    temperature_end: float | None = None
    target_entropy: float | None = None
    epoch_length: int = 50
    log_every: int = 50
    checkpoint_every: int = 250
    progress: bool = True

    def __post_init__(self):
        def need(cond, field, msg):
            if not cond:
                raise ValueError(f"train.{field}: {msg}")

        need(len(self.methods) > 0, "methods", "name at least one method (e.g. stl,equal,vamo).")
        need(len(set(self.methods)) == len(self.methods), "methods", f"duplicates in {self.methods}.")
        from vamo_jax.mtl import weighting

        valid = ("stl", *weighting.available())
        unknown = [m for m in self.methods if m not in valid]
        need(not unknown, "methods", f"unknown method(s) {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}.")
        for name in ("num_seeds", "steps", "batch_size", "log_every", "checkpoint_every", "update_every", "epoch_length"):
            need(getattr(self, name) >= 1, name, f"must be ≥ 1, got {getattr(self, name)}.")
        need(self.steps % self.log_every == 0, "steps", f"must be a multiple of log_every={self.log_every}.")
        need(
            self.checkpoint_every % self.log_every == 0,
            "checkpoint_every",
            f"must be a multiple of log_every={self.log_every}.",
        )
        need(self.learning_rate > 0, "learning_rate", "must be > 0.")
        need(self.temperature > 0, "temperature", "λ must be > 0 (use a small value for greedy).")
        need(self.normalize in (None, "val_norm", "cosine"), "normalize", "one of none, val_norm, cosine.")
        need(self.temperature_end is None or self.temperature_end > 0, "temperature_end", "λ must be > 0.")
        need(self.target_entropy is None or 0 < self.target_entropy < 1, "target_entropy",
             "a fraction of log K in (0, 1).")


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
    """

    num_tasks: int
    init_params: Callable
    per_example_loss: Callable
    task_of: Callable
    sample_train: Callable
    sample_val: Callable
    sample_task: Callable
    data: Any


@chex.dataclass
class TrainState:
    """Per-seed training state (a leading seed axis when stacked).

    Attributes:
      step: () int32. params: the model (STL: a leading task axis K). opt_state: AdamW's state.
      weighting_state: the multi-task weighting's state (VamoState for the fast methods).
      key: (2,) uint32, this seed's base key.
    """

    step: chex.Array
    params: Any
    opt_state: Any
    weighting_state: Any
    key: chex.Array


class StepMetrics(NamedTuple):
    """Per-step metrics: train losses (K,), task weights (K,), gradient global norm ()."""

    losses: chex.Array
    weights: chex.Array
    grad_norm: chex.Array


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adamw(config.learning_rate, weight_decay=config.weight_decay),
    )


def _weighting_transform(method: str, num_tasks: int, config: TrainConfig):
    from vamo_jax.mtl import weighting

    if method not in weighting.available() and method != "stl":
        raise ValueError(f"train.methods: unknown method {method!r}; valid: stl, {', '.join(weighting.available())}.")
    options = {"epoch_length": config.epoch_length} if method == "dwa" else {}
    return weighting.get(method, num_tasks, **options)


def vamo_hyperparams(method: str, num_tasks: int, config: TrainConfig) -> VamoHyperparams:
    temperature = config.temperature * (1e-8 if method == "greedy" else 1.0)
    if config.temperature_end is not None:
        from vamo_jax.mtl.temperature import exponential_schedule

        temperature = exponential_schedule(temperature, config.temperature_end, config.steps)
    return VamoHyperparams(
        num_tasks,
        temperature=temperature,
        target_entropy=config.target_entropy,
        update_every=config.update_every,
        alignment="train" if method == "vamo_train" else "validation",
        normalize=config.normalize,
    )


def init_train_state(problem: MultiTaskProblem, method: str, config: TrainConfig, key) -> TrainState:
    """The state of one seed before its first step."""
    k = problem.num_tasks
    optimizer = make_optimizer(config)
    if method == "stl":
        params = jax.vmap(problem.init_params)(jax.random.split(jax.random.fold_in(key, 1), k))
        opt_state = jax.vmap(optimizer.init)(params)
        weighting_state = ()
    else:
        params = problem.init_params(jax.random.fold_in(key, 1))
        opt_state = optimizer.init(params)
        if method in FAST_METHODS:
            weighting_state = vamo_init_state(k)
        else:
            weighting_state = _weighting_transform(method, k, config).init(params)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=opt_state,
                      weighting_state=weighting_state, key=key)


def init_train_states(problem: MultiTaskProblem, method: str, config: TrainConfig) -> TrainState:
    """States of every seed, stacked on a leading axis."""
    base = jax.random.PRNGKey(config.seed)
    keys = jax.vmap(lambda s: jax.random.fold_in(base, s))(jnp.arange(config.num_seeds))
    init = _cached("init", problem, method, config,
                   lambda: jax.jit(jax.vmap(lambda key: init_train_state(problem, method, config, key))))
    return init(keys)


def task_losses_on(problem: MultiTaskProblem, params, batch) -> chex.Array:
    """(K,) task-masked losses of `params` on `batch`."""
    return task_losses(problem.per_example_loss(params, batch), problem.task_of(batch), problem.num_tasks)


def make_step(problem: MultiTaskProblem, method: str, config: TrainConfig):
    """(state, step_index, data) -> (state, StepMetrics) for one seed; step_index is unbatched."""
    k = problem.num_tasks
    optimizer = make_optimizer(config)

    def apply(state: TrainState, grads, weighting_state):
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return state.replace(
            step=state.step + 1,
            params=optax.apply_updates(state.params, updates),
            opt_state=opt_state,
            weighting_state=weighting_state,
        )

    if method == "stl":

        def stl_step(state: TrainState, step_index, data):
            key = jax.random.fold_in(state.key, step_index)

            def one_task(params, opt_state, task):
                batch = problem.sample_task(jax.random.fold_in(key, task), data, task)
                loss, grads = jax.value_and_grad(lambda p: jnp.mean(problem.per_example_loss(p, batch)))(params)
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return optax.apply_updates(params, updates), opt_state, loss, optax.global_norm(grads)

            params, opt_state, losses, norms = jax.vmap(one_task)(state.params, state.opt_state, jnp.arange(k))
            state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
            return state, StepMetrics(losses, jnp.full((k,), 1.0 / k), jnp.sqrt(jnp.sum(norms**2)))

        return stl_step

    if method in FAST_METHODS:
        hp = vamo_hyperparams(method, k, config)

        def fast_step(state: TrainState, step_index, data, refresh=None):
            key_train, key_val = jax.random.split(jax.random.fold_in(state.key, step_index))
            batch = problem.sample_train(key_train, data)
            f = lambda p: task_losses_on(problem, p, batch)  # noqa: E731
            if method == "equal":
                losses, grads = weighted_task_grad(f, state.params, jnp.full((k,), 1.0 / k))
                wstate = state.weighting_state._replace(count=state.weighting_state.count + 1)
            else:
                val_batch = problem.sample_val(key_val, data)
                val_grad = jax.grad(lambda p: jnp.mean(task_losses_on(problem, p, val_batch)))
                if refresh is None:
                    refresh = step_index % config.update_every == 0
                grads, wstate, losses = vamo_gradient(f, state.params, state.weighting_state, hp,
                                                      val_grad=val_grad, refresh=refresh)
            return apply(state, grads, wstate), StepMetrics(losses, wstate.weights, optax.global_norm(grads))

        return fast_step

    transform = _weighting_transform(method, k, config)

    if method in LOSS_WEIGHTED_METHODS:

        def loss_weighted_step(state: TrainState, step_index, data):
            key_train, _ = jax.random.split(jax.random.fold_in(state.key, step_index))
            batch = problem.sample_train(key_train, data)
            losses, pullback = jax.vjp(lambda p: task_losses_on(problem, p, batch), state.params)
            weights, wstate = transform.update(jnp.eye(k, dtype=losses.dtype), state.weighting_state,
                                               state.params, task_losses=losses)
            (grads,) = pullback(weights)
            return apply(state, grads, wstate), StepMetrics(losses, weights, optax.global_norm(grads))

        return loss_weighted_step

    def zoo_step(state: TrainState, step_index, data):
        key_train, key_val = jax.random.split(jax.random.fold_in(state.key, step_index))
        batch = problem.sample_train(key_train, data)
        losses, stacked = per_task_grads(lambda p: task_losses_on(problem, p, batch), state.params)
        val_batch = problem.sample_val(key_val, data)
        val_grad = jax.grad(lambda p: jnp.mean(task_losses_on(problem, p, val_batch)))(state.params)
        grads, wstate = transform.update(stacked, state.weighting_state, state.params,
                                         task_losses=losses, val_grad=val_grad)
        weights = getattr(wstate, "weights", jnp.full((k,), 1.0 / k))
        return apply(state, grads, wstate), StepMetrics(losses, weights, optax.global_norm(grads))

    return zoo_step


_COMPILED: dict = {}


def _cached(kind: str, problem: MultiTaskProblem, method: str, config: TrainConfig, build: Callable):
    """One jitted function per (problem's functions, method, config), so repeated fits compile once.

    The data is a jit argument, not part of the key: problems that differ only in their arrays
    (of the same shapes) share compilations.
    """
    key = (kind, problem._replace(data=None), method, config)
    if key not in _COMPILED:
        _COMPILED[key] = build()
    return _COMPILED[key]


def make_chunk(problem: MultiTaskProblem, method: str, config: TrainConfig):
    """jit((states, start, data) -> (states, metrics (S, n, …))) running `log_every` steps.

    `start` (the first step's index) is an unbatched traced scalar, so one compilation serves
    every chunk. For VAMO, when `log_every` is a multiple of `update_every` (chunks start on a
    refresh step), the chunk is a scan over blocks of one refresh and `update_every − 1` cached
    steps, a static schedule measured ~10% faster than a `cond` per step; otherwise each step
    branches on `step % update_every == 0` with an unbatched predicate.
    """
    every = config.update_every
    static_schedule = method in REFRESHING_METHODS and config.log_every % every == 0

    def build():
        step = make_step(problem, method, config)
        seeds_step = jax.vmap(step, in_axes=(0, None, None))

        def chunk(states, start, data):
            if static_schedule:
                # Blocks of one refresh step and `every - 1` cached steps: no `cond` in the loop.
                refreshing = jax.vmap(lambda s, i, d: step(s, i, d, True), in_axes=(0, None, None))
                cached = jax.vmap(lambda s, i, d: step(s, i, d, False), in_axes=(0, None, None))

                def block(carry, first):
                    carry, head = refreshing(carry, first, data)
                    carry, tail = jax.lax.scan(lambda c, i: cached(c, first + 1 + i, data), carry,
                                               jnp.arange(every - 1))
                    return carry, jax.tree.map(lambda h, t: jnp.concatenate([h[None], t]), head, tail)

                states, metrics = jax.lax.scan(block, states, start + every * jnp.arange(config.log_every // every))
                metrics = jax.tree.map(lambda m: m.reshape((config.log_every,) + m.shape[2:]), metrics)
            else:
                states, metrics = jax.lax.scan(lambda c, i: seeds_step(c, start + i, data), states,
                                               jnp.arange(config.log_every))
            return states, jax.tree.map(lambda m: jnp.swapaxes(m, 0, 1), metrics)

        return jax.jit(chunk, donate_argnums=0)

    return _cached("chunk", problem, method, config, build)


def make_val_losses(problem: MultiTaskProblem, method: str, config: TrainConfig, num_batches: int = 4):
    """jit((states, data, key) -> (S, K) validation losses averaged over a few val batches)."""

    def one_seed(state: TrainState, data, key):
        def on_batch(b):
            batch = problem.sample_val(jax.random.fold_in(key, b), data)
            if method == "stl":
                per_model = jax.vmap(lambda p: task_losses_on(problem, p, batch))(state.params)
                return jnp.diagonal(per_model)
            return task_losses_on(problem, state.params, batch)

        return jnp.mean(jax.vmap(on_batch)(jnp.arange(num_batches)), axis=0)

    return _cached("val", problem, method, config, lambda: jax.jit(jax.vmap(one_seed, in_axes=(0, None, None))))
