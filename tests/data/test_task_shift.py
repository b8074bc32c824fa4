"""The data sets under the task-shift axis: the training days are those of s = 0, the later days move."""

import dataclasses

import numpy as np
import pytest

from vamo_jax.data import make_dataset
from vamo_jax.data.config import DataConfig
from tests.data.conftest import CONFIG


def test_shift_leaves_the_training_days_and_moves_the_validation_and_test_days(dataset):
    shifted = make_dataset(dataclasses.replace(CONFIG, task_shift=0.5))
    for field in ("states", "actions", "rewards", "cost"):
        np.testing.assert_array_equal(getattr(shifted.train, field), getattr(dataset.train, field))
    for split in ("val", "test"):
        cart = np.asarray(dataset.split(split).campaign) == 2
        assert not np.array_equal(np.asarray(shifted.split(split).rewards_continuous)[cart],
                                  np.asarray(dataset.split(split).rewards_continuous)[cart])
    onset = CONFIG.shift_onset
    assert onset == max(CONFIG.train_days) + 1 == CONFIG.val_day
    np.testing.assert_array_equal(np.asarray(shifted.world.regime)[:onset], np.asarray(dataset.world.regime)[:onset])


def test_negative_or_infinite_shift_is_refused():
    for bad in (-0.1, float("inf")):
        with pytest.raises(ValueError, match="task_shift"):
            DataConfig(task_shift=bad)
