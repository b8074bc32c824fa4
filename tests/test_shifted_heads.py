"""The non-auction example runs; every method's exactness through the entry point is tests/mtl/test_gradient.py's."""

import numpy as np
import pytest

from vamo_jax import mtl
from vamo_jax.examples.shifted_heads import NUM_TASKS, ShiftedConfig, train

CONFIG = ShiftedConfig(train_per_task=16, val_per_task=4, test_per_task=16, steps=8, width=8, learning_rate=3e-2)


@pytest.mark.parametrize("name", ["equal", "famo", "mgda", "vamo"])  # every path: loss-weighted, explicit, fast
def test_the_example_trains_through_the_one_entry_point(name):
    assert mtl.gradient_method(name, NUM_TASKS).path in ("loss_weighted", "explicit", "fast")
    result = train(CONFIG, name)
    assert np.all(np.isfinite(result.test_losses)) and result.weights.shape == (NUM_TASKS,)
    assert np.sum(result.train_losses) < np.sum(result.initial_train_losses)
