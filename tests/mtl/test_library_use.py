"""The library used as a new user would (issue 24's table): wrong input refused by name, optax habits."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from vamo_jax.mtl import (
    VamoHyperparams,
    gradient_method,
    init_vamo_state,
    per_task_grads,
    task_losses,
    vamo_gradient,
    vamo_transform,
    weighting,
)
from vamo_jax.mtl.temperature import weight_entropy

K = 3
RNG = np.random.default_rng(3)


def _stacked(k=K, rng=RNG):
    return {"w": jnp.asarray(rng.normal(size=(k, 4, 2)), jnp.float32), "b": jnp.asarray(rng.normal(size=(k, 2)), jnp.float32)}


def _softmax(m, lam):
    e = np.exp((m - m.max()) / lam)
    return e / e.sum()


def _rows(stacked):
    return np.concatenate([np.asarray(v).reshape(v.shape[0], -1) for v in jax.tree.leaves(stacked)], 1)


def _linear_problem():
    x = jnp.asarray(RNG.normal(size=(9, 4)), jnp.float32)
    y = jnp.asarray(RNG.normal(size=(9,)), jnp.float32)
    ids = np.arange(9) % K
    params = {"w": jnp.asarray(RNG.normal(size=(4,)), jnp.float32), "b": jnp.zeros((), jnp.float32)}
    return params, lambda p: task_losses((x @ p["w"] + p["b"] - y) ** 2, ids, K)


# row 1: a stacked val_grad gave weights [0, 0, 1] silently


def test_a_stacked_val_grad_is_refused_by_the_transform_and_the_fast_path():
    stacked = _stacked()
    tx = vamo_transform(K)
    with pytest.raises(ValueError, match=r"val_grad leaf \['b'\] has shape \(3, 2\).*looks stacked"):
        jax.jit(tx.update)(stacked, tx.init(None), val_grad=stacked)
    params, f = _linear_problem()
    stacked_val = jax.tree.map(lambda p: jnp.stack([p] * K), params)
    for val_grad in (stacked_val, lambda p: stacked_val):
        with pytest.raises(ValueError, match="looks stacked"):
            vamo_gradient(f, params, init_vamo_state(K), VamoHyperparams(K), val_grad=val_grad, refresh=True)
    with pytest.raises(ValueError, match="val_grad must be a pytree like params"):
        vamo_gradient(f, params, init_vamo_state(K), VamoHyperparams(K), val_grad={"w": params["w"]})


# row 2: task ids 1..K dropped task K silently


def test_task_ids_one_to_k_are_refused_eagerly_and_when_closed_over_under_jit():
    ids = np.array([1, 2, 3, 1])
    with pytest.raises(ValueError, match=r"ids in \[1, 3\], outside \[0, 3\).*renumber"):
        task_losses(jnp.ones(4), ids, K)
    with pytest.raises(ValueError, match="renumber"):
        jax.jit(lambda v: task_losses(v, ids, K))(jnp.ones(4))


# row 3: one NaN loss made every weight NaN and stayed cached; apply_if_finite failed


def test_a_non_finite_refresh_keeps_the_last_weights_and_counts_the_skip():
    stacked = _stacked()
    val = jax.tree.map(lambda g: g[0], _stacked())
    tx = vamo_transform(K, update_every=1)
    update = jax.jit(tx.update)
    _, state = update(stacked, tx.init(None), val_grad=val)
    want = _softmax(_rows(stacked) @ _rows(jax.tree.map(lambda v: v[None], val))[0], 1.0)
    np.testing.assert_allclose(state.weights, want, rtol=1e-5)
    poisoned = jax.tree.map(lambda g: g.at[1].set(jnp.nan), stacked)
    _, state = update(poisoned, state, val_grad=val)
    np.testing.assert_allclose(state.weights, want, rtol=1e-5)
    assert int(state.skipped) == 1 and int(state.count) == 2


def test_the_fast_path_keeps_the_last_weights_on_a_nan_loss():
    params, f = _linear_problem()
    hp = VamoHyperparams(K, update_every=1)
    g = jax.grad(lambda p: jnp.mean(f(p)))
    _, state, _ = vamo_gradient(f, params, init_vamo_state(K), hp, val_grad=g)
    nan_task = lambda p: f(p).at[2].multiply(jnp.nan)  # noqa: E731
    _, after, _ = vamo_gradient(nan_task, params, state, hp, val_grad=g)
    np.testing.assert_array_equal(after.weights, state.weights)
    assert int(after.skipped) == 1


def test_famo_ignores_a_nan_loss_and_composes_with_apply_if_finite():
    params, f = _linear_problem()
    method = gradient_method("famo", K)
    opt = optax.apply_if_finite(optax.sgd(0.1), max_consecutive_errors=3)

    @jax.jit
    def step(params, state, opt_state, poison):
        grad, state, _ = method.update(lambda p: f(p) * jnp.where(poison, jnp.array([1.0, jnp.nan, 1.0]), 1.0),
                                       state, params)
        updates, opt_state = opt.update(grad, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state

    state, opt_state = method.init(params), opt.init(params)
    params, state, opt_state = step(params, state, opt_state, False)
    params, state, opt_state = step(params, state, opt_state, False)
    before = (params, state)
    params, state, opt_state = step(params, state, opt_state, True)
    jax.tree.map(np.testing.assert_array_equal, params, before[0])  # the step was skipped
    np.testing.assert_array_equal(state.logits, before[1].logits)  # FAMO's state kept
    np.testing.assert_array_equal(state.weights, before[1].weights)
    assert int(opt_state.total_notfinite) == 1
    params, state, _ = step(params, state, opt_state, False)
    assert all(np.all(np.isfinite(v)) for v in jax.tree.leaves((params, state)))


def test_vamo_then_apply_if_finite_optimiser_skips_a_nan_step():
    stacked, val = _stacked(), jax.tree.map(lambda g: g[0], _stacked())
    params = jax.tree.map(lambda g: jnp.zeros_like(g[0]), stacked)
    tx = optax.chain(vamo_transform(K, update_every=1), optax.apply_if_finite(optax.sgd(1.0), 2))
    state = tx.init(params)
    updates, state = jax.jit(tx.update)(jax.tree.map(lambda g: g.at[0].set(jnp.inf), stacked), state, params,
                                        val_grad=val)
    jax.tree.map(lambda u: np.testing.assert_array_equal(u, 0.0), updates)
    assert int(state[0].skipped) == 1 and int(state[1].total_notfinite) == 1


# row 4: inject_hyperparams failed


def test_inject_hyperparams_drives_the_temperature():
    stacked, val = _stacked(), jax.tree.map(lambda g: g[0], _stacked())
    m = _rows(stacked) @ _rows(jax.tree.map(lambda v: v[None], val))[0]
    tx = optax.inject_hyperparams(vamo_transform, static_args=("num_tasks", "update_every"))(
        num_tasks=K, temperature=0.5, update_every=1)
    params = jax.tree.map(lambda g: jnp.zeros_like(g[0]), stacked)
    update = jax.jit(tx.update)
    _, state = update(stacked, tx.init(params), params, val_grad=val)
    np.testing.assert_allclose(state.inner_state.weights, _softmax(m, 0.5), rtol=1e-5)
    state.hyperparams["temperature"] = jnp.asarray(4.0)
    _, state = update(stacked, state, params, val_grad=val)
    np.testing.assert_allclose(state.inner_state.weights, _softmax(m, 4.0), rtol=1e-5)
    with pytest.raises(ValueError, match=r"num_tasks must be a static Python int.*static_args"):
        optax.inject_hyperparams(vamo_transform)(num_tasks=K).init(params)


# row 5: the fast path's initialiser was neither exported nor documented


def test_the_fast_path_initialiser_is_exported_and_matches_the_transform():
    assert "equal weights" in init_vamo_state.__doc__
    jax.tree.map(np.testing.assert_array_equal, init_vamo_state(K), vamo_transform(K).init(None))


# row 6: flax TrainState.apply_gradients drops val_grad=


def test_a_missing_val_grad_names_flax_apply_gradients_and_the_fix():
    stacked = _stacked()
    with pytest.raises(ValueError, match=r"apply_gradients does not pass extra keywords.*gradient_method"):
        vamo_transform(K).update(stacked, vamo_transform(K).init(None))


# row 8: what `weights` means per method


@pytest.mark.parametrize("name", weighting.available())
def test_every_method_outputs_its_weights_combination(name):
    """`state.weights` are the effective weights: the output is Σ_k weights_k g_k, for every method."""
    stacked = _stacked()
    tx = weighting.get(name, K, **({"epoch_length": 1} if name == "dwa" else {}))
    out, state = tx.update(stacked, tx.init(None), task_losses=jnp.array([1.0, 2.0, 0.5]),
                           val_grad=jax.tree.map(lambda g: g[1], stacked))
    np.testing.assert_allclose(_rows(jax.tree.map(lambda v: v[None], out))[0],
                               np.asarray(state.weights) @ _rows(stacked), rtol=1e-5, atol=1e-6)


# row 10: an integer parameter leaf gave a bare AssertionError


def test_an_integer_parameter_leaf_is_named():
    params, f = _linear_problem()
    params = {**params, "step": jnp.zeros((), jnp.int32)}
    for call in (lambda: per_task_grads(f, params),
                 lambda: vamo_gradient(f, params, init_vamo_state(K), VamoHyperparams(K, alignment="train")),
                 lambda: gradient_method("equal", K).update(f, gradient_method("equal", K).init(params), params)):
        with pytest.raises(ValueError, match=r"params leaf \['step'\] has dtype int32"):
            call()


# row 11: target_entropy missing on the transform; a misspelt keyword ignored


def test_the_transform_takes_target_entropy():
    stacked, val = _stacked(), jax.tree.map(lambda g: g[0], _stacked())
    tx = vamo_transform(K, target_entropy=0.5, update_every=1)
    _, state = jax.jit(tx.update)(stacked, tx.init(None), val_grad=val)
    np.testing.assert_allclose(weight_entropy(state.weights), 0.5 * math.log(K), rtol=1e-3)


@pytest.mark.parametrize("name", ["vamo", "famo", "mgda", "equal"])
def test_a_misspelt_extra_argument_is_refused_and_another_transforms_is_not(name):
    stacked = _stacked()
    tx = weighting.get(name, K)
    kwargs = {"task_losses": jnp.ones(K), "val_grad": jax.tree.map(lambda g: g[0], stacked)}
    with pytest.raises(ValueError, match="did you mean val_grad="):
        tx.update(stacked, tx.init(None), **{**kwargs, "val_grads": kwargs["val_grad"]})
    with pytest.raises(ValueError, match="did you mean task_losses="):
        tx.update(stacked, tx.init(None), **{**kwargs, "task_loss": jnp.ones(K)})
    tx.update(stacked, tx.init(None), **kwargs, value=jnp.ones(()))  # optax's line search passes value=
