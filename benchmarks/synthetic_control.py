"""The synthetic positive control: VAMO against equal weighting where the answer is known.

    python -m benchmarks.synthetic_control [--seeds 500] [--steps 400]

K = 3 linear regression tasks share one parameter vector θ ∈ R^d. The target (the "test day")
is y = x·w* + ε. Task 0 is scarce and drawn from the target; tasks 1 and 2 are plentiful and,
depending on the case, biased: y = x·(w* + b_k) + ε. The validation set (the "validation day")
is a small sample of the target. θ is trained by full-batch gradient descent on the per-task
gradients (`vamo_jax.per_task_grads`), combined by the package's own transforms,
`vamo_jax.vamo_transform` (λ = 1, the paper's) or `vamo_jax.mtl.weighting.equal`, then
`optax.sgd`. The excess risk on the target is ‖θ − w*‖² (x is isotropic). Seeds are a `vmap`
axis and steps a `lax.scan`: one compilation per case.

Cases (all declared here, before the first run, with what each should show):
  biased     tasks 1, 2 biased (independent directions, ‖b_k‖ = `bias`): the validation gradient
             tells the unbiased task apart, so VAMO should beat equal (VAMO − equal < 0);
  null       no task biased: nothing can be gained; VAMO − equal should be ≈ 0;
  shared     every task, the scarce one too, biased by one common b: every weighting converges
             to w* + b, so reweighting cannot help; VAMO − equal should be ≈ 0.

Prints per case the mean excess risk of each method, VAMO − equal with a 95% t-interval over
seeds (paired: the same data for both methods), and VAMO's final weight on task 0.
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy import stats

from vamo_jax import per_task_grads, task_losses, vamo_transform
from vamo_jax.mtl.weighting import equal


@dataclasses.dataclass(frozen=True)
class Problem:
    """The declared sizes (d, samples per task, validation size, noise) and training settings.

    The scarce task has 16 samples for 8 parameters (its own least squares is noisy: excess
    risk ≈ d σ² / n = 0.5), the biased ones 256 (their bias, not their noise, dominates);
    ‖b‖ = 2 puts equal weighting's bias ‖(b_1 + b_2)/3‖² ≈ 0.9 above that; 32 validation samples.
    """

    dim: int = 8
    scarce: int = 16
    plentiful: int = 256
    val: int = 32
    noise: float = 1.0
    bias: float = 2.0
    steps: int = 400
    learning_rate: float = 0.05
    temperature: float = 1.0
    update_every: int = 5


CASES: dict[str, tuple[tuple[float, float, float], bool]] = {
    "biased": ((0.0, 1.0, 1.0), False),
    "null": ((0.0, 0.0, 0.0), False),
    "shared": ((1.0, 1.0, 1.0), True),
}
"""case -> (bias of each task in units of `Problem.bias`, one common bias direction for all)."""


def draw_data(key: jax.Array, p: Problem, scales: tuple[float, float, float], shared: bool):
    """One seed's data: x (M, d), y (M,), task (M,), x_val (V, d), y_val (V,), w* (d,)."""
    k_w, k_b, k_x, k_e, k_v, k_ve = jax.random.split(key, 6)
    w_star = jax.random.normal(k_w, (p.dim,))
    directions = jax.random.normal(k_b, (3, p.dim))
    directions = jnp.where(shared, directions[:1], directions)
    bias = p.bias * jnp.asarray(scales)[:, None] * directions / jnp.linalg.norm(directions, axis=1, keepdims=True)
    sizes = (p.scarce, p.plentiful, p.plentiful)
    task = jnp.concatenate([jnp.full((n,), k, jnp.int32) for k, n in enumerate(sizes)])
    x = jax.random.normal(k_x, (task.shape[0], p.dim))
    y = jnp.einsum("md,md->m", x, w_star + bias[task]) + p.noise * jax.random.normal(k_e, task.shape)
    x_val = jax.random.normal(k_v, (p.val, p.dim))
    y_val = x_val @ w_star + p.noise * jax.random.normal(k_ve, (p.val,))
    return x, y, task, x_val, y_val, w_star


def train(p: Problem, method: str, data) -> tuple[jax.Array, jax.Array]:
    """Trains θ from 0 with `method` ("vamo" or "equal"); returns (excess risk (), final weights (3,))."""
    x, y, task, x_val, y_val, w_star = data
    weighting = vamo_transform(3, p.temperature, p.update_every) if method == "vamo" else equal(3)
    tx = optax.chain(weighting, optax.sgd(p.learning_rate))

    def losses(theta):
        return task_losses(0.5 * (x @ theta - y) ** 2, task, 3)

    def val_loss(theta):
        return 0.5 * jnp.mean((x_val @ theta - y_val) ** 2)

    def step(carry, _):
        theta, state = carry
        _, grads = per_task_grads(losses, theta)
        updates, state = tx.update(grads, state, theta, val_grad=jax.grad(val_loss)(theta))
        return (optax.apply_updates(theta, updates), state), None

    theta0 = jnp.zeros(p.dim)
    (theta, state), _ = jax.lax.scan(step, (theta0, tx.init(theta0)), None, length=p.steps)
    return jnp.sum((theta - w_star) ** 2), state[0].weights


def run_case(p: Problem, case: str, seeds: int) -> dict[str, np.ndarray]:
    """(S,) excess risks of VAMO and equal on seeds 0..S−1, and VAMO's final weights (S, 3)."""
    scales, shared = CASES[case]

    @jax.jit
    def one(key):
        data = draw_data(key, p, scales, shared)
        vamo, weights = train(p, "vamo", data)
        eq, _ = train(p, "equal", data)
        return vamo, eq, weights

    keys = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(0), s))(jnp.arange(seeds))
    vamo, eq, weights = jax.vmap(one)(keys)
    return {"vamo": np.asarray(vamo), "equal": np.asarray(eq), "weights": np.asarray(weights)}


def t_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi): the t-interval of the mean of x."""
    mean, sem = float(np.mean(x)), float(stats.sem(x))
    lo, hi = stats.t.interval(level, len(x) - 1, loc=mean, scale=sem)
    return mean, float(lo), float(hi)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=500)
    parser.add_argument("--steps", type=int, default=Problem.steps)
    args = parser.parse_args()
    p = Problem(steps=args.steps)
    print(f"K = 3 linear tasks, d = {p.dim}; scarce task {p.scarce} samples from the target, two of "
          f"{p.plentiful}; ‖b‖ = {p.bias}; {p.val} validation samples; {p.steps} steps; λ = {p.temperature}; "
          f"{args.seeds} seeds")
    print(f"{'case':8s} {'VAMO':>7s} {'equal':>7s} {'VAMO − equal [95% CI]':>28s} {'VAMO w_0':>9s}")
    for case in CASES:
        r = run_case(p, case, args.seeds)
        mean, lo, hi = t_interval(r["vamo"] - r["equal"])
        print(f"{case:8s} {r['vamo'].mean():>7.3f} {r['equal'].mean():>7.3f} "
              f"{mean:>+10.3f} [{lo:+.3f}, {hi:+.3f}] {r['weights'][:, 0].mean():>9.2f}")


if __name__ == "__main__":
    main()
