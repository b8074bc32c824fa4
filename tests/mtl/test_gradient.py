"""The one entry point, `gradient_method`: every method against its transform on explicit gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax.mtl import gradient_method, per_task_grads, task_losses, vamo_fast_path, weighting
from vamo_jax.mtl.gradient import FAST, LOSS_WEIGHTED
from vamo_jax.mtl.vamo import VamoHyperparams

K = 3
OPTIONS = {"dwa": {"epoch_length": 1}, "vamo": {"update_every": 2}, "vamo_train": {"update_every": 2},
           "greedy": {"update_every": 2}}


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(12, 4)).astype(np.float32)
    y = rng.normal(size=(12, 2)).astype(np.float32)
    ids = np.arange(12) % K
    xv = rng.normal(size=(6, 4)).astype(np.float32)
    yv = rng.normal(size=(6, 2)).astype(np.float32)
    params = {"w": jnp.asarray(rng.normal(size=(4, 2)), jnp.float32), "b": jnp.zeros(2, jnp.float32)}

    def losses_fn(p, scale):
        per_example = jnp.sum((x @ p["w"] + p["b"] - scale * y) ** 2, axis=1)
        return task_losses(per_example, ids, K)

    def val_grad(p):
        return jax.grad(lambda q: jnp.mean(jnp.sum((xv @ q["w"] + q["b"] - yv) ** 2, axis=1)))(p)

    return params, losses_fn, val_grad


@pytest.mark.parametrize("name", weighting.available())
def test_every_method_equals_its_transform_on_explicit_gradients(name):
    params, losses_fn, val_grad = _problem()
    method = gradient_method(name, K, **OPTIONS.get(name, {}))
    assert method.path == ("fast" if name in FAST else "loss_weighted" if name in LOSS_WEIGHTED else "explicit")
    tx = weighting.get(name, K, **OPTIONS.get(name, {}))
    state, ref_state = method.init(params), tx.init(params)

    @jax.jit
    def both(state, ref_state, params, scale):
        f = lambda q: losses_fn(q, scale)  # noqa: E731
        ref_losses, stacked = per_task_grads(f, params)
        ref = tx.update(stacked, ref_state, params, task_losses=ref_losses, val_grad=val_grad(params))
        return method.update(f, state, params, val_grad=val_grad), ref, ref_losses

    for step, scale in enumerate((1.0, 0.5, 2.0)):  # losses change from step to step; a VAMO refresh at 0 and 2
        (grad, state, losses), (ref_grad, ref_state), ref_losses = both(state, ref_state, params, scale)
        np.testing.assert_allclose(losses, ref_losses, rtol=1e-6)
        for leaf, ref in zip(jax.tree.leaves(grad), jax.tree.leaves(ref_grad)):
            np.testing.assert_allclose(leaf, ref, rtol=2e-4, atol=1e-5, err_msg=f"{name} step {step}")
        np.testing.assert_allclose(state.weights, ref_state.weights, rtol=2e-4, atol=1e-6)
        params = jax.tree.map(lambda p, g: p - 0.05 * g, params, grad)


def test_vamo_fast_path_takes_hyperparams_and_a_traced_refresh():
    params, losses_fn, val_grad = _problem(1)
    method = vamo_fast_path(VamoHyperparams(K, temperature=0.3, update_every=100))
    state = method.init(params)
    f = lambda q: losses_fn(q, 1.0)  # noqa: E731
    g_cached, s_cached, _ = jax.jit(lambda s, r: method.update(f, s, params, val_grad=val_grad, refresh=r))(state, False)
    np.testing.assert_allclose(s_cached.weights, np.full(K, 1 / K))
    _, stacked = per_task_grads(f, params)
    g_val = np.concatenate([np.ravel(v) for v in jax.tree.leaves(val_grad(params))])
    rows = np.concatenate([np.asarray(v).reshape(K, -1) for v in jax.tree.leaves(stacked)], 1)
    m = rows @ g_val
    w = np.exp((m - m.max()) / 0.3)
    w /= w.sum()
    _, s_refresh, _ = method.update(f, state, params, val_grad=val_grad, refresh=True)
    np.testing.assert_allclose(s_refresh.weights, w, rtol=1e-4, atol=1e-6)


def test_refresh_is_refused_off_the_fast_path_and_bad_names_are_named():
    params, losses_fn, _ = _problem()
    method = gradient_method("mgda", K)
    with pytest.raises(ValueError, match="refresh= applies to the fast path"):
        method.update(lambda q: losses_fn(q, 1.0), method.init(params), params, refresh=True)
    with pytest.raises(ValueError, match="unknown weighting method 'vamoo'"):
        gradient_method("vamoo", K)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['lam'\]"):
        gradient_method("vamo", K, lam=1.0)
    with pytest.raises(ValueError, match=r"must return \(3,\) losses"):
        gradient_method("famo", K).update(lambda q: losses_fn(q, 1.0)[:2], gradient_method("famo", K).init(params),
                                          params)
