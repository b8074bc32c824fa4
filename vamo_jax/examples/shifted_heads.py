"""Every weighting method on a small flax multi-task model: a shared trunk, one head per task.

Three regression tasks share an input space. Each task's *training* inputs are drawn around its
own shifted mean, while the test inputs (and a small validation set drawn like them) are centred;
task 2's training labels are also biased. A method that weights the tasks by how their gradients
agree with the validation gradient (VAMO) can discount the shifted, biased task; the others see
only the training data. Every method of `vamo_jax.mtl.weighting` is trained through the one entry
point, `mtl.gradient_method(name, K)`, swapping the method is the only change:

    python -m vamo_jax.examples.shifted_heads
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from vamo_jax import mtl

NUM_TASKS = 3


class SharedTrunk(nn.Module):
    """x (B, D) -> (B, K): a two-layer trunk shared by the tasks, then one linear head per task."""

    num_tasks: int = NUM_TASKS
    width: int = 32

    @nn.compact
    def __call__(self, x):
        h = nn.tanh(nn.Dense(self.width)(x))
        h = nn.tanh(nn.Dense(self.width)(h))
        return nn.Dense(self.num_tasks)(h)


@dataclasses.dataclass(frozen=True)
class ShiftedConfig:
    dim: int = 4
    train_per_task: int = 64
    val_per_task: int = 8
    test_per_task: int = 256
    shift: float = 1.5  # how far each task's training inputs sit from the test distribution
    label_bias: float = 1.0  # added to task 2's training labels only
    steps: int = 300
    learning_rate: float = 1e-2
    width: int = 32
    seed: int = 0


def make_data(config: ShiftedConfig):
    """Returns train, val and test batches, each (x (N, D), y (N,), task (N,)) with task ids 0..K−1."""
    rng = np.random.default_rng(config.seed)
    directions = rng.normal(size=(NUM_TASKS, config.dim))
    means = config.shift * rng.normal(size=(NUM_TASKS, config.dim))

    def target(x, task):
        return np.sin(np.sum(x * directions[task], axis=1)) + 0.5 * x[:, 0]

    def batch(n, shifted: bool):
        task = np.repeat(np.arange(NUM_TASKS), n)
        x = rng.normal(size=(NUM_TASKS * n, config.dim)) + (means[task] if shifted else 0.0)
        y = target(x, task)
        if shifted:
            y = y + config.label_bias * (task == 2)
        return x.astype(np.float32), y.astype(np.float32), task.astype(np.int32)

    train, val, test = batch(config.train_per_task, True), batch(config.val_per_task, False), batch(
        config.test_per_task, False)
    for name, (_, _, task) in (("train", train), ("val", val), ("test", test)):
        mtl.check_task_ids(task, NUM_TASKS, where=f"{name} task ids")
    return train, val, test


def task_losses_fn(model: SharedTrunk, batch):
    """params -> (K,) mean squared error of each task's head on its own examples."""
    x, y, task = batch

    def losses(params):
        prediction = jnp.take_along_axis(model.apply(params, x), task[:, None], axis=1)[:, 0]
        return mtl.task_losses((prediction - y) ** 2, task, NUM_TASKS)

    return losses


class Result(NamedTuple):
    """test_losses, train_losses, initial_train_losses: (K,) each; weights: (K,) the last step's."""

    test_losses: jax.Array
    train_losses: jax.Array
    initial_train_losses: jax.Array
    weights: jax.Array


def train(config: ShiftedConfig, name: str, **options) -> Result:
    """Trains the model with method `name` (options: `mtl.weighting.options(name)`)."""
    train_batch, val_batch, test_batch = make_data(config)
    model = SharedTrunk(width=config.width)
    params = model.init(jax.random.PRNGKey(config.seed), train_batch[0][:1])
    method = mtl.gradient_method(name, NUM_TASKS, **options)
    optimizer = optax.adam(config.learning_rate)
    train_losses = task_losses_fn(model, train_batch)
    val_losses = task_losses_fn(model, val_batch)

    def val_grad(params):  # g_val, evaluated only where the method needs it
        return jax.grad(lambda p: jnp.mean(val_losses(p)))(params)

    def step(carry, _):
        params, state, opt_state = carry
        grad, state, _ = method.update(train_losses, state, params, val_grad=val_grad)
        updates, opt_state = optimizer.update(grad, opt_state, params)
        return (optax.apply_updates(params, updates), state, opt_state), None

    @jax.jit
    def run(initial):
        carry = (initial, method.init(initial), optimizer.init(initial))
        (params, state, _), _ = jax.lax.scan(step, carry, None, length=config.steps)
        return Result(task_losses_fn(model, test_batch)(params), train_losses(params), train_losses(initial),
                      state.weights)

    return run(params)


def main() -> None:
    config = ShiftedConfig()
    print(f"{'method':<12} {'path':<14} {'test loss (mean of 3 tasks)':>28}  last weights")
    for name in mtl.weighting.available():
        options = {"epoch_length": 10} if name == "dwa" else {}
        result = train(config, name, **options)
        path = mtl.gradient_method(name, NUM_TASKS, **options).path
        print(f"{name:<12} {path:<14} {float(jnp.mean(result.test_losses)):>28.4f}  "
              f"{np.round(np.asarray(result.weights), 3)}")


if __name__ == "__main__":
    main()
