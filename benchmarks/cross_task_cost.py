"""Cost of a cross-task (VAO) step against a plain data-sharing step, as K grows (one run, ratios).

A small causal Transformer (width 16, depth 1, T = 8) and a mixed training batch of B = 64
sequences, K sources of B / K each. Relabeling source i for target k shifts the inputs' first
feature by k / K (the requirement changes) and takes target k's labels, so one pass of the K × K
loss matrix L[i, k] runs the model on K · B sequences. The validation batch (B sequences, its
own task's labels) gives the K targets' validation losses. Each variant is a jitted `lax.scan`
of 5 SGD steps, divided by 5:
  plain      ∇ of the mean of L (naive data sharing: the baseline's cost)
  refresh    `cross_task_gradient` at a refresh: K validation VJPs, K JVPs, one transpose
  cached     `cross_task_gradient` on cached weights: one backward pass of (1/K) Σ w_ik L[i, k]
  amortised  update_every = 5 as a trainer runs it: 1 refresh and 4 cached steps, no `cond`

Run: PYTHONPATH=. python benchmarks/cross_task_cost.py [--ks 3,8,32] [--repeats 3]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

from benchmarks._timing import amortised_steps, scanned_steps, time_fn
from tests._tiny_transformer import TinyCausalTransformer, mixed_batch
from vamo_jax.mtl import VamoHyperparams, cross_task_gradient, init_cross_task_state, task_losses

BATCH, SEQ, FEATURES, LR, EVERY = 64, 8, 4, 1e-2, 5


def build(num_tasks: int):
    k = num_tasks
    model = TinyCausalTransformer(width=16, depth=1, heads=2)
    x, _, source = mixed_batch(jax.random.PRNGKey(0), BATCH, SEQ, FEATURES, k)
    xv, yv, taskv = mixed_batch(jax.random.PRNGKey(1), BATCH, SEQ, FEATURES, k)
    label_weights = jax.random.normal(jax.random.PRNGKey(2), (k, FEATURES))
    # Source batches relabeled for every target: inputs (K_target, B, T, D), labels (K_target, B, T).
    relabeled_x = x[None] + (jnp.arange(k) / k)[:, None, None, None] * jnp.eye(FEATURES)[0]
    relabeled_y = jnp.cumsum(jnp.einsum("btd,kd->kbt", x, label_weights), axis=2) / jnp.sqrt(jnp.arange(1, SEQ + 1))
    params = model.init(jax.random.PRNGKey(3), x)

    def cross_losses(p):
        pred = model.apply(p, relabeled_x.reshape(k * BATCH, SEQ, FEATURES)).reshape(k, BATCH, SEQ)
        per_example = jnp.mean((pred - relabeled_y) ** 2, axis=2)  # (K_target, B)
        return jax.vmap(lambda ell: task_losses(ell, source, k), out_axes=1)(per_example)  # (K_source, K_target)

    def val_losses(p):
        return task_losses(jnp.mean((model.apply(p, xv) - yv) ** 2, axis=1), taskv, k)

    def sgd(p, g):
        return jax.tree.map(lambda a, b: a - LR * b, p, g)

    def plain(p, s):
        return sgd(p, jax.grad(lambda q: jnp.mean(cross_losses(q)))(p)), s

    hp = VamoHyperparams(k, update_every=EVERY)

    def vao_step(p, s, refresh):
        g, s, _ = cross_task_gradient(cross_losses, p, s, hp, val_losses_fn=val_losses, refresh=refresh)
        return sgd(p, g), s

    steps = [scanned_steps(plain, EVERY), scanned_steps(lambda p, s: vao_step(p, s, True), EVERY),
             scanned_steps(lambda p, s: vao_step(p, s, False), EVERY), amortised_steps(vao_step, EVERY)]
    return params, init_cross_task_state(k), steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ks", default="3,8,32")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; B={BATCH}, T={SEQ}; times in ms per step, "
          "ratios to plain")
    print(f"{'K':>4} {'plain':>8} {'refresh':>9} {'cached':>8} {'amort.':>8} | {'refresh×':>8} {'cached×':>7} "
          f"{'amort.×':>7}")
    for k in [int(v) for v in args.ks.split(",")]:
        params, state, (plain, refresh, cached, amortised) = build(k)
        t_plain, t_refresh, t_cached, t_amort = (
            time_fn(run, params, state, repeats=args.repeats) / EVERY for run in (plain, refresh, cached, amortised)
        )
        print(
            f"{k:>4} {1e3 * t_plain:>8.2f} {1e3 * t_refresh:>9.2f} {1e3 * t_cached:>8.2f} {1e3 * t_amort:>8.2f} | "
            f"{t_refresh / t_plain:>8.2f} {t_cached / t_plain:>7.2f} {t_amort / t_plain:>7.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
