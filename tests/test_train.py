import dataclasses
import errno
import math
import os

import chex
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests._problem import K, make_problem
from vamo_jax import checkpoint
from vamo_jax.loop import TrainingDiverged, fit_method
from vamo_jax.mtl import gradient_method, per_task_grads
from vamo_jax import methods
from vamo_jax.train import TrainConfig, init_train_state, init_train_states, make_step, task_losses_on

TASKS = ("a", "b", "c")
PROBLEM = make_problem()
# One config for every test, so each method compiles once for the whole module.
CONFIG = TrainConfig(steps=24, log_every=4, checkpoint_every=8, num_seeds=2, batch_size=12, progress=False,
                     update_every=2, learning_rate=3e-3)


def _poisoned(value, rows):
    """PROBLEM with training targets of `rows` set to `value` (same shapes: no recompilation)."""
    train = {**PROBLEM.data["train"], "y": PROBLEM.data["train"]["y"].at[rows].set(value)}
    return PROBLEM._replace(data={**PROBLEM.data, "train": train})


@pytest.mark.parametrize("method", ["stl", "equal", "vamo"])
def test_every_method_trains_all_seeds_and_lowers_the_loss(method, tmp_path):
    states, history, _ = fit_method(PROBLEM, method, CONFIG, tmp_path / method, TASKS)
    assert history["losses"].shape == (2, 24, K)
    assert history["val_losses"].shape == (2, 6, K)
    assert np.all(np.isfinite(history["losses"]))
    assert history["losses"][:, -5:].mean() < history["losses"][:, :5].mean()
    assert int(states.step[0]) == 24
    leaves = jax.tree.leaves(states.params)
    assert not np.allclose(leaves[0][0], leaves[0][1]), "seeds must differ"
    np.testing.assert_allclose(history["weights"].sum(-1), 1.0, rtol=1e-5)
    if method in ("vamo", "vamo_train"):
        assert not np.allclose(history["weights"][0, 0], 1 / K), "VAMO refreshes at step 0"
        np.testing.assert_allclose(history["weights"][:, 0], history["weights"][:, 1])  # cached until step 2
        assert not np.allclose(history["weights"][:, 1], history["weights"][:, 2])


def test_multi_task_methods_start_from_the_same_parameters_drawn_by_one_program():
    """The initial parameters of a seed are one draw shared by every multi-task method (paired
    comparisons), computed by one compilation; STL's K models are drawn from the same seed key."""
    from vamo_jax import train

    before = train._init_params._cache_size()
    states = {m: init_train_states(PROBLEM, m, CONFIG) for m in ("equal", "vamo", "pcgrad", "vao")}
    assert train._init_params._cache_size() - before <= 1
    for method in ("vamo", "pcgrad", "vao"):
        chex.assert_trees_all_equal(states[method].params, states["equal"].params)
    single = init_train_states(PROBLEM, "stl", CONFIG)
    key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(CONFIG.seed), 1), 1)  # seed 1's params key
    chex.assert_trees_all_close(jax.tree.map(lambda p: p[1, 2], single.params),
                                PROBLEM.init_params(jax.random.split(key, K)[2]), rtol=1e-6)
    chex.assert_trees_all_close(jax.tree.map(lambda p: p[1], states["equal"].params), PROBLEM.init_params(key),
                                rtol=1e-6)


@pytest.mark.parametrize("method", ["pcgrad"])
def test_zoo_methods_train_through_explicit_per_task_gradients(method, tmp_path):
    states, history, _ = fit_method(PROBLEM, method, CONFIG, tmp_path / method, TASKS)
    assert np.all(np.isfinite(history["losses"])) and int(states.step[0]) == CONFIG.steps
    assert history["weights"].shape == (2, CONFIG.steps, K) and np.all(np.isfinite(history["weights"]))
    assert history["val_losses"][:, -1].mean() < history["val_losses"][:, 0].mean() * 1.5


@pytest.mark.parametrize("method", [m for m in methods.names() if isinstance(methods.get(m), methods.Zoo)
                                    and gradient_method(m, K).path == "loss_weighted"])
