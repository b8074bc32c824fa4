"""VAO (cross-task VAMO) against closed-form least-squares gradients and a numpy softmax."""

import functools
import math

import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax.mtl import CrossTaskState, VamoHyperparams, cross_task_gradient, init_cross_task_state

N, N_VAL, DIM = 6, 5, 4


@functools.lru_cache(maxsize=None)
def _problem(num_tasks):
    """Source i's inputs X_i (n, d), its labels under every target k, y[i, k] (n,), and each
    target's validation set."""
    rng = np.random.default_rng(num_tasks)
    x = rng.normal(size=(num_tasks, N, DIM))
    y = rng.normal(size=(num_tasks, num_tasks, N))
    xv = rng.normal(size=(num_tasks, N_VAL, DIM))
    yv = rng.normal(size=(num_tasks, N_VAL))
    theta = rng.normal(size=DIM)
    return x, y, xv, yv, theta


def _fns(num_tasks):
    x, y, xv, yv, _ = (jnp.asarray(a, jnp.float32) for a in _problem(num_tasks))

    def cross_losses(p):
        pred = jnp.einsum("ind,d->in", x, p["theta"])
        return jnp.mean((pred[:, None, :] - y) ** 2, axis=-1)

    def val_losses(p):
        return jnp.mean((jnp.einsum("knd,d->kn", xv, p["theta"]) - yv) ** 2, axis=-1)

    return cross_losses, val_losses


def _numpy_grads(num_tasks, theta):
    """∇L[i, k] = (2/n) X_iᵀ(X_i θ − y_ik): (K, K, d); g_k = (2/n) Xv_kᵀ(Xv_k θ − yv_k): (K, d)."""
    x, y, xv, yv, _ = _problem(num_tasks)
    resid = np.einsum("ind,d->in", x, theta)[:, None, :] - y
    cross = 2.0 / N * np.einsum("ind,ikn->ikd", x, resid)
    val = 2.0 / N_VAL * np.einsum("knd,kn->kd", xv, np.einsum("knd,d->kn", xv, theta) - yv)
    return cross, val


def _numpy_softmax_columns(m, lam):
    z = m / lam
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


@functools.lru_cache(maxsize=None)
def _step(num_tasks, hp):
    cross, val = _fns(num_tasks)
    return jax.jit(lambda p, s: cross_task_gradient(cross, p, s, hp, val_losses_fn=val))


def _run(num_tasks, hp, theta, state=None):
    state = init_cross_task_state(num_tasks) if state is None else state
    return _step(num_tasks, hp)({"theta": jnp.asarray(theta, jnp.float32)}, state)


def _numpy_vao(cross, targets, lam, normalize=None):
    k = cross.shape[0]
    m = np.einsum("ikd,kd->ik", cross, targets)
    if normalize == "val_norm":
        m = m / np.sum(targets**2, axis=1)[None, :]
    elif normalize == "cosine":
        m = m / (np.linalg.norm(cross, axis=2) * np.linalg.norm(targets, axis=1)[None, :])
    w = _numpy_softmax_columns(m, lam)
    return m, w, np.einsum("ik,ikd->d", w, cross) / k


