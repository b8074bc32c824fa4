"""Shared fixtures: one jitted update per (method, K) so tests reuse compilations."""

import functools

import jax
import jax.numpy as jnp
import pytest

from vamo_jax.mtl import weighting

# Short epochs so that DWA's weights move within a few steps.
REQUIRED = {"dwa": {"epoch_length": 1}}


@functools.lru_cache(maxsize=None)
def build(name: str, num_tasks: int, options: tuple = ()):
    opts = {**REQUIRED.get(name, {}), **dict(options)}
    tx = weighting.get(name, num_tasks, **opts)
    return tx, jax.jit(tx.update)


def run(name, stacked, steps=1, losses=None, val_grad=None, options=(), state=None):
    """Apply `steps` jitted updates of method `name` to the same stacked gradients.

    losses: None, a (K,) array, or a (steps, K) array of per-step losses.
    Returns (list of outputs, final state).
    """
    k = jax.tree.leaves(stacked)[0].shape[0]
    tx, update = build(name, k, tuple(sorted(options)))
    state = tx.init(None) if state is None else state
    if val_grad is None:
        val_grad = jax.tree.map(lambda g: jnp.mean(g, 0), stacked)
    if losses is None:
        losses = jnp.ones((k,), jnp.float32)
    losses = jnp.broadcast_to(jnp.asarray(losses, jnp.float32), (steps, k))
    outs = []
    for t in range(steps):
        out, state = update(stacked, state, None, task_losses=losses[t], val_grad=val_grad)
        outs.append(out)
    return outs, state


@pytest.fixture
def run_method():
    return run
