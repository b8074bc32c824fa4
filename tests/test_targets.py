"""Targets chosen on day 9: the view holds no day after it, so changing day 10's logs changes nothing."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vamo_jax.data import make_dataset
from vamo_jax.data.tasks import advertiser_tasks, task_channels
from vamo_jax.score import day_metrics
from vamo_jax.sim import simulate_day
from vamo_jax.targets import TARGET_QUANTILES, candidate_targets, choose_targets, validation_scorer, validation_view
from tests.data.conftest import CONFIG


@pytest.fixture(scope="module")
def dataset():
    return make_dataset(CONFIG)


@functools.partial(jax.jit, static_argnames="params")
def _replay_at(targets, tasks, **inputs):
    """Own-task values and costs (N,) of the replayed day, every advertiser bidding its task's target."""
    def policy(obs, state, key):
        return targets[tasks], state

    t, _, _ = simulate_day(policy_fn=policy, policy_state=(), controlled_mask=jnp.ones(tasks.shape, bool), **inputs)
    return t.value_continuous[jnp.arange(tasks.shape[0]), t.campaign], t.cost


def fixed_bid_score(view):
    """A target-conditioned scorer built on the view alone: every advertiser bids its task's target
    as a fixed multiplier on the replayed validation day; returns targets (K,) -> (K,) scores."""
    env, k_total = view.config.env, view.config.num_tasks
    inputs = view.eval_inputs(view.config.val_day)
    tasks = advertiser_tasks(env, k_total)
    world = view.world

    def score(targets):
        values, costs = _replay_at(jnp.asarray(targets), jnp.asarray(tasks), **inputs)
        return day_metrics(np.asarray(values), np.asarray(costs), np.asarray(world.constraint),
                           np.asarray(world.campaign), tasks, task_channels(env, k_total), env.unit_value)["score"]

    return score


def with_day_changed(dataset, day):
    """The data set with every record of `day` replaced by other numbers (and its split's)."""
    rng = np.random.default_rng(day)
    market = dataset.market.copy()
    market[:, day] = rng.normal(size=market[:, day].shape)
    keys = dataset.sim_keys.copy()
    keys[:, day] = rng.integers(0, 2**32, size=keys[:, day].shape, dtype=np.uint32)
    behaviour = jax.tree.map(lambda x: np.asarray(x).copy(), dataset.behaviour)
    behaviour = behaviour.replace(alpha=behaviour.alpha.copy())
    behaviour.alpha[:, day] *= 2.0
    regime = np.asarray(dataset.world.regime).copy()
    regime[day] += 1.0
    changed = dict(market=market, sim_keys=keys, behaviour=behaviour, world=dataset.world.replace(regime=regime))
    if day == dataset.config.test_day:
        test = dataset.test.replace(rewards=np.asarray(dataset.test.rewards) * 3.0,
                                    returns_to_go=np.asarray(dataset.test.returns_to_go) + 1.0)
        changed["test"] = test
    return dataclasses.replace(dataset, **changed)


def test_the_view_holds_nothing_of_day_10_and_the_targets_do_not_move_with_it(dataset):
    view = validation_view(dataset)
    changed_view = validation_view(with_day_changed(dataset, dataset.config.test_day))
    for a, b in zip(jax.tree.leaves((view.train, view.val, view.test, view.market, view.sim_keys, view.behaviour,
                                     view.world)),
                    jax.tree.leaves((changed_view.train, changed_view.val, changed_view.test, changed_view.market,
                                     changed_view.sim_keys, changed_view.behaviour, changed_view.world))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    choice = choose_targets(view, fixed_bid_score(view))
    again = choose_targets(changed_view, fixed_bid_score(changed_view))
    np.testing.assert_array_equal(choice.targets, again.targets)
    np.testing.assert_array_equal(choice.curve, again.curve)
    assert choice.day == dataset.config.val_day and choice.curve.shape == (len(TARGET_QUANTILES), CONFIG.num_tasks)
    # The scorer does read day 9: changing day 9 moves the curve (so the check above can fail).
    moved = validation_view(with_day_changed(dataset, dataset.config.val_day))
    assert not np.array_equal(choose_targets(moved, fixed_bid_score(moved)).curve, choice.curve)


def test_the_view_refuses_day_10_and_the_choosers_refuse_the_full_data_set(dataset):
    view = validation_view(dataset)
    with pytest.raises((ValueError, IndexError)):
        view.eval_inputs(dataset.config.test_day)
    for fn in (lambda d: candidate_targets(d), lambda d: choose_targets(d, lambda t: t),
               lambda d: validation_scorer(d, None, None)):
        with pytest.raises(ValueError, match="validation_view"):
            fn(dataset)


def test_each_task_takes_its_best_candidate_by_hand(dataset):
    view = validation_view(dataset)
    candidates = candidate_targets(view)
    returns, tasks = np.asarray(dataset.train.returns_to_go)[:, 0], np.asarray(dataset.train.task)
    for k in range(CONFIG.num_tasks):  # the candidates are the training returns' quantiles
        np.testing.assert_allclose(candidates[:, k], np.quantile(returns[tasks == k], TARGET_QUANTILES), rtol=1e-6)
    best = np.array([1, 4, 7])  # a score peaked at a different grid point for every task
    peak = candidates[best, np.arange(3)]
    choice = choose_targets(view, lambda t: -(np.asarray(t) - peak) ** 2)
    np.testing.assert_array_equal(choice.targets, peak)
    np.testing.assert_array_equal(choice.quantiles, np.asarray(TARGET_QUANTILES)[best])
    record = choice.record()
    assert record["chosen_on_day"] == 9 and len(record["day_curve"]) == len(TARGET_QUANTILES)
