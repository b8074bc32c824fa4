"""Per-task scoring of test-day rollouts (the part of `vamo_jax.evaluate` that needs no simulator)."""

import types

import numpy as np
import pytest

from vamo_jax.score import day_metrics

UNIT = np.array([1.0, 1.0, 1.0])


def per_task_metrics(values, costs, tasks, channels=(0, 1, 2)):
    """`day_metrics` with every constraint loose (target ROI 1e-6, target cost per cart 1e6): score = value."""
    tasks, campaign = np.asarray(tasks), np.asarray(channels)[np.asarray(tasks)]
    loose = np.where(campaign == 2, 1e6, 1e-6)
    return day_metrics(values, costs, loose, campaign, tasks, np.asarray(channels), UNIT)


def test_per_task_metrics_with_subtasks_by_hand():
    # 5 advertisers, 4 learning tasks: two GMV sub-tasks, one Dir-GMV, one CartCnt.
    tasks = np.array([0, 1, 1, 2, 3])
    channels = np.array([0, 0, 1, 2])
    values = np.array([[10.0, 4.0, 8.0, 3.0, 2.0]])
    costs = np.array([[5.0, 2.0, 2.0, 1.5, 4.0]])
    out = per_task_metrics(values, costs, tasks, channels)
    np.testing.assert_allclose(out["value"], [[10.0, 6.0, 3.0, 2.0]])
    np.testing.assert_allclose(out["score"], out["value"])
    np.testing.assert_allclose(out["violation_rate"], 0.0)
    np.testing.assert_allclose(out["cost"], [[5.0, 2.0, 1.5, 4.0]])
    # ROI = value / cost for GMV and Dir-GMV, cost per cart = cost / carts for CartCnt.
    np.testing.assert_allclose(out["online_ratio"], [[2.0, 12.0 / 4.0, 2.0, 4.0 / 2.0]])


def test_per_task_metrics_of_the_three_campaign_types():
    tasks = np.array([0, 1, 2, 0])
    values, costs = np.array([[1.0, 2.0, 3.0, 5.0]]), np.ones((1, 4))
    np.testing.assert_allclose(per_task_metrics(values, costs, tasks)["value"], [[3.0, 2.0, 3.0]])


def test_a_task_without_advertisers_is_refused():
    with pytest.raises(ValueError, match=r"tasks \[2\] have no advertiser"):
        per_task_metrics(np.ones((1, 2)), np.ones((1, 2)), np.array([0, 1]), np.array([0, 1, 2]))


def test_the_rollout_market_buffer_ends_with_the_simulators_history():
    """`market_before` and one push per tick keep, at tick t, the ticks whose newest H are the
    simulator's history window (the last H ticks before t, reaching into the previous day)."""
    import jax.numpy as jnp

    from vamo_jax.data.spec import history_windows
    from vamo_jax.evaluate import _push, market_before

    days, ticks, h, length, day = 3, 16, 20, 40, 2
    series = np.random.default_rng(0).normal(size=(days * ticks, 3)).astype(np.float32)
    logs = types.SimpleNamespace(market=series.reshape(1, days, ticks, 3))
    buffer = jnp.asarray(market_before(logs, day, length))
    assert buffer.shape == (length, 3)
    for t in range(5):
        history = series[day * ticks + t - h: day * ticks + t]  # the simulator's obs.history
        buffer = _push(buffer, jnp.asarray(history[-1]))
        window = history_windows(buffer[None], jnp.array([[length - 1]]), h)[0, 0]
        np.testing.assert_array_equal(window, history)


def test_market_before_pads_short_logs_with_zeros():
    from vamo_jax.evaluate import market_before

    series = np.arange(2 * 4 * 1, dtype=np.float32).reshape(1, 2, 4, 1) + 1
    out = market_before(types.SimpleNamespace(market=series), 1, 6)
    np.testing.assert_array_equal(out[:, 0], [0, 0, 0, 1, 2, 3])


