"""The training methods: each is one object that carries its whole behaviour.

The trainer (`vamo_jax.train`) asks a method for the following, and for nothing else:

  draw_params(problem, key)       one seed's initial parameters (STL: K models on a leading axis)
  optimizer(config)               the parameter update (STL: one AdamW per model)
  init_state(problem, config, params)   the weighting's state
  refresh_every(config)           steps between weight refreshes (a refresh reads the validation
                                  gradient), or None for a method that never refreshes
  gradient(problem, config, params, state, key, data, refresh)
                                  -> (combined gradient, state, (K,) losses, task weights)

and the run asks, to evaluate a trained method (and `shares_model`: one model for every task):

  task_models(params, K)          (S, K, …): the parameters that play each task
  task_losses(problem, params, batches)   (K,) each task's pooled loss under its own model

The four families, each built on one gradient path of `vamo_jax.mtl`:

  SingleTask    one model per task, each trained on its own task's data only (STL)
  Zoo           any `mtl.weighting` method through the library's entry point
                (`mtl.gradient_method`), which picks its cheapest exact path: loss-weighted
                (weights from the task losses and the method's state: one forward pass, the
                weights read off the transform applied to the identity, one backward pass of
                Σ_k w_k L_k) or explicit (K per-task gradients and the transform)
  Aligned       VAMO's exact fast path (`mtl.vamo_fast_path`): alignments by one forward-mode
                product, the combination by its transpose; no per-task gradients
  CrossTask     every source task's batch relabeled for every target task, a K × K loss matrix,
                per-target weights over sources by VAO's O(K) path (`mtl.cross_task_gradient`);
                uniform weights are naive data sharing

Adding a method is one entry of `_REGISTRY`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar

import chex
import jax
import jax.numpy as jnp
import optax

from vamo_jax.mtl import (GradientMethod, VamoHyperparams, cross_task_gradient, gradient_method, init_cross_task_state,
                          task_losses, vamo_fast_path)
from vamo_jax.mtl import weighting as zoo
from vamo_jax.mtl.temperature import exponential_schedule
from vamo_jax.mtl.weighting.vamo_ablations import GREEDY_TEMPERATURE
from vamo_jax.problem import MultiTaskProblem, pooled_task_losses, task_losses_on
from vamo_jax.train_config import TrainConfig

Gradient = tuple[chex.ArrayTree, Any, chex.Array, chex.Array]
"""(combined gradient, weighting state, (K,) task losses, task weights (K,), or (K, K) for VAO)."""


def adamw(config: TrainConfig) -> optax.GradientTransformation:
    """AdamW with global-norm clipping, at the configured learning rate and schedule."""
    learning_rate = (optax.cosine_decay_schedule(config.learning_rate, config.steps)
                     if config.lr_schedule == "cosine" else config.learning_rate)
    return optax.chain(
        optax.clip_by_global_norm(config.grad_clip),
        optax.adamw(learning_rate, weight_decay=config.weight_decay),
    )


def shared_params(problem: MultiTaskProblem, key: chex.PRNGKey) -> chex.ArrayTree:
    """One model for every task, drawn from fold_in(key, 1)."""
    return problem.init_params(jax.random.fold_in(key, 1))


def separate_params(problem: MultiTaskProblem, key: chex.PRNGKey) -> chex.ArrayTree:
    """K models on a leading task axis, model k drawn from the k-th key of split(fold_in(key, 1), K)."""
    return jax.vmap(problem.init_params)(jax.random.split(jax.random.fold_in(key, 1), problem.num_tasks))


@dataclasses.dataclass(frozen=True)
class Method:
    """One training method sharing one model across tasks (the families below override what differs).

    Attributes:
      name: the name in `train.methods`.
    """

    name: str

    shares_model: ClassVar[bool] = True
    """One model plays every task (its task weights and per-task gradients mean something)."""
    draw_params: ClassVar[Callable[[MultiTaskProblem, chex.PRNGKey], chex.ArrayTree]] = staticmethod(shared_params)
    """A plain function (not a bound method): every method that draws alike shares one compilation."""

    def optimizer(self, config: TrainConfig) -> optax.GradientTransformation:
        return adamw(config)

    def init_state(self, problem: MultiTaskProblem, config: TrainConfig, params: chex.ArrayTree) -> Any:
        return ()

    def refresh_every(self, config: TrainConfig) -> int | None:
        return None

    def gradient(self, problem: MultiTaskProblem, config: TrainConfig, params: chex.ArrayTree, state: Any,
                 key: chex.PRNGKey, data: Any, refresh: chex.Array | bool) -> Gradient:
        """One step's combined gradient; `key` is this seed's key of this step, `refresh` whether
        the weights are refreshed (False for a method whose `refresh_every` is None)."""
        raise NotImplementedError

    def task_models(self, params: chex.ArrayTree, num_tasks: int) -> chex.ArrayTree:
        """Seed-stacked params (S, …) -> (S, K, …): the one model repeated for every task."""
        return jax.tree.map(lambda p: jnp.broadcast_to(p[:, None], (p.shape[0], num_tasks) + p.shape[1:]), params)

    def task_losses(self, problem: MultiTaskProblem, params: chex.ArrayTree, batches: Any) -> chex.Array:
        """(K,) each task's loss pooled over `batches` (n, B, …), for one seed's params."""
        return pooled_task_losses(problem, params, batches)


def _step_keys(key: chex.PRNGKey) -> tuple[chex.PRNGKey, chex.PRNGKey]:
    """(training batch key, validation batch key) of a step's key."""
    key_train, key_val = jax.random.split(key)
    return key_train, key_val