@pytest.mark.parametrize("num_tasks", [2, 3, 8])
def test_hand_gradients_are_the_explicit_jax_gradients(num_tasks):
    """The numpy formula is the reference below: check it against jax.grad of each L[i, k]."""
    theta = _problem(num_tasks)[4]
    cross, val = _fns(num_tasks)
    params = {"theta": jnp.asarray(theta, jnp.float32)}
    grad_ik = jax.jit(jax.grad(lambda p, i, k: cross(p)[i, k]))
    explicit = np.array([[grad_ik(params, i, k)["theta"] for k in range(num_tasks)] for i in range(num_tasks)])
    grad_k = jax.jit(jax.grad(lambda p, k: val(p)[k]))
    explicit_val = np.array([grad_k(params, k)["theta"] for k in range(num_tasks)])
    want_cross, want_val = _numpy_grads(num_tasks, theta)
    np.testing.assert_allclose(explicit, want_cross, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(explicit_val, want_val, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("normalize", [None, "val_norm", "cosine"])
@pytest.mark.parametrize("num_tasks", [2, 3, 8])
def test_refresh_against_numpy(num_tasks, normalize):
    theta = _problem(num_tasks)[4]
    cross, val = _numpy_grads(num_tasks, theta)
    m, _, _ = _numpy_vao(cross, val, 1.0, normalize)
    lam = float(np.std(m))  # at the scale of m: weights neither one-hot nor flat
    m, w, d = _numpy_vao(cross, val, lam, normalize)
    hp = VamoHyperparams(num_tasks, temperature=lam, normalize=normalize)
    grad, state, losses = _run(num_tasks, hp, theta)
    assert isinstance(state, CrossTaskState) and int(state.count) == 1
    np.testing.assert_allclose(state.alignment, m, rtol=1e-4, atol=1e-5 * np.abs(m).max())
    np.testing.assert_allclose(state.weights, w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad["theta"], d, rtol=1e-4, atol=1e-5)
    x, y, *_ = _problem(num_tasks)
    np.testing.assert_allclose(
        losses, np.mean((np.einsum("ind,d->in", x, theta)[:, None] - y) ** 2, -1), rtol=1e-5
    )


def test_weights_move_off_uniform_and_favour_aligned_sources():
    """The check above could pass with weights near uniform; here they are far from it."""
    theta = _problem(3)[4]
    cross, val = _numpy_grads(3, theta)
    m, w, _ = _numpy_vao(cross, val, 1.0)
    lam = float(np.std(m)) / 4
    _, state, _ = _run(3, VamoHyperparams(3, temperature=lam), theta)
    assert np.abs(np.asarray(state.weights) - 1 / 3).max() > 0.2
    np.testing.assert_array_equal(np.argmax(state.weights, 0), np.argmax(m, 0))


@pytest.mark.parametrize("normalize", [None, "cosine"])
def test_train_alignment_targets_the_mean_training_gradient(normalize):
    k = 3
    theta = _problem(k)[4]
    cross, _ = _numpy_grads(k, theta)
    m, w, d = _numpy_vao(cross, cross.mean(0), 0.5, normalize)
    hp = VamoHyperparams(k, temperature=0.5, alignment="train", normalize=normalize)
    c, _ = _fns(k)
    grad, state, _ = jax.jit(lambda p: cross_task_gradient(c, p, init_cross_task_state(k), hp))(
        {"theta": jnp.asarray(theta, jnp.float32)}
    )
    np.testing.assert_allclose(state.alignment, m, rtol=1e-4, atol=1e-5 * np.abs(m).max())
    np.testing.assert_allclose(state.weights, w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad["theta"], d, rtol=1e-4, atol=1e-5)


def test_uniform_weights_are_naive_data_sharing():
    """λ = ∞: the plain mean of all K² gradients, i.e. ∇ of the mean of the loss matrix."""
    k = 3
    theta = _problem(k)[4]
    cross, _ = _numpy_grads(k, theta)
    grad, state, _ = _run(k, VamoHyperparams(k, temperature=math.inf), theta)
    np.testing.assert_allclose(state.weights, np.full((k, k), 1 / k), atol=1e-7)
    np.testing.assert_allclose(grad["theta"], cross.reshape(-1, DIM).mean(0), rtol=1e-5, atol=1e-6)


def test_identical_gradients_return_that_gradient():
    k = 3
    rng = np.random.default_rng(1)
    g, a = jnp.asarray(rng.normal(size=DIM), jnp.float32), jnp.asarray(rng.normal(size=(k, k)), jnp.float32)
    hp = VamoHyperparams(k, temperature=0.3)
    grad, state, _ = cross_task_gradient(
        lambda p: a + p["theta"] @ g, {"theta": jnp.zeros(DIM)}, init_cross_task_state(k), hp,
        val_losses_fn=lambda p: jnp.arange(1.0, k + 1) * (p["theta"] @ g),
    )
    np.testing.assert_allclose(grad["theta"], g, rtol=1e-6)
    np.testing.assert_allclose(np.sum(state.weights, 0), np.ones(k), rtol=1e-6)


def test_cached_steps_reuse_the_weights_and_skip_validation():
    k, every = 3, 3
    theta0 = _problem(k)[4]
    hp = VamoHyperparams(k, temperature=0.5, update_every=every)
    _, s1, _ = _run(k, hp, theta0)
    theta1 = theta0 + 0.3
    grad, s2, _ = _run(k, hp, theta1, state=s1)  # count 1: a cached step
    np.testing.assert_array_equal(s2.weights, s1.weights)
    np.testing.assert_array_equal(s2.alignment, s1.alignment)
    cross1, _ = _numpy_grads(k, theta1)
    want = np.einsum("ik,ikd->d", np.asarray(s1.weights, np.float64), cross1) / k
    np.testing.assert_allclose(grad["theta"], want, rtol=1e-4, atol=1e-5)
    _, s4, _ = _run(k, hp, theta1, state=s2._replace(count=jnp.asarray(every, jnp.int32)))  # a refresh again
    want_w = _numpy_vao(cross1, _numpy_grads(k, theta1)[1], 0.5)[1]
    np.testing.assert_allclose(s4.weights, want_w, rtol=1e-4, atol=1e-6)
    assert not np.allclose(s4.weights, s1.weights)

    calls = []
    cross, val = _fns(k)

    def counted_val(p):
        calls.append(1)
        return val(p)

    params = {"theta": jnp.asarray(theta1, jnp.float32)}
    for refresh in (False, True):  # tracing calls the Python function once per evaluation
        jax.make_jaxpr(lambda p: cross_task_gradient(cross, p, s1, hp, val_losses_fn=counted_val, refresh=refresh))(
            params)
        assert len(calls) == int(refresh)


def test_traced_refresh_under_vmap_over_seeds():
    k = 2
    cross, val = _fns(k)
    hp = VamoHyperparams(k, temperature=0.5, update_every=5)
    thetas = jnp.asarray(np.random.default_rng(2).normal(size=(2, DIM)), jnp.float32)
    states = jax.vmap(lambda _: init_cross_task_state(k))(jnp.arange(2))

    def step(refresh):
        return jax.vmap(lambda t, s: cross_task_gradient(cross, {"theta": t}, s, hp, val_losses_fn=val,
                                                         refresh=refresh))(thetas, states)

    g_refresh, s_refresh, _ = jax.jit(step)(jnp.array(True))
    g_cached, s_cached, _ = jax.jit(step)(jnp.array(False))
    for i in range(2):
        cross_np, val_np = _numpy_grads(k, np.asarray(thetas[i], np.float64))
        _, w, d = _numpy_vao(cross_np, val_np, 0.5)
        np.testing.assert_allclose(s_refresh.weights[i], w, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g_refresh["theta"][i], d, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(g_cached["theta"][i], cross_np.reshape(-1, DIM).mean(0), rtol=1e-4, atol=1e-5)


def test_target_entropy_is_matched_per_target():
    k = 4
    theta = _problem(k)[4]
    hp = VamoHyperparams(k, target_entropy=0.5)
    _, state, _ = _run(k, hp, theta)
    w = np.asarray(state.weights, np.float64)
    entropy = -np.sum(w * np.log(np.maximum(w, 1e-30)), axis=0)
    np.testing.assert_allclose(entropy, 0.5 * math.log(k), atol=1e-3)


def test_one_task_is_the_plain_gradient():
    theta = _problem(1)[4]
    grad, state, _ = _run(1, VamoHyperparams(1, temperature=0.1), theta)
    np.testing.assert_allclose(grad["theta"], _numpy_grads(1, theta)[0][0, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(state.weights, [[1.0]])


def _dot_count(jaxpr) -> int:
    """dot_general equations, those inside a scan counted once per iteration (its length)."""
    total = 0
    for eqn in jaxpr.eqns:
        inner = 0
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    inner += _dot_count(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    inner += _dot_count(sub)
        total += (eqn.primitive.name == "dot_general") + inner * eqn.params.get("length", 1)
    return total


@pytest.mark.parametrize("alignment", ["validation", "train"])
@pytest.mark.parametrize("normalize, grows_as_k_squared", [(None, False), ("val_norm", False), ("cosine", True)])
def test_refresh_costs_o_k_passes(alignment, normalize, grows_as_k_squared):
    """Every pass through the least-squares losses is one dot_general whatever K (the sources are
    one batched einsum), so the count of dot_generals a refresh executes counts its passes:
    2K + O(1) on the fast path (K validation VJPs or transposes, K JVPs), K² + O(K) for "cosine"."""

    def count(k):
        cross, val = _fns(k)
        hp = VamoHyperparams(k, normalize=normalize, alignment=alignment)
        step = lambda p: cross_task_gradient(cross, p, init_cross_task_state(k), hp, val_losses_fn=val,
                                             refresh=True)
        return _dot_count(jax.make_jaxpr(step)({"theta": jnp.zeros(DIM)}).jaxpr)

    c2, c4, c8 = count(2), count(4), count(8)
    growth = (c8 - c4) / (c4 - c2)
    if grows_as_k_squared:
        assert growth > 3.5 and c8 >= 64, (c2, c4, c8)
    else:
        assert growth == 2 and c8 <= 2 * 8 + 3, (c2, c4, c8)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"val_losses_fn": None}, "needs val_losses_fn"), ({"shape": (3,)}, r"\(3, 3\) matrix"),
     ({"val_shape": (2,)}, r"val_losses_fn must return \(3,\)")],
)
def test_bad_inputs_raise_clear_errors(kwargs, match):
    k = 3
    shape, val_shape = kwargs.get("shape", (k, k)), kwargs.get("val_shape", (k,))
    params = {"theta": jnp.ones(2)}
    val = kwargs.get("val_losses_fn", lambda p: jnp.full(val_shape, 1.0) * p["theta"][0])
    with pytest.raises(ValueError, match=match):
        cross_task_gradient(lambda p: jnp.full(shape, 1.0) * p["theta"][0], params, init_cross_task_state(k),
                            VamoHyperparams(k), val_losses_fn=val, refresh=True)
