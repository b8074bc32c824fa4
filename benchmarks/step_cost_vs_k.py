"""Cost of a VAMO training step against a plain step, as K grows (one run, ratios).

On the same small causal Transformer and the same mixed batch (B=256, T=16, width 32, depth 2),
each variant is timed as a jitted `lax.scan` of 5 SGD steps, divided by 5; the validation batch has the size of the
training batch (Alg. 1 line 5):
  plain      ∇ of the mean training loss
  explicit   VAMO from K materialised per-task gradients (`per_task_grads` + `vamo_transform`)
  fast       VAMO's exact fast path at a refresh (g_val + one linearize/JVP + one transpose)
  amortised  update_every=5 as the trainer runs it: 1 refresh and 4 cached steps, no `cond`

Run: python -m benchmarks.step_cost_vs_k [--ks 2,3,8,32,64,128] [--repeats 7]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

from benchmarks._timing import amortised_steps, scanned_steps, time_fn
from tests._tiny_transformer import TinyCausalTransformer, make_task_losses_fn, mixed_batch
from vamo_jax.mtl import VamoHyperparams, init_vamo_state, per_task_grads, vamo_gradient, vamo_transform

BATCH, SEQ, FEATURES, LR, EVERY = 256, 16, 8, 1e-2, 5


def build(num_tasks: int):
    model = TinyCausalTransformer(width=32, depth=2, heads=2)
    x, y, task = mixed_batch(jax.random.PRNGKey(0), BATCH, SEQ, FEATURES, num_tasks)
    xv, yv, taskv = mixed_batch(jax.random.PRNGKey(1), BATCH, SEQ, FEATURES, num_tasks)
    params = model.init(jax.random.PRNGKey(2), x)
    train_losses = make_task_losses_fn(model, x, y, task, num_tasks)
    val_losses = make_task_losses_fn(model, xv, yv, taskv, num_tasks)

    def val_grad(p):
        return jax.grad(lambda q: jnp.mean(val_losses(q)))(p)

    def sgd(p, g):
        return jax.tree.map(lambda a, b: a - LR * b, p, g)

    def plain(p, s):
        return sgd(p, jax.grad(lambda q: jnp.mean((model.apply(q, x) - y) ** 2))(p)), s

    tx = vamo_transform(num_tasks, update_every=1)

    def explicit(p, s):
        _, stacked = per_task_grads(train_losses, p)
        g, s = tx.update(stacked, s, val_grad=val_grad(p))
        return sgd(p, g), s

    hp_refresh = VamoHyperparams(num_tasks, update_every=1)

    def fast(p, s):
        g, s, _ = vamo_gradient(train_losses, p, s, hp_refresh, val_grad=val_grad, refresh=True)
        return sgd(p, g), s

    hp = VamoHyperparams(num_tasks, update_every=EVERY)

    def vamo_step(p, s, refresh):
        g, s, _ = vamo_gradient(train_losses, p, s, hp, val_grad=val_grad, refresh=refresh)
        return sgd(p, g), s

    steps = [scanned_steps(f, EVERY) for f in (plain, explicit, fast)] + [amortised_steps(vamo_step, EVERY)]
    return params, tx.init(params), init_vamo_state(num_tasks), steps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ks", default="2,3,8,32,64,128")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; B={BATCH}, T={SEQ}; times in ms, ratios to plain")
    print(f"{'K':>4} {'plain':>8} {'explicit':>9} {'fast':>8} {'amort.':>8} | {'explicit×':>9} {'fast×':>6} {'amort.×':>7}")
    for k in [int(v) for v in args.ks.split(",")]:
        params, tx_state, vamo_state, (plain, explicit, fast, amortised) = build(k)
        t_plain, t_explicit, t_fast, t_amort = (
            time_fn(run, params, state, repeats=args.repeats) / EVERY
            for run, state in ((plain, None), (explicit, tx_state), (fast, vamo_state), (amortised, vamo_state))
        )
        print(
            f"{k:>4} {1e3 * t_plain:>8.2f} {1e3 * t_explicit:>9.2f} {1e3 * t_fast:>8.2f} {1e3 * t_amort:>8.2f} | "
            f"{t_explicit / t_plain:>9.2f} {t_fast / t_plain:>6.2f} {t_amort / t_plain:>7.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
