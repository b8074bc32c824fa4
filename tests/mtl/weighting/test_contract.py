"""The contract every method shares: scale convention, jit, K = 64, zero gradients, orbax."""

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from vamo_jax.mtl import weighting

METHODS = weighting.available()


def _stacked(k, key=0):
    ka, kb = jax.random.split(jax.random.key(key))
    return {"w": jax.random.normal(ka, (k, 3, 2)), "b": jax.random.normal(kb, (k, 2))}


def test_available_lists_the_zoo():
    expected = {
        "equal", "dwa", "famo", "pcgrad", "fairgrad", "mgda", "cagrad", "nashmtl", "uw", "rlw",
        "imtl_g", "aligned_mtl", "gradnorm", "vamo", "vamo_train", "greedy",
    }
    assert set(METHODS) == expected


@pytest.mark.parametrize("name", METHODS)
def test_identical_gradients_return_g(name, run_method):
    g = {"w": jnp.array([[0.5, -1.0], [2.0, 0.25], [0.0, 1.5]]), "b": jnp.array([3.0, -0.5])}
    stacked = jax.tree.map(lambda x: jnp.broadcast_to(x, (3,) + x.shape), g)
    # Changing losses over 4 steps move every stateful method off its initial weights (DWA with
    # epoch_length=1 uses its loss ratios from step 3 on).
    losses = jnp.array([[1.0, 2.0, 3.0], [0.9, 2.0, 2.0], [0.5, 2.1, 1.0], [0.4, 2.2, 0.9]])
    outs, state = run_method(name, stacked, steps=4, losses=losses)
    for out in outs:
        np.testing.assert_allclose(out["w"], g["w"], rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(out["b"], g["b"], rtol=2e-5, atol=2e-6)
    assert state.weights.shape == (3,)


@pytest.mark.parametrize("name", METHODS)
def test_zero_gradients_give_zero_and_no_nan(name, run_method):
    stacked = jax.tree.map(jnp.zeros_like, _stacked(3))
    outs, state = run_method(name, stacked, steps=2, losses=jnp.array([1.0, 0.5, 2.0]))
    for leaf in jax.tree.leaves(outs):
        np.testing.assert_array_equal(leaf, 0.0)
    for leaf in jax.tree.leaves(state):
        assert np.all(np.isfinite(np.asarray(leaf, np.float64))), name


@pytest.mark.parametrize("name", METHODS)
def test_runs_jitted_at_k64(name, run_method):
    k = 64
    stacked = {"w": jax.random.normal(jax.random.key(1), (k, 16))}
    losses = jax.random.uniform(jax.random.key(2), (2, k), minval=0.5, maxval=2.0)
    outs, state = run_method(name, stacked, steps=2, losses=losses)
    assert outs[-1]["w"].shape == (16,)
    assert np.all(np.isfinite(outs[-1]["w"]))
    assert state.weights.shape == (k,)
    assert np.all(np.isfinite(state.weights))


@pytest.mark.parametrize("name", ["dwa", "famo", "uw", "gradnorm"])
def test_loss_based_methods_require_task_losses(name):
    tx = weighting.get(name, 2)
    with pytest.raises(ValueError, match="task_losses"):
        jax.jit(tx.update)({"w": jnp.ones((2, 3))}, tx.init(None))


def test_states_survive_orbax_save_restore(tmp_path, run_method):
    stacked = _stacked(3, key=3)
    states = {}
    for name in METHODS:
        _, states[name] = run_method(name, stacked, steps=3, losses=jnp.array([[1.0, 2.0, 3.0], [0.8, 2.5, 1.0], [0.7, 2.4, 1.1]]))
    ckptr = ocp.StandardCheckpointer()
    ckptr.save(tmp_path / "states", states)
    ckptr.wait_until_finished()
    restored = ckptr.restore(tmp_path / "states", states)
    for name in METHODS:
        assert type(restored[name]) is type(states[name]), name
        want, got = jax.tree.leaves(states[name]), jax.tree.leaves(restored[name])
        assert len(want) == len(got), name
        for a, b in zip(want, got):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            assert a.dtype == b.dtype, name
        # The restored state keeps working (PRNG keys included).
        _, after = run_method(name, stacked, steps=1, state=restored[name])
        _, ref = run_method(name, stacked, steps=1, state=states[name])
        for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(ref)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
