"""Aggregation cost of each weighting method vs `equal`, for a 1M-parameter gradient.

    PYTHONPATH=. python benchmarks/weighting_cost.py [--ks 3 8 32] [--repeats 7]

Times one jitted `update` (per-task gradients (K, 1M) -> combined gradient, state included) per
method and K, warm-up (compilation) excluded, `block_until_ready`, median of `--repeats` runs,
and prints the ratio to `equal` at the same K. All figures come from this one run.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import jax
import jax.numpy as jnp

from vamo_jax.mtl import weighting

OPTIONS = {"dwa": {"epoch_length": 10}}


def time_method(name, k, stacked, val_grad, losses, repeats):
    tx = weighting.get(name, k, **OPTIONS.get(name, {}))
    update = jax.jit(tx.update)
    state = tx.init(None)
    out, state = update(stacked, state, None, task_losses=losses, val_grad=val_grad)
    jax.block_until_ready((out, state))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out, state = update(stacked, state, None, task_losses=losses, val_grad=val_grad)
        jax.block_until_ready((out, state))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[3, 8, 32])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"# jax {jax.__version__} on {jax.devices()[0].platform} ({platform.processor() or platform.machine()}), "
          f"1M-parameter gradient, median of {args.repeats}")
    print(f"| {'method':<12} | {'K':>3} | {'time (ms)':>10} | {'× equal':>8} |")
    print(f"|{'-' * 14}|{'-' * 5}|{'-' * 12}|{'-' * 10}|")
    for k in args.ks:
        key_w, key_b, key_v = jax.random.split(jax.random.key(k), 3)
        stacked = {"kernel": jax.random.normal(key_w, (k, 999, 1000)), "bias": jax.random.normal(key_b, (k, 1000))}
        val_grad = jax.tree.map(lambda g: jnp.mean(g, 0), stacked)
        losses = jax.random.uniform(key_v, (k,), minval=0.5, maxval=2.0)
        base = None
        for name in weighting.available():
            t = time_method(name, k, stacked, val_grad, losses, args.repeats)
            base = t if name == "equal" else base
            print(f"| {name:<12} | {k:>3} | {1e3 * t:>10.2f} | {t / base:>8.2f} |", flush=True)
        del stacked


if __name__ == "__main__":
    main()
