"""Loss-based and stochastic methods, the VAMO names and the registry's errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax.mtl import vamo_transform, weighting

M = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])


def _stacked():
    return {"w": jnp.asarray(M, jnp.float32)}


def test_dwa_uses_epoch_mean_loss_ratios(run_method):
    # epoch_length = 2: epochs 0 and 1 use λ = 1; epoch 2 uses the ratio of the mean losses of
    # epochs 1 and 0, λ = K softmax(r / 2).
    losses = np.array([[1.0, 1.0, 1.0], [3.0, 1.0, 1.0], [1.0, 0.5, 1.0], [1.0, 0.5, 2.0], [9.0, 9.0, 9.0]])
    outs, _ = run_method("dwa", _stacked(), steps=4, losses=losses[:4], options=(("epoch_length", 2),))
    for out in outs:
        np.testing.assert_allclose(out["w"], M.mean(0), atol=1e-6)
    outs, state = run_method("dwa", _stacked(), steps=5, losses=losses, options=(("epoch_length", 2),))
    ratio = losses[2:4].mean(0) / losses[0:2].mean(0)
    w = np.exp(ratio / 2.0) / np.exp(ratio / 2.0).sum()
    np.testing.assert_allclose(state.weights, w, rtol=1e-5)
    np.testing.assert_allclose(outs[-1]["w"], w @ M, rtol=1e-5)


def test_famo_raises_the_logit_of_a_stalled_task(run_method):
    steps = 12
    losses = np.stack([np.ones(steps), 0.9 ** np.arange(steps), 0.8 ** np.arange(steps)], axis=1)
    outs, state = run_method("famo", _stacked(), steps=steps, losses=losses)
    assert state.logits[0] > state.logits[1] > state.logits[2]
    # w ∝ softmax(ξ)_k / L_k (the gradient of Σ_k z_k log L_k, normalised).
    z = np.exp(state.logits) / np.exp(state.logits).sum()
    expected = z / losses[-1] / (z / losses[-1]).sum()
    np.testing.assert_allclose(state.weights, expected, rtol=1e-5)
    np.testing.assert_allclose(outs[-1]["w"], expected @ M, rtol=1e-5)


def test_famo_first_step_weights_are_inverse_losses(run_method):
    losses = np.array([1.0, 2.0, 4.0])
    _, state = run_method("famo", _stacked(), steps=1, losses=losses)
    np.testing.assert_allclose(state.weights, [4 / 7, 2 / 7, 1 / 7], rtol=1e-5)
    np.testing.assert_array_equal(state.logits, 0.0)


def test_uw_lowers_the_weight_of_a_stalled_task(run_method):
    steps = 30
    losses = np.stack([np.ones(steps), 0.9 ** np.arange(steps), 0.9 ** np.arange(steps)], axis=1)
    _, state = run_method("uw", _stacked(), steps=steps, losses=losses, options=(("lr", 0.05),))
    # s_k moves towards log L_k: up for the stalled task, down for the others.
    assert state.log_var[0] > -0.5 > state.log_var[1]
    np.testing.assert_allclose(state.log_var[1], state.log_var[2], rtol=1e-6)
    assert state.weights[0] < state.weights[1]
    np.testing.assert_allclose(state.weights.sum(), 1.0, atol=1e-6)


def test_gradnorm_moves_weight_away_from_the_larger_gradient(run_method):
    # Equal loss ratios: the target is the mean weighted norm, so the task with the larger
    # gradient (‖g_2‖ = 2) loses weight and the smaller gains.
    _, state = run_method("gradnorm", _stacked(), steps=20, losses=np.ones(3), options=(("lr", 0.05),))
    norms = np.linalg.norm(M, axis=1)
    assert state.weights[1] < 1 / 3 < state.weights[0]
    np.testing.assert_allclose(state.weights.sum(), 1.0, atol=1e-6)
    # A slower task (higher relative loss) gains weight when the norms are equal.
    equal_norms = {"w": jnp.asarray(M / norms[:, None], jnp.float32)}
    losses = np.stack([np.ones(20), 0.5 * np.ones(20), 0.5 * np.ones(20)], axis=1)
    losses[0] = 1.0
    _, state = run_method("gradnorm", equal_norms, steps=20, losses=losses, options=(("lr", 0.05),))
    assert state.weights[0] > 1 / 3 > state.weights[1]


def test_rlw_draws_simplex_weights_from_its_seed(run_method):
    outs, state = run_method("rlw", _stacked(), steps=3)
    outs2, state2 = run_method("rlw", _stacked(), steps=3)
    _, other = run_method("rlw", _stacked(), steps=3, options=(("seed", 1),))
    np.testing.assert_array_equal(state.weights, state2.weights)
    assert not np.allclose(state.weights, other.weights)
    assert not np.allclose(outs[0]["w"], outs[1]["w"])
    np.testing.assert_allclose(state.weights.sum(), 1.0, atol=1e-6)
    np.testing.assert_allclose(outs[-1]["w"], np.asarray(state.weights) @ M, rtol=1e-5)


def test_vamo_names(run_method):
    val = {"w": jnp.array([1.0, 0.2])}
    # `vamo` is vamo_transform: softmax of the alignments ⟨g_val, g_k⟩ = (1, 0.4, 1.2).
    assert weighting.get("vamo", 3).update.__qualname__ == vamo_transform(3).update.__qualname__
    _, state = run_method("vamo", _stacked(), val_grad=val)
    m = M @ np.array([1.0, 0.2])
    np.testing.assert_allclose(state.weights, np.exp(m) / np.exp(m).sum(), rtol=1e-5)
    # greedy: all weight on the best-aligned task.
    outs, state = run_method("greedy", _stacked(), val_grad=val)
    np.testing.assert_allclose(state.weights, [0.0, 0.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(outs[0]["w"], M[2], atol=1e-7)
    # vamo_train: aligned with the mean training gradient, no val_grad needed.
    m = M @ M.mean(0)
    _, state = run_method("vamo_train", _stacked(), val_grad=val)
    np.testing.assert_allclose(state.weights, np.exp(m) / np.exp(m).sum(), rtol=1e-5)


def test_unknown_method_names_the_choices():
    with pytest.raises(ValueError, match="unknown weighting method 'adam'.*cagrad"):
        weighting.get("adam", 3)


@pytest.mark.parametrize(
    "name,options,match",
    [
        ("cagrad", {"alpha": 0.4}, r"unknown option\(s\) \['alpha'\].*valid options: \['c', 'num_iters'\]"),
        ("equal", {"seed": 1}, r"unknown option.*valid options: none"),
        ("cagrad", {"c": -0.1}, r"c must be in \[0.0, inf\)"),
        ("fairgrad", {"alpha": 0.0}, r"alpha must be in \(0.0, inf\)"),
        ("gradnorm", {"alpha": -1.0}, r"alpha must be in \[0.0, inf\)"),
        ("dwa", {"epoch_length": 0}, r"epoch_length must be an int ≥ 1"),
        ("famo", {"w_lr": 0.0}, r"w_lr must be in \(0.0, inf\)"),
        ("pcgrad", {"seed": -1}, r"seed must be an int ≥ 0"),
        ("vamo", {"temperature": 0.0}, r"temperature"),
    ],
)
def test_bad_options_raise_clear_errors(name, options, match):
    with pytest.raises(ValueError, match=match):
        weighting.get(name, 3, **options)


def test_wrong_task_axis_is_rejected():
    tx = weighting.get("mgda", 3)
    with pytest.raises(ValueError, match="leading task axis of size num_tasks=3"):
        tx.update({"w": jnp.ones((2, 4))}, tx.init(None))


@pytest.mark.parametrize("name", weighting.available())
def test_every_method_builds_with_defaults(name):
    k = 3
    tx = weighting.get(name, k)
    stacked = {"w": jnp.asarray(np.arange(k * 4, dtype=np.float32).reshape(k, 4))}
    out, state = jax.jit(tx.update)(stacked, tx.init(None), None, task_losses=jnp.ones(k), val_grad={"w": jnp.ones(4)})
    assert out["w"].shape == (4,) and state.weights.shape == (k,)


def test_options_lists_defaults():
    assert weighting.options("cagrad") == {"c": 0.4, "num_iters": 30}
    assert weighting.options("famo") == {"gamma": 0.01, "w_lr": 0.025}
