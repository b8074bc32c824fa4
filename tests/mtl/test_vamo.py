import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
import pytest

from vamo_jax.mtl import VamoHyperparams, VamoState, task_weights, vamo_gradient, vamo_transform
from vamo_jax.mtl.vamo import init_state

RNG = np.random.default_rng(0)


def _numpy_softmax(m, lam):
    z = np.asarray(m, np.float64) / lam
    e = np.exp(z - z.max())
    return e / e.sum()


def _stacked(k, rng=RNG):
    return {"w": jnp.asarray(rng.normal(size=(k, 3, 2)), jnp.float32), "b": jnp.asarray(rng.normal(size=(k, 2)), jnp.float32)}


def _flat(tree):
    return np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])


def _flat_rows(stacked):
    return np.concatenate([np.asarray(x).reshape(x.shape[0], -1) for x in jax.tree.leaves(stacked)], 1)


@pytest.mark.parametrize("lam", [0.05, 0.5, 1.0, 7.0])
def test_weights_equal_numpy_softmax(lam):
    m = RNG.normal(size=6) * 3
    np.testing.assert_allclose(jax.jit(task_weights)(m, lam), _numpy_softmax(m, lam), rtol=1e-5, atol=1e-7)


def test_temperature_limits_and_stability():
    m = jnp.array([0.3, 2.0, -1.0, 1.999])
    greedy = task_weights(m, 1e-9)
    np.testing.assert_allclose(greedy, [0, 1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(task_weights(m, math.inf), np.full(4, 0.25), atol=1e-7)
    np.testing.assert_allclose(task_weights(m, 1e9), np.full(4, 0.25), atol=1e-6)
    huge = task_weights(jnp.array([1e30, -1e30, 5e29]), 1e-30)
    assert np.all(np.isfinite(huge)) and np.isclose(float(huge.sum()), 1.0)
    np.testing.assert_allclose(task_weights(jnp.array([2.0, 2.0, 0.0]), 1e-12), [0.5, 0.5, 0.0], atol=1e-7)


@pytest.mark.parametrize("seed", range(20))
def test_lemma1_and_eq8_on_random_alignments(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 40))
    m = rng.normal(size=k) * rng.uniform(0.01, 100)
    lam = float(10 ** rng.uniform(-3, 2))
    w = np.asarray(task_weights(jnp.asarray(m), lam), np.float64)
    # Lemma 1: <g_val, d> = Σ w_k m_k ≥ max_w <g_val, Σ w_k g_k> − λ log K = max_k m_k − λ log K.
    assert w @ m >= m.max() - lam * np.log(k) - 1e-4 * (1 + abs(m).max())
    # Eq. 8: softmax(m/λ) maximises Σ w m + λ H(w) over the simplex.
    def objective(v):
        v = np.clip(v, 1e-300, 1)
        return v @ m - lam * np.sum(v * np.log(v))

    others = rng.dirichlet(np.ones(k), size=200)
    assert objective(w) >= max(objective(v) for v in others) - 1e-4 * (1 + abs(m).max())


def test_update_every_refreshes_on_schedule_and_reuses_weights():
    k, every = 3, 3
    tx = vamo_transform(k, temperature=1.0, update_every=every)
    params = jax.tree.map(lambda g: g[0], _stacked(k))
    state = tx.init(params)
    update = jax.jit(tx.update)
    history = []
    for step in range(7):
        grads = _stacked(k)
        val = jax.tree.map(lambda g: jnp.asarray(RNG.normal(size=g.shape[1:]), jnp.float32), grads)
        out, state = update(grads, state, params, val_grad=val)
        m = _flat_rows(grads) @ _flat(val)
        if step % every == 0:
            expected_w = _numpy_softmax(m, 1.0)
        np.testing.assert_allclose(state.weights, expected_w, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(_flat(out), expected_w @ _flat_rows(grads), rtol=1e-4, atol=1e-5)
        history.append(np.asarray(state.weights))
        assert int(state.count) == step + 1
    assert not np.allclose(history[0], history[3])
    np.testing.assert_allclose(history[3], history[5])


def test_identical_task_gradients_return_that_gradient():
    g = _stacked(1)
    stacked = jax.tree.map(lambda x: jnp.repeat(x, 4, axis=0), g)
    tx = vamo_transform(4)
    out, _ = tx.update(stacked, tx.init(None), val_grad=jax.tree.map(lambda x: x[0] * 2, g))
    np.testing.assert_allclose(_flat(out), _flat(g), rtol=1e-6)


@pytest.mark.parametrize("normalize", [None, "val_norm", "cosine"])
@pytest.mark.parametrize("alignment", ["validation", "train"])
def test_alignment_modes_against_numpy(alignment, normalize):
    k = 4
    grads = _stacked(k)
    val = jax.tree.map(lambda g: g[0] * 0.5 + 0.1, grads)
    rows = _flat_rows(grads).astype(np.float64)
    target = _flat(val) if alignment == "validation" else rows.mean(0)
    m = rows @ target
    if normalize == "val_norm":
        m = m / (target @ target)
    elif normalize == "cosine":
        m = m / (np.linalg.norm(target) * np.linalg.norm(rows, axis=1))
    tx = vamo_transform(k, temperature=0.7, alignment=alignment, normalize=normalize)
    kwargs = {"val_grad": val} if alignment == "validation" else {}
    _, state = jax.jit(lambda g: tx.update(g, tx.init(None), **kwargs))(grads)
    np.testing.assert_allclose(state.alignment, m, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(state.weights, _numpy_softmax(m, 0.7), rtol=1e-4, atol=1e-6)


def _quadratic_task_losses(centres):
    def f(params):
        return 0.5 * jnp.sum((params["theta"][None, :] - centres) ** 2, axis=1) * jnp.arange(1, centres.shape[0] + 1)

    return f


@pytest.mark.parametrize("alignment, normalize", [("validation", None), ("train", "val_norm"), ("validation", "cosine")])
def test_fast_path_follows_transform_over_steps(alignment, normalize):
    k = 4
    centres = jnp.asarray(RNG.normal(size=(k, 5)), jnp.float32)
    f = _quadratic_task_losses(centres)
    hp = VamoHyperparams(k, temperature=0.5, update_every=2, alignment=alignment, normalize=normalize)
    tx = vamo_transform(k, temperature=0.5, update_every=2, alignment=alignment, normalize=normalize)
    params = {"theta": jnp.zeros(5)}
    fast_state, slow_state = init_state(k), tx.init(params)
    fast = jax.jit(lambda p, s, v: vamo_gradient(f, p, s, hp, val_grad=v))
    slow = jax.jit(lambda g, s, v: tx.update(g, s, val_grad=v))
    for step in range(5):
        val = {"theta": params["theta"] - jnp.ones(5) * (step + 1)}
        g_fast, fast_state, _ = fast(params, fast_state, val)
        stacked = jax.jacrev(f)(params)
        g_slow, slow_state = slow(stacked, slow_state, val)
        np.testing.assert_allclose(fast_state.weights, slow_state.weights, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g_fast["theta"], g_slow["theta"], rtol=1e-5, atol=1e-5)
        params = {"theta": params["theta"] - 0.1 * g_fast["theta"]}


def test_callable_val_grad_is_evaluated_only_at_a_refresh():
    k = 3
    f = _quadratic_task_losses(jnp.asarray(RNG.normal(size=(k, 4)), jnp.float32))
    hp = VamoHyperparams(k, update_every=2)
    calls = []

    def val_grad(p):
        calls.append(1)
        return {"theta": p["theta"] - 1.0}

    params, state = {"theta": jnp.zeros(4)}, init_state(k)
    g_lazy, s_lazy, _ = vamo_gradient(f, params, state, hp, val_grad=val_grad)
    g_eager, s_eager, _ = vamo_gradient(f, params, state, hp, val_grad=val_grad(params))
    np.testing.assert_allclose(g_lazy["theta"], g_eager["theta"], rtol=1e-6)
    calls.clear()
    vamo_gradient(f, params, s_lazy, hp, val_grad=val_grad, refresh=False)
    assert not calls


def test_fast_path_traced_refresh_under_vmap_over_seeds():
    k = 3
    centres = jnp.asarray(RNG.normal(size=(k, 4)), jnp.float32)
    f = _quadratic_task_losses(centres)
    hp = VamoHyperparams(k, update_every=5)
    thetas = {"theta": jnp.asarray(RNG.normal(size=(2, 4)), jnp.float32)}
    states = jax.vmap(lambda _: init_state(k))(jnp.arange(2))

    def step(refresh):
        return jax.vmap(lambda p, s: vamo_gradient(f, p, s, hp, val_grad=p, refresh=refresh))(thetas, states)

    g_refresh, s_refresh, _ = jax.jit(step)(jnp.array(True))
    g_cached, s_cached, _ = jax.jit(step)(jnp.array(False))
    np.testing.assert_allclose(s_cached.weights, np.full((2, k), 1 / k), rtol=1e-6)
    assert not np.allclose(s_refresh.weights, s_cached.weights)
    for i in range(2):
        rows = np.asarray(jax.jacrev(f)({"theta": thetas["theta"][i]})["theta"])
        np.testing.assert_allclose(g_refresh["theta"][i], s_refresh.weights[i] @ rows, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g_cached["theta"][i], rows.mean(0), rtol=1e-5, atol=1e-6)


def test_chain_with_adamw_and_sgd_under_jit():
    k = 3
    grads = _stacked(k)
    params = jax.tree.map(lambda g: jnp.zeros(g.shape[1:]), grads)
    val = jax.tree.map(lambda g: g[1], grads)
    tx = optax.chain(vamo_transform(k, temperature=2.0), optax.sgd(0.1))
    updates, state = jax.jit(tx.update)(grads, tx.init(params), params, val_grad=val)
    w = _numpy_softmax(_flat_rows(grads) @ _flat(val), 2.0)
    np.testing.assert_allclose(_flat(updates), -0.1 * (w @ _flat_rows(grads)), rtol=1e-4, atol=1e-6)
    assert isinstance(state[0], VamoState)
    tx2 = optax.chain(vamo_transform(k), optax.adamw(1e-3))
    updates2, _ = jax.jit(tx2.update)(grads, tx2.init(params), params, val_grad=val)
    assert jax.tree.structure(updates2) == jax.tree.structure(params)


def test_gradient_accumulation_with_multisteps_after_vamo():
    k, lr = 2, 0.5
    tx = optax.chain(
        vamo_transform(k, update_every=1), optax.MultiSteps(optax.sgd(lr), every_k_schedule=2).gradient_transformation()
    )
    params = {"w": jnp.zeros(3)}
    state = tx.init(params)
    update = jax.jit(tx.update)
    combined = []
    for step in range(2):
        grads = {"w": jnp.asarray(RNG.normal(size=(k, 3)), jnp.float32)}
        val = {"w": jnp.asarray(RNG.normal(size=3), jnp.float32)}
        w = _numpy_softmax(np.asarray(grads["w"]) @ np.asarray(val["w"]), 1.0)
        combined.append(w @ np.asarray(grads["w"]))
        updates, state = update(grads, state, params, val_grad=val)
        if step == 0:
            np.testing.assert_allclose(updates["w"], 0.0)
    np.testing.assert_allclose(updates["w"], -lr * np.mean(combined, 0), rtol=1e-4, atol=1e-6)


def test_state_survives_orbax_save_restore(tmp_path):
    k = 3
    grads = _stacked(k)
    params = jax.tree.map(lambda g: g[0], grads)
    tx = optax.chain(vamo_transform(k), optax.adamw(1e-3))
    _, state = tx.update(grads, tx.init(params), params, val_grad=params)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "state", state)
    checkpointer.wait_until_finished()
    restored = checkpointer.restore(tmp_path / "state", target=jax.tree.map(np.zeros_like, state))
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)
    assert isinstance(restored[0], VamoState) and int(restored[0].count) == 1


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), "hot"])
def test_bad_temperature_raises_when_built(temperature):
    with pytest.raises(ValueError, match="temperature"):
        vamo_transform(3, temperature=temperature)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_tasks": 0}, "num_tasks"),
        ({"num_tasks": 3, "update_every": 0}, "update_every"),
        ({"num_tasks": 3, "alignment": "val"}, "alignment must be one of"),
        ({"num_tasks": 3, "normalize": "l2"}, "normalize must be one of"),
    ],
)
def test_bad_hyperparameters_raise_when_built(kwargs, match):
    with pytest.raises(ValueError, match=match):
        vamo_transform(**kwargs)


def test_wrong_task_axis_raises_when_traced():
    tx = vamo_transform(4)
    with pytest.raises(ValueError, match=r"leading task axis of size num_tasks=4.*\['w'\] has shape \(3, 2\)"):
        jax.jit(tx.update)({"w": jnp.ones((3, 2))}, tx.init(None), val_grad={"w": jnp.ones(2)})


def test_missing_val_grad_raises_when_traced():
    tx = vamo_transform(2)
    with pytest.raises(ValueError, match="needs the validation gradient"):
        jax.jit(tx.update)({"w": jnp.ones((2, 2))}, tx.init(None))
    with pytest.raises(ValueError, match="needs the validation gradient"):
        vamo_gradient(lambda p: p["w"], {"w": jnp.ones(2)}, init_state(2), VamoHyperparams(2))
