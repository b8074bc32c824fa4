"""Shared timing helper for the benchmarks: jit-compiled, warm-up excluded, median of repeats."""

from __future__ import annotations

import time

import jax


def scanned_steps(step, length: int):
    """A jitted run of `length` consecutive `step(params, state) -> (params, state)` in one
    `lax.scan`, so that every variant timed pays the same dispatch."""

    @jax.jit
    def run(params, state):
        return jax.lax.scan(lambda carry, _: (step(*carry), None), (params, state), None, length=length)[0]

    return run


def amortised_steps(step, every: int):
    """A jitted run of one refresh and `every` − 1 cached steps, `step(params, state, refresh)`
    with a static `refresh`: a trainer's schedule for weights refreshed every `every` steps."""

    @jax.jit
    def run(params, state):
        carry = step(params, state, True)
        return jax.lax.scan(lambda c, _: (step(*c, False), None), carry, None, length=every - 1)[0]

    return run


def time_fn(fn, *args, repeats: int = 7, inner: int = 1) -> float:
    """Median wall time in seconds of `fn(*args)` (already jitted), after one warm-up call."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            out = fn(*args)
        jax.block_until_ready(out)
        times.append((time.perf_counter() - start) / inner)
    times.sort()
    return times[len(times) // 2]