def test_the_best_fixed_multiplier_is_chosen_per_advertiser_and_draw_by_its_score():
    from configs import tiny
    from vamo_jax.data.tasks import advertiser_tasks
    from vamo_jax.run import hindsight_metrics
    from vamo_jax.sim.market import campaign_assignment

    config = tiny.get_config()
    n, tasks = config.data.env.num_advertisers, advertiser_tasks(config.data.env, config.data.num_tasks)
    # multiplier 0 earns 3 at no cost (score 3); multiplier 1 earns 10, at no cost for odd
    # advertisers (score 10) but at a cost of 1e6 for even ones (constraint ratio ~1e-5: score ~0);
    # in a second market the parities swap (each market chooses on its own scores).
    odd = np.arange(n) % 2 == 1
    values = np.stack([np.full(n, 3.0), np.full(n, 10.0)])[:, None]  # (G=2, D=1, N)
    costs = [np.stack([np.zeros(n), np.where(parity, 0.0, 1e6)])[:, None] for parity in (odd, ~odd)]
    advertisers = (np.ones((2, 1, n)), campaign_assignment(config.data.env), tasks)  # constraint, campaign, task
    metrics = hindsight_metrics(config, advertisers, np.stack([values, values]), np.stack(costs))
    for market, parity in enumerate((odd, ~odd)):
        chosen = np.where(parity, 10.0, 3.0)
        expected = [chosen[tasks == k].mean() for k in range(config.data.num_tasks)]
        np.testing.assert_allclose(metrics["value"][market, :, 0], expected)
        np.testing.assert_allclose(metrics["score"][market, :, 0], expected)
        np.testing.assert_allclose(metrics["violation_rate"][market, :, 0], 0.0)


def test_traffic_draw_0_is_the_logged_day_and_the_others_are_distinct_and_fixed():
    import jax

    from vamo_jax.evaluate import traffic_keys

    logged = jax.random.key_data(jax.random.key(7))
    sim_keys = np.zeros((1, 11, 2), np.uint32)
    sim_keys[0, 10] = np.asarray(logged)
    data = types.SimpleNamespace(sim_keys=sim_keys)
    keys = np.asarray(traffic_keys(data, 10, 4))
    assert keys.shape == (4, 2) and np.array_equal(keys[0], logged)
    assert len({tuple(k) for k in keys}) == 4
    np.testing.assert_array_equal(keys, np.asarray(traffic_keys(data, 10, 4)))
    np.testing.assert_array_equal(np.asarray(traffic_keys(data, 10, 2)), keys[:2])  # more draws extend, never reshuffle


def test_task_targets_take_one_quantile_for_every_task_or_one_per_task():
    from vamo_jax.evaluate import task_targets

    returns = np.array([[1.0], [3.0], [10.0], [20.0], [30.0], [5.0]])  # first return-to-go of each trajectory
    train = types.SimpleNamespace(returns_to_go=returns, task=np.array([0, 0, 1, 1, 1, 2]))
    data = types.SimpleNamespace(train=train, config=types.SimpleNamespace(num_tasks=3))
    np.testing.assert_allclose(task_targets(data, 0.5), [2.0, 20.0, 5.0])
    np.testing.assert_allclose(task_targets(data, (0.0, 1.0, 0.5)), [1.0, 30.0, 5.0])
    with pytest.raises(ValueError, match=r"eval.target_quantile: 2 quantiles for 3 tasks; give one for every task"):
        task_targets(data, (0.5, 0.9))


def test_a_config_with_a_quantile_count_other_than_1_or_k_is_refused_when_built():
    import dataclasses

    from vamo_jax.config import load_config

    config = load_config("tiny")
    assert dataclasses.replace(config, eval=dataclasses.replace(config.eval, target_quantile=(0.5, 0.7, 0.9)))
    with pytest.raises(ValueError, match=r"eval.target_quantile: 2 quantiles for 3 tasks"):
        dataclasses.replace(config, eval=dataclasses.replace(config.eval, target_quantile=(0.5, 0.9)))


