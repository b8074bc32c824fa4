import pytest

from vamo_jax.config import ConfigError, apply_overrides
from vamo_jax.eval_config import EvalConfig


def test_beta_defaults_to_auctionnets_and_is_validated():
    assert EvalConfig().beta == 2.0 and EvalConfig(beta=0.0).beta == 0.0
    assert apply_overrides(EvalConfig(), ["beta=3"]).beta == 3.0
    for bad in (-0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="eval.beta must be a finite number ≥ 0"):
            EvalConfig(beta=bad)
    with pytest.raises(ConfigError, match="eval.beta"):
        apply_overrides(EvalConfig(), ["beta=-1"])