def test_loss_weighted_methods_take_one_backward_pass_and_match_explicit_gradients(method):
    """equal/dwa/famo/uw/rlw read their weights off the transform and pull Σ w_k L_k back once; the
    reference combines K explicit per-task gradients with the same transform."""
    config = dataclasses.replace(CONFIG, epoch_length=1)  # DWA's weights move from step 3 on
    transform = methods.get(method).transform(K, config)
    optimizer = methods.adamw(config)

    def explicit(state, i, data):
        key_train, _ = jax.random.split(jax.random.fold_in(state.key, i))
        batch = PROBLEM.sample_train(key_train, data)
        losses, stacked = per_task_grads(lambda p: task_losses_on(PROBLEM, p, batch), state.params)
        grads, wstate = transform.update(stacked, state.weighting_state, state.params, task_losses=losses)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                             opt_state=opt_state, weighting_state=wstate)

    fast_step, explicit_step = jax.jit(make_step(PROBLEM, method, config)), jax.jit(explicit)
    state = init_train_state(PROBLEM, method, config, jax.random.PRNGKey(3))
    for i in range(5):  # from the same state each step: the gradients enter Adam's moments linearly
        fast, metrics = fast_step(state, np.int32(i), PROBLEM.data)
        reference = explicit_step(state, np.int32(i), PROBLEM.data)
        np.testing.assert_allclose(metrics.weights, reference.weighting_state.weights, rtol=1e-5, atol=1e-7)
        chex.assert_trees_all_close(fast.opt_state, reference.opt_state, rtol=1e-3, atol=1e-9)
        chex.assert_trees_all_close(fast.weighting_state, reference.weighting_state, rtol=1e-5, atol=1e-7)
        state = fast
    if method not in ("rlw", "equal"):
        assert not np.allclose(state.weighting_state.weights, 1.0 / K)  # the weights did move


def test_unknown_method_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"train.methods: unknown method 'sgd'; valid: stl, .*vamo"):
        make_step(PROBLEM, "sgd", CONFIG)


