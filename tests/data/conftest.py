import pytest

from vamo_jax.data import get_preset, make_dataset

CONFIG = get_preset("tiny")


@pytest.fixture(scope="session")
def dataset():
    return make_dataset(CONFIG)