@dataclasses.dataclass(frozen=True)
class SingleTask(Method):
    """STL: K models (a leading task axis), model k trained on task k's batches only, each with its
    own optimiser state."""

    shares_model: ClassVar[bool] = False
    draw_params: ClassVar[Callable] = staticmethod(separate_params)

    def optimizer(self, config: TrainConfig) -> optax.GradientTransformation:
        one = adamw(config)
        return optax.GradientTransformation(jax.vmap(one.init), jax.vmap(one.update))

    def gradient(self, problem, config, params, state, key, data, refresh) -> Gradient:
        def one_task(p, task):
            batch = problem.sample_task(jax.random.fold_in(key, task), data, task)
            return jax.value_and_grad(lambda q: jnp.mean(problem.per_example_loss(q, batch)))(p)

        k = problem.num_tasks
        losses, grads = jax.vmap(one_task)(params, jnp.arange(k))
        return grads, state, losses, jnp.full((k,), 1.0 / k)

    def task_models(self, params, num_tasks):
        return params

    def task_losses(self, problem, params, batches):
        return jnp.diagonal(jax.vmap(lambda p: pooled_task_losses(problem, p, batches))(params))


@dataclasses.dataclass(frozen=True)
class Zoo(Method):
    """Any `mtl.weighting` method, on the path the library picks for it (`mtl.gradient_method`):
    loss-weighted (one backward pass) or explicit (K per-task gradients and the transform).

    Attributes:
      options: TrainConfig -> the transform's options (e.g. DWA's epoch length).
    """

    options: Callable[[TrainConfig], dict] = lambda config: {}

    def transform(self, num_tasks: int, config: TrainConfig) -> optax.GradientTransformationExtraArgs:
        return zoo.get(self.name, num_tasks, **self.options(config))

    def weighting(self, num_tasks: int, config: TrainConfig) -> GradientMethod:
        return gradient_method(self.name, num_tasks, **self.options(config))

    def init_state(self, problem, config, params):
        return self.weighting(problem.num_tasks, config).init(params)

    def gradient(self, problem, config, params, state, key, data, refresh) -> Gradient:
        key_train, _ = _step_keys(key)
        batch = problem.sample_train(key_train, data)
        grads, state, losses = self.weighting(problem.num_tasks, config).update(
            lambda p: task_losses_on(problem, p, batch), state, params)
        return grads, state, losses, state.weights


