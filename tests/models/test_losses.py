import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.models.conftest import B, C, compiled, tiny_config
from vamo_jax.data.spec import TICKS_PER_DAY
from vamo_jax.models import per_example_loss
from vamo_jax.mtl import task_losses

LENGTHS = np.array([C, 5, 1, 3])


def padded(batch):
    mask = (np.arange(C)[None] < LENGTHS[:, None]).astype(np.float32)
    # Window 0 ends on the day's last tick, which has no next state.
    timesteps = np.asarray(batch.timesteps).copy()
    timesteps[0] = np.arange(TICKS_PER_DAY - C, TICKS_PER_DAY)
    return batch.replace(mask=jnp.asarray(mask), timesteps=jnp.asarray(timesteps, jnp.int32))


def expected_loss(out, batch):
    a = np.asarray(batch.actions)
    losses = []
    for i, n in enumerate(LENGTHS):
        if out.next_state is None:
            losses.append(np.mean((np.asarray(out.action)[i, :n] - a[i, :n]) ** 2))
            continue
        n = n - (i == 0)  # no transition from the day's last tick
        state = np.mean((np.asarray(out.next_state)[i, :n] - np.asarray(batch.next_states)[i, :n]) ** 2)
        action = np.mean((np.asarray(out.inverse_action)[i, :n] - a[i, :n]) ** 2)
        losses.append(state + action)
    return np.array(losses)


@pytest.mark.parametrize("mode", ["action", "next_state"])
def test_masked_mean_over_valid_ticks(batch, mode):
    model, params, apply = compiled(tiny_config(mode=mode))
    windows = padded(batch)
    loss = jax.jit(lambda p, b: per_example_loss(model, p, b))(params, windows)
    assert loss.shape == (B,)
    np.testing.assert_allclose(loss, expected_loss(apply(params, windows), windows), rtol=1e-5)
    # Any value on padding ticks (inputs or targets) leaves the loss unchanged.
    noise = jax.random.normal(jax.random.PRNGKey(4), (B, C))
    pad = windows.mask == 0
    garbage = windows.replace(
        actions=jnp.where(pad, noise, windows.actions),
        states=jnp.where(pad[..., None], noise[..., None], windows.states),
        next_states=jnp.where(pad[..., None], noise[..., None], windows.next_states),
    )
    np.testing.assert_allclose(jax.jit(lambda p, b: per_example_loss(model, p, b))(params, garbage), loss,
                               rtol=1e-5, atol=1e-6)


def test_feeds_task_losses_with_finite_gradients(batch):
    model, params, _ = compiled(tiny_config())

    def losses(p):
        return task_losses(per_example_loss(model, p, batch), batch.task, 3)

    # Task 1's loss reaches the shared parameters and task 1's head only.
    value, grads = jax.jit(jax.value_and_grad(lambda p: losses(p)[1]))(params)
    assert np.isfinite(value)
    assert all(np.isfinite(g).all() for g in jax.tree.leaves(grads))
    assert np.abs(grads["params"]["state_embedding"]["kernel"]).sum() > 0
    head = grads["params"]["generator"]["w2"]
    assert np.abs(head[1]).sum() > 0 and np.abs(head[0]).sum() == 0 and np.abs(head[2]).sum() == 0



def test_next_state_mode_ends_the_day_at_the_configured_ticks_per_day(batch):
    """A day of 48 ticks: the window ending on tick 47 has no transition from it."""
    ticks = 48
    model, params, apply = compiled(tiny_config(mode="next_state", max_timestep=ticks))
    windows = batch.replace(timesteps=jnp.broadcast_to(jnp.arange(ticks - C, ticks, dtype=jnp.int32), (B, C)))
    loss = jax.jit(lambda p, b: per_example_loss(model, p, b))(params, windows)
    out = apply(params, windows)
    state = np.mean((np.asarray(out.next_state) - np.asarray(windows.next_states))[:, :-1] ** 2, axis=(1, 2))
    action = np.mean((np.asarray(out.inverse_action) - np.asarray(windows.actions))[:, :-1] ** 2, axis=1)
    np.testing.assert_allclose(loss, state + action, rtol=1e-5)
