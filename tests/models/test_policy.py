import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.models.conftest import B, C, compiled, make_batch, tiny_config
from vamo_jax.data.spec import STATE_DIM
from vamo_jax.models import make_policy, predict_action


@pytest.mark.parametrize(
    "overrides",
    [dict(), dict(temporal="lstm"), dict(temporal="none", film=False, heads="shared"),
     dict(mode="next_state"), dict(mode="next_state", temporal="lstm", heads="shared")],
)
def test_output_shapes(batch, overrides):
    model = make_policy(tiny_config(**overrides))
    params = jax.eval_shape(model.init, jax.random.PRNGKey(0), batch)
    out = jax.eval_shape(model.apply, params, batch)
    assert out.action.shape == (B, C)
    if model.config.mode == "next_state":
        assert out.next_state.shape == (B, C, STATE_DIM) and out.inverse_action.shape == (B, C)
    else:
        assert out.next_state is None and out.inverse_action is None
    has_temporal = "temporal" in params["params"]
    assert has_temporal == (model.config.temporal != "none")
    heads = 1 if model.config.heads == "shared" else model.config.num_tasks
    assert params["params"]["generator"]["w1"].shape[0] == heads


def perturb_after(batch, t, key):
    """Every input after tick t changed, and the action at t (the prediction at t must not see it).

    Row b's market is series b; its ticks after the newest before t + 1 are the later ones."""
    ks = jax.random.split(key, 5)
    later = (jnp.arange(C) > t)[None, :]
    _, length, _ = batch.market.shape
    seen = (batch.market_index[:, t] % length)[:, None, None]
    later_market = jnp.arange(length)[None, :, None] > seen
    return batch.replace(
        states=jnp.where(later[..., None], jax.random.normal(ks[0], batch.states.shape), batch.states),
        returns_to_go=jnp.where(later, jax.random.normal(ks[1], (B, C)), batch.returns_to_go),
        actions=jnp.where(jnp.arange(C)[None] >= t, jax.random.normal(ks[2], (B, C)), batch.actions),
        market=jnp.where(later_market, jax.random.normal(ks[3], batch.market.shape), batch.market),
        next_states=jnp.where(later[..., None], jax.random.normal(ks[4], batch.states.shape),
                              batch.next_states),
        timesteps=jnp.where(later, (batch.timesteps + 7) % 96, batch.timesteps),
    )


@pytest.mark.parametrize("mode", ["action", "next_state"])
def test_causal(batch, mode):
    _, params, apply = compiled(tiny_config(mode=mode))
    base = apply(params, batch)
    for t in (0, 3, C - 2):
        out = apply(params, perturb_after(batch, t, jax.random.PRNGKey(t)))
        np.testing.assert_allclose(out.action[:, : t + 1], base.action[:, : t + 1], rtol=1e-5, atol=1e-5)
        if mode == "next_state":
            np.testing.assert_allclose(out.next_state[:, : t + 1], base.next_state[:, : t + 1],
                                       rtol=1e-5, atol=1e-5)
        assert not np.allclose(out.action[:, t + 1:], base.action[:, t + 1:])
    # The prediction at t does see the action at t - 1 and the market history at t.
    t = 3
    earlier = apply(params, batch.replace(actions=batch.actions.at[:, t - 1].add(1.0)))
    assert not np.allclose(earlier.action[:, t], base.action[:, t])
    newest = batch.market.reshape(-1, batch.market.shape[-1]).at[batch.market_index[:, t]].multiply(-1.0)
    market = apply(params, batch.replace(market=newest.reshape(batch.market.shape)))
    assert not np.allclose(market.action[:, t], base.action[:, t])
    np.testing.assert_allclose(market.action[:, :t], base.action[:, :t], rtol=1e-5, atol=1e-5)