@dataclasses.dataclass(frozen=True)
class Validated(Method):
    """A method whose weights follow alignments with a validation gradient (VAMO, VAO).

    Attributes:
      alignment: the gradient aligned with: "validation" (day 9) or "train" (w/o held-out validation).
      greedy: λ → 0 (`GREEDY_TEMPERATURE`) instead of `train.temperature`.
    """

    alignment: str = "validation"
    greedy: bool = False

    def hyperparams(self, num_tasks: int, config: TrainConfig) -> VamoHyperparams:
        """VAMO's (or VAO's) hyperparameters, from the config."""
        temperature = GREEDY_TEMPERATURE if self.greedy else config.temperature
        if config.temperature_end is not None:
            temperature = exponential_schedule(temperature, config.temperature_end, config.steps)
        return VamoHyperparams(num_tasks, temperature=temperature, target_entropy=config.target_entropy,
                               update_every=config.update_every, alignment=self.alignment,
                               normalize=config.normalize)

    def refresh_every(self, config):
        return config.update_every


@dataclasses.dataclass(frozen=True)
class Aligned(Validated):
    """VAMO's exact fast path (`mtl.vamo_fast_path`); the validation gradient is computed at refreshes only."""

    def init_state(self, problem, config, params):
        return vamo_fast_path(self.hyperparams(problem.num_tasks, config)).init(params)

    def gradient(self, problem, config, params, state, key, data, refresh) -> Gradient:
        key_train, key_val = _step_keys(key)
        batch, val_batch = problem.sample_train(key_train, data), problem.sample_val(key_val, data)
        val_grad = jax.grad(lambda p: jnp.mean(task_losses_on(problem, p, val_batch)))
        grads, state, losses = vamo_fast_path(self.hyperparams(problem.num_tasks, config)).update(
            lambda p: task_losses_on(problem, p, batch), state, params, val_grad=val_grad, refresh=refresh)
        return grads, state, losses, state.weights


def cross_task_losses(problem: MultiTaskProblem, params: chex.ArrayTree, sources: chex.Array,
                      batches: Any) -> chex.Array:
    """(K, K) L[i, k]: target k's loss on source i's rows of `batches[k]` (relabeled for k)."""
    per_target = jax.vmap(lambda batch: task_losses(problem.per_example_loss(params, batch), sources,
                                                    problem.num_tasks))(batches)  # (K targets, K sources)
    return per_target.T


@dataclasses.dataclass(frozen=True)
class CrossTask(Validated):
    """VAO: per-target weights over the sources' relabeled batches.

    Attributes:
      uniform: keep the uniform weights (never refresh): naive data sharing.
    """

    uniform: bool = False

    def init_state(self, problem, config, params):
        if problem.sample_cross is None:
            raise ValueError(f"method {self.name!r} needs relabeled batches: this problem has no sample_cross.")
        return init_cross_task_state(problem.num_tasks)

    def refresh_every(self, config):
        return None if self.uniform else config.update_every

    def gradient(self, problem, config, params, state, key, data, refresh) -> Gradient:
        key_train, key_val = _step_keys(key)
        sources, batches = problem.sample_cross(key_train, data)
        val_batch = problem.sample_val(key_val, data)
        grads, state, losses = cross_task_gradient(
            lambda p: cross_task_losses(problem, p, sources, batches), params, state,
            self.hyperparams(problem.num_tasks, config),
            val_losses_fn=lambda p: task_losses_on(problem, p, val_batch), refresh=False if self.uniform else refresh)
        return grads, state, jnp.diagonal(losses), state.weights


_REGISTRY: dict[str, Method] = {
    m.name: m
    for m in (
        SingleTask("stl"),
        Zoo("equal"),
        Zoo("dwa", options=lambda config: {"epoch_length": config.epoch_length}),
        Zoo("famo"),
        Zoo("uw"),
        Zoo("rlw"),
        Aligned("vamo"),
        Aligned("vamo_train", alignment="train"),
        Aligned("greedy", greedy=True),
        *(Zoo(name) for name in ("pcgrad", "fairgrad", "mgda", "cagrad", "nashmtl", "imtl_g", "aligned_mtl",
                                 "gradnorm")),
        CrossTask("vao"),
        CrossTask("vao_train", alignment="train"),
        CrossTask("share", uniform=True),
    )
}


def names() -> tuple[str, ...]:
    """Every method name, in registry order."""
    return tuple(_REGISTRY)


def get(name: str) -> Method:
    """The registry entry of `name`; raises naming `train.methods` and the valid names."""
    if name not in _REGISTRY:
        raise ValueError(f"train.methods: unknown method {name!r}; valid: {', '.join(names())}.")
    return _REGISTRY[name]
