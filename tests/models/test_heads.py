import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.models.conftest import compiled, key, tiny_config
from vamo_jax.models.heads import TaskHeads

K = 3


def gelu(x):
    return np.asarray(jax.nn.gelu(jnp.asarray(x)))


def test_each_example_uses_its_own_tasks_head():
    inputs = np.asarray(jax.random.normal(key(0), (5, 4, 6)))
    task = np.array([2, 0, 1, 2, 0], np.int32)
    heads = TaskHeads(K, 2, 7, per_task=True)
    params = heads.init(key(1), inputs, task)
    p = jax.tree.map(np.asarray, params["params"])
    assert p["w1"].shape == (K, 6, 7) and p["w2"].shape == (K, 7, 2)
    out = jax.jit(heads.apply)(params, inputs, task)
    for i, k in enumerate(task):
        expected = gelu(inputs[i] @ p["w1"][k] + p["b1"][k]) @ p["w2"][k] + p["b2"][k]
        np.testing.assert_allclose(out[i], expected, rtol=1e-5, atol=1e-5)


def test_shared_heads_have_one_head():
    heads = TaskHeads(K, 2, 7, per_task=False)
    params = heads.init(key(1), jnp.ones((2, 3, 6)), jnp.array([0, 2]))
    assert params["params"]["w1"].shape == (1, 6, 7)


def one_hot(k, stacked):
    """1 on head k's slice of a stacked parameter, 0 elsewhere."""
    return (np.arange(len(stacked)) == k).reshape((-1,) + (1,) * (stacked.ndim - 1))


@pytest.mark.parametrize("mode", ["action", "next_state"])
def test_changing_another_tasks_head_leaves_the_output_unchanged(batch, mode):
    _, params, apply = compiled(tiny_config(mode=mode))
    task = np.asarray(batch.task)
    base = apply(params, batch)
    for k in range(K):
        moved = jax.tree.map(lambda p: p, params)
        moved["params"]["generator"] = jax.tree.map(
            lambda p: np.asarray(p) + 0.5 * one_hot(k, p), params["params"]["generator"])
        out = apply(moved, batch)
        for name in ("action", "next_state"):
            before, after = getattr(base, name), getattr(out, name)
            if before is None:
                continue
            np.testing.assert_array_equal(after[task != k], before[task != k])
            assert not np.allclose(after[task == k], before[task == k])