def test_vmap_over_examples_matches_the_batch(batch):
    model, params, apply = compiled(tiny_config())

    def one(example, market):
        example = jax.tree.map(lambda x: x[None], example.replace(market=None))
        return model.apply(params, example.replace(market=market)).action[0]

    # The market table is shared by the rows: not a vmap axis.
    vmapped = jax.jit(jax.vmap(one, in_axes=(0, None)))(batch.replace(market=None), batch.market)
    np.testing.assert_allclose(vmapped, apply(params, batch).action, rtol=1e-5, atol=1e-5)


def test_no_recompilation_when_only_values_change(batch):
    model, params, _ = compiled(tiny_config())
    traces = []

    @jax.jit
    def action(params, batch):
        traces.append(None)
        return model.apply(params, batch).action

    first = action(params, batch)
    other = make_batch(seed=3)
    second = action(jax.tree.map(lambda p: p * 1.01, params), other)
    assert len(traces) == 1 and action._cache_size() == 1
    assert not np.allclose(first, second)


def test_predict_action_reads_the_last_valid_tick(batch):
    model, params, apply = compiled(tiny_config())
    lengths = jnp.array([C, 5, 1, 3])
    mask = (jnp.arange(C)[None] < lengths[:, None]).astype(jnp.float32)
    padded = batch.replace(mask=mask)
    chosen = jax.jit(lambda p, b: predict_action(model, p, b))(params, padded)
    expected = np.asarray(apply(params, padded).action)[np.arange(B), np.asarray(lengths) - 1]
    np.testing.assert_allclose(chosen, expected, rtol=1e-6)
    # Padding after the last valid tick does not move the prediction.
    noise = jax.random.normal(jax.random.PRNGKey(9), batch.states.shape)
    garbage = padded.replace(states=jnp.where(mask[..., None] > 0, padded.states, noise))
    np.testing.assert_allclose(predict_action(apply, params, garbage), chosen, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "field, replacement, message",
    [
        ("market", lambda b: b.market[..., 1:], "ModelConfig.history_features"),
        ("market_index", lambda b: b.market_index[:, 1:], "TrajectoryBatch.market_index"),
        ("states", lambda b: b.states[..., :-1], "ModelConfig.state_dim"),
        ("requirement", lambda b: b.requirement[:, :-1], "ModelConfig.requirement_dim"),
    ],
)
def test_shapes_mismatching_the_config_raise(batch, field, replacement, message):
    model = make_policy(tiny_config())
    bad = batch.replace(**{field: replacement(batch)})
    with pytest.raises(ValueError, match=message):
        jax.eval_shape(model.init, jax.random.PRNGKey(0), bad)


def test_context_longer_than_the_config_raises():
    model = make_policy(tiny_config(context_len=C - 1))
    with pytest.raises(ValueError, match="ModelConfig.context_len"):
        jax.eval_shape(model.init, jax.random.PRNGKey(0), make_batch())


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_padded_window_predicts_like_its_valid_ticks_alone(batch, side):
    model, params, apply = compiled(tiny_config())
    n = 5
    per_tick = ("states", "actions", "rewards", "returns_to_go", "timesteps", "mask", "market_index",
                "next_states")
    valid = batch.replace(**{f: getattr(batch, f)[:, :n] for f in per_tick})
    short = jax.jit(model.apply)(params, valid).action
    pad = C - n

    def place(x):
        noise = jnp.full((x.shape[0], pad) + x.shape[2:], 3.0, x.dtype)
        return jnp.concatenate([noise, x[:, :n]] if side == "left" else [x[:, :n], noise], axis=1)

    windows = batch.replace(**{f: place(getattr(batch, f)) for f in per_tick})
    mask = jnp.zeros((B, pad))
    windows = windows.replace(mask=jnp.concatenate(
        [mask, jnp.ones((B, n))] if side == "left" else [jnp.ones((B, n)), mask], axis=1))
    out = apply(params, windows).action
    got = out[:, pad:] if side == "left" else out[:, :n]
    np.testing.assert_allclose(got, short, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(predict_action(apply, params, windows), short[:, -1],
                               rtol=1e-5, atol=1e-5)
