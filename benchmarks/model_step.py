"""Cost of the policy per temporal module: parameters, XLA FLOPs per example, train-step throughput.

    python benchmarks/model_step.py [--batch-size 32] [--steps 20] [--mode action] [--days 11]

FLOPs come from XLA's cost analysis of the compiled functions (forward: `apply`; train step:
loss, gradient and an AdamW update, equal task weights). Throughput is examples per second of
`--steps` train steps in one jitted `lax.scan` (as the training loop runs them), after one
warm-up call, median over `--repeats` timings; the last column is the step time as a multiple
of the no-temporal step's, from the same run. The batch's market table is one episode of
`--days` days of T ticks (the sim config's data: 1 × 11 × 96): TimesNet's cost is that table's,
whatever B and C.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
import optax

from vamo_jax.data.spec import TICKS_PER_DAY, synthetic_batch
from vamo_jax.models import ModelConfig, make_policy, per_example_loss
from vamo_jax.mtl import task_losses


def flops(compiled) -> float:
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0]
    return float(analysis.get("flops", float("nan")))


def measure(config: ModelConfig, batch_size: int, steps: int, repeats: int, days: int) -> dict:
    batch = synthetic_batch(jax.random.PRNGKey(0), batch_size, config.context_len, config.num_tasks,
                            market_shape=(1, days * TICKS_PER_DAY))
    model = make_policy(config)
    params = jax.jit(model.init)(jax.random.PRNGKey(1), batch)
    optimizer = optax.adamw(1e-3)

    def loss_fn(params, batch):
        per_task = task_losses(per_example_loss(model, params, batch), batch.task, config.num_tasks)
        return per_task.mean()

    def train_step(carry, batch):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def train(params, opt_state, batch):
        # `steps` updates in one call, so Python dispatch does not enter the timing.
        def body(carry, _):
            return train_step(carry, batch)
        (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), None, length=steps)
        return params, opt_state, losses

    forward = jax.jit(model.apply).lower(params, batch).compile()
    step = jax.jit(train_step).lower((params, optimizer.init(params)), batch).compile()
    opt_state = optimizer.init(params)
    jax.block_until_ready(train(params, opt_state, batch))  # compile and warm up
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(train(params, opt_state, batch))
        timings.append(time.perf_counter() - start)
    return {
        "params": sum(x.size for x in jax.tree.leaves(params)),
        "forward_flops": flops(forward) / batch_size,
        "step_flops": flops(step) / batch_size,
        "examples_per_s": steps * batch_size / float(np.median(timings)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", default="action", choices=("action", "next_state"))
    parser.add_argument("--days", type=int, default=11, help="days of the market table (≥ 2)")
    args = parser.parse_args()
    base = ModelConfig(mode=args.mode)
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; B={args.batch_size}, "
          f"C={base.context_len}, H={base.history_len}, E={base.embed_dim}, depth={base.depth}, "
          f"periods={base.periods}, mode={args.mode}, market table 1 × {args.days} × {TICKS_PER_DAY}")
    rows = {temporal: measure(ModelConfig(mode=args.mode, temporal=temporal), args.batch_size,
                              args.steps, args.repeats, args.days)
            for temporal in ("none", "lstm", "timesnet")}
    print(f"{'temporal':<10}{'params':>10}{'fwd MFLOP/ex':>14}{'step MFLOP/ex':>15}{'examples/s':>12}"
          f"{'× none':>8}")
    for temporal in ("timesnet", "lstm", "none"):
        r = rows[temporal]
        print(f"{temporal:<10}{r['params']:>10,}{r['forward_flops'] / 1e6:>14.2f}"
              f"{r['step_flops'] / 1e6:>15.2f}{r['examples_per_s']:>12,.0f}"
              f"{rows['none']['examples_per_s'] / r['examples_per_s']:>8.2f}", flush=True)
    print("XLA's cost analysis counts a while-loop body once: the LSTM's H recurrent steps are "
          "undercounted (its FLOPs are a lower bound).")


if __name__ == "__main__":
    main()
