"""Every path to per-task gradients and alignments, under jit, against independent computations."""

import functools

import flax.linen as nn
import jax.flatten_util
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests._tiny_transformer import TinyCausalTransformer, make_task_losses_fn, mixed_batch
from vamo_jax.mtl import VamoHyperparams, per_task_grads, task_alignment, vamo_gradient, vamo_transform
from vamo_jax.mtl.alignment import stacked_vdot
from vamo_jax.mtl.vamo import init_state

MODEL = TinyCausalTransformer(width=16, depth=1, heads=2)
BATCH, SEQ, FEATURES = 256, 4, 3


@functools.lru_cache(maxsize=None)
def _problem(num_tasks):
    x, y, task = mixed_batch(jax.random.PRNGKey(num_tasks), BATCH, SEQ, FEATURES, num_tasks)
    params = MODEL.init(jax.random.PRNGKey(1), x)
    return params, x, y, task


def _masked_loss(params, k, x, y, task):
    """Task k's mean loss written with a boolean mask: no segment_sum, no one-hot reduction."""
    per_example = jnp.mean((MODEL.apply(params, x) - y) ** 2, axis=1)
    in_task = task == k
    return jnp.sum(jnp.where(in_task, per_example, 0.0)) / jnp.maximum(jnp.sum(in_task), 1)


@jax.jit
def _reference_grads(params, x, y, task, ks):
    return jax.vmap(jax.grad(_masked_loss), in_axes=(None, 0, None, None, None))(params, ks, x, y, task)


def _flat(tree):
    return np.concatenate([np.asarray(leaf).reshape(leaf.shape[0], -1) for leaf in jax.tree.leaves(tree)], 1)


@pytest.mark.parametrize("num_tasks", [2, 3, 32, 128])
def test_all_paths_agree_under_jit(num_tasks):
    params, x, y, task = _problem(num_tasks)
    f = make_task_losses_fn(MODEL, x, y, task, num_tasks)
    reference = _flat(_reference_grads(params, x, y, task, jnp.arange(num_tasks)))

    losses, stacked = jax.jit(lambda p: per_task_grads(f, p))(params)
    np.testing.assert_allclose(_flat(stacked), reference, rtol=2e-4, atol=1e-6)
    assert losses.shape == (num_tasks,)

    direction = jax.tree.map(lambda g: jnp.mean(g, 0) + 0.01, stacked)
    _, m = jax.jit(lambda p, d: task_alignment(f, p, d))(params, direction)
    flat_dir = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(direction)])
    np.testing.assert_allclose(m, reference @ flat_dir, rtol=1e-3, atol=1e-6)

    # The fast combined gradient against the explicit transform; λ at the scale of m so that the
    # softmax is neither one-hot nor flat.
    temperature = float(np.std(reference @ flat_dir)) + 1e-6
    hp = VamoHyperparams(num_tasks, temperature=temperature)
    fast_grad, fast_state, _ = jax.jit(lambda p, d: vamo_gradient(f, p, init_state(num_tasks), hp, val_grad=d))(
        params, direction
    )
    tx = vamo_transform(num_tasks, temperature=temperature)
    slow_grad, slow_state = jax.jit(lambda g, d: tx.update(g, tx.init(params), val_grad=d))(stacked, direction)
    np.testing.assert_allclose(fast_state.weights, slow_state.weights, atol=2e-4)
    np.testing.assert_allclose(fast_state.alignment, slow_state.alignment, rtol=1e-3, atol=1e-6)
    want = np.asarray(fast_state.weights) @ reference
    np.testing.assert_allclose(_flat(jax.tree.map(lambda g: g[None], fast_grad))[0], want, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(_flat(jax.tree.map(lambda g: g[None], slow_grad))[0], want, rtol=1e-3, atol=1e-6)


def test_per_task_grads_exact_for_a_one_hot_reduction_under_jit():
    """A user loss written as a one-hot reduction, K = 32, against K separate `jax.grad` calls.

    XLA (jax 0.10.2, CPU) miscompiles the vmapped VJP of this reduction over the K-basis once the
    batched backward is large enough (relative error ~0.95 on this MLP); one VJP per basis vector
    is exact.
    """
    num_tasks, batch, seq, width = 32, 256, 8, 8
    kx, kw, kp = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(kx, (batch, seq, FEATURES))
    task = jnp.arange(batch) % num_tasks
    y = jnp.einsum("btd,bd->bt", x, jax.random.normal(kw, (num_tasks, FEATURES))[task])
    params = {"w1": jax.random.normal(kp, (FEATURES, width)) / 2, "w2": jnp.ones(width) / width}
    one_hot = jax.nn.one_hot(task, num_tasks)
    count = one_hot.sum(0)

    def f(p):
        per_example = jnp.mean((jnp.tanh(x @ p["w1"]) @ p["w2"] - y) ** 2, axis=1)
        return (one_hot * per_example[:, None]).sum(0) / count

    single = jax.jit(jax.grad(lambda p, k: f(p)[k]))
    reference = np.stack([_flat(jax.tree.map(lambda g: g[None], single(params, k)))[0] for k in range(num_tasks)])
    _, stacked = jax.jit(lambda p: per_task_grads(f, p))(params)
    np.testing.assert_allclose(_flat(stacked), reference, rtol=1e-4, atol=1e-6)


class _Mlp(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(jnp.tanh(nn.Dense(4)(x)))[..., 0]


def test_per_task_grads_match_central_finite_differences():
    with jax.enable_x64(True):
        model = _Mlp()
        key = jax.random.PRNGKey(0)
        x = jax.random.normal(key, (12, 2), jnp.float64)
        y = jnp.sin(x[:, 0])
        task = jnp.arange(12) % 3
        params = model.init(key, x)
        flat, unravel = jax.flatten_util.ravel_pytree(params)

        def f(p):
            from vamo_jax.mtl import task_losses

            return task_losses((model.apply(p, x) - y) ** 2, task, 3)

        _, stacked = jax.jit(lambda p: per_task_grads(f, p))(params)
        got = np.stack([jax.flatten_util.ravel_pytree(jax.tree.map(lambda g: g[k], stacked))[0] for k in range(3)])
        eps = 1e-6
        fd = np.stack(
            [(f(unravel(flat + eps * e)) - f(unravel(flat - eps * e))) / (2 * eps) for e in np.eye(flat.size)], axis=1
        )
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)


def test_stacked_vdot_is_the_flat_inner_product():
    rng = np.random.default_rng(0)
    stacked = {"a": rng.normal(size=(4, 3, 2)), "b": rng.normal(size=(4, 5))}
    direction = {"a": rng.normal(size=(3, 2)), "b": rng.normal(size=(5,))}
    want = stacked["a"].reshape(4, -1) @ direction["a"].ravel() + stacked["b"] @ direction["b"]
    np.testing.assert_allclose(stacked_vdot(stacked, direction), want, rtol=1e-5)


def test_task_losses_fn_must_return_a_vector():
    with pytest.raises(ValueError, match=r"\(K,\) vector"):
        per_task_grads(lambda p: jnp.sum(p["w"]), {"w": jnp.ones(3)})