def test_the_rollouts_window_is_the_training_window_of_the_same_logged_trajectory():
    """The evaluator builds the model's input online (`_initial_context`, `_observe`,
    `_context_batch`); fed a logged trajectory's own observations tick by tick, with its realised
    return as the target, its window at every tick is the training window ending there
    (`batching.windows_ending`): the same normalised states, returns-to-go, timesteps, mask,
    requirement and past actions. (The market buffer: the test above.)"""
    import jax.numpy as jnp

    from vamo_jax import evaluate
    from vamo_jax.data.batching import windows_ending
    from vamo_jax.data.dataset import NormStats, Split
    from vamo_jax.data.spec import HISTORY_FEATURES, NUM_VALUE_CHANNELS, STATE_DIM
    from vamo_jax.sim.env import requirement
    from vamo_jax.sim.params import EnvParams

    env, rng = EnvParams(), np.random.default_rng(0)
    t_total, context, campaign, budget, constraint = 7, 3, 2, 50.0, 4.0
    unit = np.asarray(env.unit_value, np.float32)
    raw = rng.uniform(0.0, 3.0, (t_total, NUM_VALUE_CHANNELS)).astype(np.float32)  # values won per tick
    own = raw[:, campaign] * unit[campaign] / budget
    states = rng.normal(size=(t_total, STATE_DIM)).astype(np.float32)
    actions = rng.uniform(0.5, 2.0, t_total).astype(np.float32)
    one = lambda x, dtype=np.float32: np.asarray([x], dtype)  # noqa: E731  (M = 1 trajectory)
    split = Split(states=states[None], next_states=np.zeros_like(states)[None], actions=actions[None],
                  rewards=raw[None], rewards_continuous=raw[None], returns_to_go=np.cumsum(own[::-1])[::-1][None],
                  cost=np.zeros((1, t_total), np.float32), remaining=np.zeros((1, t_total), np.float32),
                  budget=one(budget), constraint=one(constraint), campaign=one(campaign, np.int32),
                  task=one(campaign, np.int32), day=one(1, np.int32), episode=one(0, np.int32),
                  advertiser=one(0, np.int32), category=one(0, np.int32),
                  market=np.zeros((1, 2, t_total, HISTORY_FEATURES), np.float32))
    stats = NormStats(state_mean=rng.normal(size=STATE_DIM).astype(np.float32),
                      state_std=rng.uniform(0.5, 2.0, STATE_DIM).astype(np.float32),
                      return_scale=np.float32(0.7), budget_scale=np.float32(40.0))
    replay = evaluate._Replay(stats=stats, unit=jnp.asarray(unit), task=jnp.asarray([campaign]),
                              market=jnp.zeros((4, HISTORY_FEATURES)), inputs={})
    target = jnp.float32(split.returns_to_go[0, 0])
    ctx = evaluate._initial_context(replay, context, target, jnp.asarray(0))
    for t in range(t_total):
        obs = types.SimpleNamespace(
            campaign=jnp.asarray([campaign]), requirement=requirement(jnp.zeros(1), one(budget), one(constraint),
                                                                      one(campaign, np.int32)),
            last_reward=jnp.asarray(raw[t - 1] if t else np.zeros(NUM_VALUE_CHANNELS, np.float32))[None],
            state=jnp.asarray(states[t])[None], tick=jnp.asarray(t), history=jnp.zeros((4, HISTORY_FEATURES)))
        ctx = evaluate._observe(replay, ctx, obs)
        rollout = evaluate._context_batch(replay, ctx, obs)
        training = windows_ending(split, jnp.asarray([0]), jnp.asarray([t]), context, stats, env)
        for field in ("states", "returns_to_go", "timesteps", "mask", "requirement", "task"):
            np.testing.assert_allclose(getattr(rollout, field), getattr(training, field), rtol=1e-5, atol=1e-6,
                                       err_msg=f"{field} at tick {t}")
        np.testing.assert_allclose(rollout.actions[:, :-1], training.actions[:, :-1], err_msg=f"actions at tick {t}")
        ctx = ctx._replace(actions=ctx.actions.at[-1].set(actions[t]))  # the action taken, as `_policy_fn` does
