import pytest

from vamo_jax.config import load_config
from vamo_jax.data import make_dataset

# The tiny config's data: shared with the end-to-end tests, so the simulator compiles once.
CONFIG = load_config("tiny").data


@pytest.fixture(scope="session")
def dataset():
    return make_dataset(CONFIG)
