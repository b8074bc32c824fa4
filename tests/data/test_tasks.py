"""Learning tasks: the three campaign types, and K > 3 per-category sub-tasks of them."""

import dataclasses
import itertools

import jax
import numpy as np
import pytest

from tests.data.conftest import CONFIG
from vamo_jax.data import make_dataset, sample_task_batch, spec
from vamo_jax.data.config import DataConfig
from vamo_jax.data.tasks import (
    advertiser_tasks,
    task_channels,
    task_names,
    tasks_per_type,
)
from vamo_jax.sim.market import campaign_assignment
from vamo_jax.sim.params import EnvParams


def test_three_tasks_are_the_campaign_types():
    env = EnvParams()
    np.testing.assert_array_equal(advertiser_tasks(env, 3), campaign_assignment(env))
    np.testing.assert_array_equal(task_channels(env, 3), [0, 1, 2])
    assert task_names(env, 3) == spec.CAMPAIGN_NAMES


@pytest.mark.parametrize("num_advertisers,num_tasks", [(12, 4), (12, 6), (12, 12), (48, 8), (64, 32), (64, 64)])
def test_subtasks_partition_each_campaign_type_by_category(num_advertisers, num_tasks):
    env = EnvParams(num_advertisers=num_advertisers, num_categories=min(6, num_advertisers))
    tasks, channels = advertiser_tasks(env, num_tasks), task_channels(env, num_tasks)
    campaign = campaign_assignment(env)
    category = np.arange(num_advertisers) % env.num_categories
    assert channels.shape == (num_tasks,) and np.all(np.diff(channels) >= 0)  # type-major numbering
    np.testing.assert_array_equal(np.bincount(channels, minlength=3), tasks_per_type(env, num_tasks))
    np.testing.assert_array_equal(channels[tasks], campaign)  # a task keeps its advertisers' type
    sizes = np.bincount(tasks, minlength=num_tasks)
    assert sizes.min() >= 1
    for t in range(3):
        own = np.flatnonzero(channels == t)
        assert sizes[own].max() - sizes[own].min() <= 1  # near-equal groups
        for a, b in itertools.pairwise(own):  # groups are contiguous in (category, index) order
            last = max((category[n], n) for n in np.flatnonzero(tasks == a))
            first = min((category[n], n) for n in np.flatnonzero(tasks == b))
            assert last < first
    names = task_names(env, num_tasks)
    assert len(set(names)) == num_tasks and names[0] == "gmv.0"


def test_infeasible_task_counts_name_the_field():
    env = EnvParams(num_advertisers=12, num_categories=3, history_len=48)
    for bad in (2, 13):
        with pytest.raises(ValueError, match="num_tasks"):
            DataConfig(num_tasks=bad, env=env)
    no_cart = dataclasses.replace(env, campaign_mix=(0.5, 0.5, 0.0))
    with pytest.raises(ValueError, match="every campaign type"):
        DataConfig(num_tasks=4, env=no_cart)


def test_split_counts_are_shared_among_subtasks():
    config = dataclasses.replace(CONFIG, num_tasks=6)  # 12 advertisers: types get 3/2/1 tasks
    assert tasks_per_type(config.env, 6) == (3, 2, 1)
    assert config.per_task("train") == (2, 2, 2, 3, 3, 4)  # (6, 6, 4) per type
    assert dataclasses.replace(config, train_per_task=None).per_task("train") is None
    assert CONFIG.per_task("train") == CONFIG.train_per_task


def test_dataset_with_subtasks(dataset):
    config = dataclasses.replace(CONFIG, num_tasks=6)
    sub = make_dataset(config)
    channels, of_advertiser = task_channels(config.env, 6), advertiser_tasks(config.env, 6)
    np.testing.assert_array_equal(dataset.train.task, dataset.train.campaign)  # K = 3: the types
    for split_name in ("train", "val", "test"):
        split = sub.split(split_name)
        learning = np.asarray(split.task)
        np.testing.assert_array_equal(learning, of_advertiser[np.asarray(split.advertiser)])
        np.testing.assert_array_equal(np.asarray(split.campaign), channels[learning])
        assert np.all(np.diff(learning) >= 0)  # sorted by learning task: STL's contiguous rows
    np.testing.assert_array_equal(np.bincount(sub.train.task), config.per_task("train"))
    # The same market: the simulated arrays do not depend on how the tasks are cut.
    np.testing.assert_array_equal(sub.market, dataset.market)
    batch = sample_task_batch(jax.random.PRNGKey(0), sub.train, 4, 8, 4, sub.stats, config.env)
    assert np.all(np.asarray(batch.task) == 4)
    assert np.all(np.asarray(batch.requirement)[:, 3:] == np.eye(3)[1])  # task 4 is a Dir-GMV task


def test_a_market_of_one_campaign_type():
    # AuctionNet's one conversion type: every task is of that type, K = 3 included.
    env = EnvParams(num_advertisers=12, num_categories=3, history_len=48, campaign_mix=(0.0, 0.0, 1.0))
    for k in (1, 3, 4, 12):
        assert tasks_per_type(env, k) == (0, 0, k)
        np.testing.assert_array_equal(task_channels(env, k), np.full(k, 2))
        assert np.array_equal(np.bincount(advertiser_tasks(env, k), minlength=k) > 0, np.ones(k, bool))
    np.testing.assert_array_equal(advertiser_tasks(env, 3), np.arange(12) % 3)  # K = categories: by category
    with pytest.raises(ValueError, match="1 ≤ K ≤ env.num_advertisers=12"):
        DataConfig(num_tasks=13, env=env)