def test_static_refresh_schedule_equals_the_branching_one(tmp_path):
    # log_every=4 is a multiple of update_every=2 (static blocks); log_every=3 is not (a cond per step).
    branching = TrainConfig(**{**CONFIG.__dict__, "log_every": 3, "checkpoint_every": 24})
    static_states, static_history, _ = fit_method(PROBLEM, "vamo", CONFIG, tmp_path / "a", TASKS)
    cond_states, cond_history, _ = fit_method(PROBLEM, "vamo", branching, tmp_path / "b", TASKS)
    np.testing.assert_allclose(static_history["weights"], cond_history["weights"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(static_history["losses"], cond_history["losses"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(static_history["val_losses"][:, -1], cond_history["val_losses"][:, -1], rtol=1e-4)
    # Adam turns float-rounding differences of near-zero gradients into steps of up to lr, so
    # compare the parameters as a whole rather than entry by entry.
    a, b = (jax.flatten_util.ravel_pytree(s.params)[0] for s in (static_states, cond_states))
    assert float(jnp.linalg.norm(a - b) / jnp.linalg.norm(a)) < 1e-3


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """VAMO trained without interruption: (states, history)."""
    states, history, _ = fit_method(PROBLEM, "vamo", CONFIG, tmp_path_factory.mktemp("full") / "vamo", TASKS)
    return states, history


def _assert_same_run(a, b):
    for x, y in zip(jax.tree.leaves(a[0]), jax.tree.leaves(b[0])):
        np.testing.assert_array_equal(x, y)
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        np.testing.assert_array_equal(a[1][key], b[1][key])


def test_killed_run_resumes_to_the_same_result(tmp_path, uninterrupted):
    fit_method(PROBLEM, "vamo", CONFIG, tmp_path / "killed", TASKS, stop_after_step=8)
    resumed, resumed_history, _ = fit_method(PROBLEM, "vamo", CONFIG, tmp_path / "killed", TASKS, resume=True)
    _assert_same_run(uninterrupted, (resumed, resumed_history))


def _truncate_largest_file(step_dir):
    path = max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    os.truncate(path, path.stat().st_size // 2)


@pytest.mark.parametrize(
    "damage",
    [_truncate_largest_file, lambda step_dir: (step_dir / "default" / "_METADATA").unlink(),
     lambda step_dir: (step_dir.parent / "history_16.npz").write_bytes(b"PK\x03")],
    ids=["truncated_file", "no_metadata", "bad_history"],
)
def test_damaged_latest_checkpoint_resumes_from_the_previous_one(tmp_path, uninterrupted, damage):
    folder = tmp_path / "vamo"
    fit_method(PROBLEM, "vamo", CONFIG, folder, TASKS, stop_after_step=16)  # checkpoints 8 and 16
    damage(folder / "16")
    with pytest.warns(UserWarning, match=rf"checkpoint {folder}/16 does not restore \(.+\); moved to "
                                         rf"{folder}/damaged/16; trying checkpoint 8\."):
        resumed, history, _ = fit_method(PROBLEM, "vamo", CONFIG, folder, TASKS, resume=True)
    _assert_same_run(uninterrupted, (resumed, history))
    assert (folder / "damaged" / "16").is_dir() and (folder / "24").is_dir()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_checkpoint_that_cannot_be_written_stops_with_its_path_and_cause(tmp_path, monkeypatch, code):
    """Disk full, or a read-only folder (chmod does not stop root, so the writer is patched)."""

    def refuse(self, path):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(checkpoint.History, "save", refuse)
    with pytest.raises(OSError) as caught:
        fit_method(PROBLEM, "equal", CONFIG, tmp_path / "m", TASKS)
    assert (caught.value.errno, caught.value.filename) == (code, str(tmp_path / "m" / "8"))
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_existing_checkpoints_are_not_overwritten_without_resume(tmp_path):
    fit_method(PROBLEM, "equal", CONFIG, tmp_path / "m", TASKS, stop_after_step=8)
    with pytest.raises(FileExistsError, match="resume"):
        fit_method(PROBLEM, "equal", CONFIG, tmp_path / "m", TASKS)


def test_non_finite_loss_stops_with_step_task_and_method_named(tmp_path):
    problem = _poisoned(math.inf, slice(None))
    with pytest.raises(TrainingDiverged, match=r"method 'vamo': non-finite loss of task\(s\) a, b, c at step 0 \(seed 0\)"):
        fit_method(problem, "vamo", CONFIG, tmp_path / "nan", TASKS)
    assert not (tmp_path / "nan").exists() or not any((tmp_path / "nan").glob("[0-9]*"))


def test_divergence_after_a_checkpoint_names_the_task_and_keeps_the_checkpoint(tmp_path):
    fit_method(PROBLEM, "equal", CONFIG, tmp_path / "div", TASKS, stop_after_step=8)
    poisoned = _poisoned(float("nan"), 1)  # example 1 belongs to task "b"
    with pytest.raises(TrainingDiverged, match=r"task\(s\) b at step (\d+).*last good checkpoint \(step 8\) is kept"):
        fit_method(poisoned, "equal", CONFIG, tmp_path / "div", TASKS, resume=True)
    assert (tmp_path / "div" / "8").exists()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"steps": 7}, "train.steps"), ({"checkpoint_every": 3}, "train.checkpoint_every"),
     ({"temperature": 0.0}, "train.temperature"), ({"methods": ()}, "train.methods"),
     ({"normalize": "l2"}, "train.normalize"), ({"ema_decay": 1.0}, "train.ema_decay"),
     ({"lr_schedule": "linear"}, "train.lr_schedule")],
)
def test_bad_train_config_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{**CONFIG.__dict__, **kwargs})


def test_ema_params_are_the_moving_average_of_the_trajectory():
    decay = 0.75
    config = dataclasses.replace(CONFIG, ema_decay=decay)
    step = jax.jit(make_step(PROBLEM, "equal", config))
    state = init_train_state(PROBLEM, "equal", config, jax.random.PRNGKey(0))
    expected = state.params
    for i in range(3):
        state, _ = step(state, np.int32(i), PROBLEM.data)
        expected = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, expected, state.params)
    chex.assert_trees_all_close(state.ema_params, expected, rtol=1e-6)
    assert init_train_state(PROBLEM, "equal", CONFIG, jax.random.PRNGKey(0)).ema_params == ()


