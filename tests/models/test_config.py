import pytest

from vamo_jax.models import ModelConfig


def test_defaults_are_valid_and_hashable():
    config = ModelConfig()
    assert config.periods == (96, 48, 24) and config.history_len == 192
    assert hash(config) == hash(ModelConfig())


def test_lists_become_tuples():
    config = ModelConfig(periods=[96, 24], kernel_sizes=[1, 3])
    assert config.periods == (96, 24) and config.kernel_sizes == (1, 3)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(temporal="rnn"), "ModelConfig.temporal must be one of ('timesnet', 'lstm', 'none')"),
        (dict(heads="mixture"), "ModelConfig.heads must be one of ('shared', 'per_task')"),
        (dict(mode="reward"), "ModelConfig.mode must be one of ('action', 'next_state')"),
        (dict(embed_dim=0), "ModelConfig.embed_dim must be a positive int"),
        (dict(depth=2.0), "ModelConfig.depth must be a positive int"),
        (dict(num_heads=3), "ModelConfig.num_heads=3 must divide ModelConfig.embed_dim=32"),
        (dict(film="yes"), "ModelConfig.film must be True or False"),
        (dict(periods=()), "ModelConfig.periods must be a non-empty tuple"),
        (dict(periods=(96, 384)), "ModelConfig.periods [384] outside [2, history_len=192]"),
        (dict(periods=(96, 90)), "ModelConfig.periods 96 and 90 both read frequency 2"),
        (dict(periods=(96, 2), kernel_sizes=(1, 7)), "ModelConfig.periods [2] shorter than max(kernel_sizes) // 2 = 3"),
        (dict(kernel_sizes=(1, 4)), "ModelConfig.kernel_sizes must be a non-empty tuple of odd"),
    ],
)
def test_bad_values_name_the_field(overrides, message):
    with pytest.raises(ValueError) as error:
        ModelConfig(**overrides)
    assert message in str(error.value)
