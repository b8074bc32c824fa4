"""Tiny models shared by the model tests: one compiled init/apply per config for the whole session."""

from __future__ import annotations

import functools

import jax
import pytest

from vamo_jax.data.spec import synthetic_batch
from vamo_jax.models import ModelConfig, make_policy

B, C, H = 4, 8, 32
TINY = dict(embed_dim=16, depth=2, num_heads=2, context_len=C, history_len=H,
            periods=(16, 8), timesnet_width=4, kernel_sizes=(1, 3), head_hidden=8)


def tiny_config(**overrides) -> ModelConfig:
    return ModelConfig(**{**TINY, **overrides})


@functools.lru_cache(maxsize=None)
def compiled(config: ModelConfig):
    """(model, params, jitted apply) of `config`, initialised on the shared batch."""
    model = make_policy(config)
    params = jax.jit(model.init)(key(1), make_batch())
    return model, params, jax.jit(model.apply)


def key(seed: int):
    """An RBG key: XLA:CPU compiles its random bits about twice as fast as threefry's."""
    return jax.random.key(seed, impl="rbg")


def make_batch(seed: int = 0):
    return _synthetic_batch(key(seed), B, C)


_synthetic_batch = jax.jit(synthetic_batch, static_argnums=(1, 2))


@pytest.fixture(scope="session")
def batch():
    return make_batch()