def test_cosine_schedule_reaches_zero_at_the_last_step():
    config = dataclasses.replace(CONFIG, lr_schedule="cosine", steps=4, log_every=4, checkpoint_every=4)
    optimizer = methods.adamw(config)
    params = {"w": jnp.ones(3)}
    state = optimizer.init(params)
    sizes = []
    for _ in range(5):
        updates, state = optimizer.update({"w": jnp.array([1.0, -2.0, 0.5])}, state, params)
        sizes.append(float(jnp.abs(updates["w"]).max()))
    assert sizes[0] > sizes[2] > sizes[3] > 0 and sizes[4] == 0.0  # lr(step 4 of 4) = 0


@pytest.mark.parametrize("method", ["vao", "vao_train", "share"])
def test_cross_task_step_against_explicit_gradients_and_a_numpy_softmax(method):
    """One VAO step from the same state: L[i, k] built by hand from each source's rows of each
    target's relabelled batch, K² explicit gradients, weights by a numpy softmax over sources."""
    config = dataclasses.replace(CONFIG, temperature=0.05)
    entry = methods.get(method)
    state = init_train_state(PROBLEM, method, config, jax.random.PRNGKey(5))
    step = make_step(PROBLEM, method, config)  # step 0 refreshes: the refreshing branch alone is compiled
    new, metrics = jax.jit(lambda s, i, d: step(s, i, d, True))(state, np.int32(0), PROBLEM.data)

    key_train, key_val = jax.random.split(jax.random.fold_in(state.key, 0))
    sources, batches = PROBLEM.sample_cross(key_train, PROBLEM.data)
    val_batch = PROBLEM.sample_val(key_val, PROBLEM.data)

    def loss_ik(params, i, k):  # i, k traced: one compilation serves the K² calls
        batch = jax.tree.map(lambda x: x[k], batches)
        per_example = PROBLEM.per_example_loss(params, batch)
        rows = sources == i
        return jnp.sum(jnp.where(rows, per_example, 0.0)) / jnp.maximum(rows.sum(), 1)

    grad_ik = jax.jit(lambda p, i, k: jax.flatten_util.ravel_pytree(jax.grad(loss_ik)(p, i, k))[0])
    flat = np.array([[np.asarray(grad_ik(state.params, i, k), np.float64) for k in range(K)] for i in range(K)])
    if entry.uniform:
        w = np.full((K, K), 1.0 / K)
    else:
        if entry.alignment == "validation":
            grad_k = jax.jit(lambda p, k: jax.flatten_util.ravel_pytree(
                jax.grad(lambda q: task_losses_on(PROBLEM, q, val_batch)[k])(p))[0])
            g = np.array([np.asarray(grad_k(state.params, k), np.float64) for k in range(K)])
        else:
            g = flat.mean(0)  # target k: the mean over sources of ∇L[i, k]
        m = np.einsum("ikp,kp->ik", flat, g) / config.temperature
        w = np.exp(m - m.max(0)) / np.exp(m - m.max(0)).sum(0)
    np.testing.assert_allclose(metrics.weights, w, rtol=2e-3, atol=1e-6)
    direction = np.einsum("ik,ikp->p", w, flat) / K
    _, unravel = jax.flatten_util.ravel_pytree(state.params)
    optimizer = methods.adamw(config)
    _, reference = optimizer.update(unravel(jnp.asarray(direction, jnp.float32)), state.opt_state, state.params)
    chex.assert_trees_all_close(new.opt_state, reference, rtol=2e-3, atol=1e-8)
    np.testing.assert_allclose(metrics.losses, [float(loss_ik(state.params, k, k)) for k in range(K)], rtol=1e-5)


def test_cross_task_methods_train_and_log_each_targets_weights(tmp_path):
    _, history, _ = fit_method(PROBLEM, "vao", CONFIG, tmp_path / "vao", TASKS)
    assert history["weights"].shape == (2, CONFIG.steps, K, K)
    np.testing.assert_allclose(history["weights"].sum(2), 1.0, rtol=1e-5)  # each target's weights over sources
    assert history["val_losses"][:, -1].mean() < history["val_losses"][:, 0].mean()
