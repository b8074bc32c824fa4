"""The bidding problem's guard: data that cannot train is refused, naming split, field and trajectory."""

import numpy as np
import pytest

from vamo_jax.bidding import check_compatible
from vamo_jax.config import load_config
from tests.data.conftest import dataset  # noqa: F401  (the tiny config's data, shared fixture)


def test_one_non_finite_value_is_named_by_split_field_and_trajectory(dataset):  # noqa: F811
    rewards = np.array(dataset.train.rewards)
    rewards[2, 5, 0] = np.nan  # one cell of one tick of trajectory 2
    poisoned = dataset.__class__(**{**dataset.__dict__, "train": dataset.train.replace(rewards=rewards)})
    e, d, a = (int(np.asarray(getattr(dataset.train, f))[2]) for f in ("episode", "day", "advertiser"))
    with pytest.raises(ValueError, match=rf"data split 'train': rewards holds NaN/Inf \(1 trajectory\(ies\); the "
                                         rf"first is trajectory 2: episode {e}, day {d}, advertiser {a}\)"):
        check_compatible(poisoned, load_config("tiny").model)
