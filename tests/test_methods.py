import numpy as np
import pytest

from vamo_jax import methods
from vamo_jax.methods import Kind
from vamo_jax.mtl import weighting
from vamo_jax.mtl.weighting.vamo_ablations import GREEDY_TEMPERATURE
from vamo_jax.train_config import TrainConfig

CONFIG = TrainConfig(steps=100, log_every=10, checkpoint_every=10, temperature=0.5, update_every=3,
                     normalize="val_norm", epoch_length=7)


def test_every_zoo_transform_is_a_method_and_every_method_builds():
    trained = {methods.get(n).weighting for n in methods.names()}
    # vamo, vamo_train and greedy train by the fast path; the zoo keeps their transforms for users.
    assert set(weighting.available()) - trained == {"vamo", "vamo_train", "greedy"}
    for name in methods.names():
        entry = methods.get(name)
        if entry.kind in (Kind.LOSS_WEIGHTED, Kind.EXPLICIT):
            assert entry.transform(3, CONFIG) is not None
        elif entry.kind is Kind.ALIGNED:
            assert entry.hyperparams(3, CONFIG).num_tasks == 3


def test_aligned_methods_take_their_settings_from_the_config():
    hp = {m: methods.get(m).hyperparams(3, CONFIG) for m in ("vamo", "vamo_train", "greedy")}
    assert (hp["vamo"].alignment, hp["vamo_train"].alignment, hp["greedy"].alignment) == (
        "validation", "train", "validation")
    assert hp["vamo"].temperature == 0.5 and hp["greedy"].temperature == GREEDY_TEMPERATURE
    assert all(h.update_every == 3 and h.normalize == "val_norm" for h in hp.values())


def test_dwa_takes_the_epoch_length_from_the_config():
    dwa = methods.get("dwa")
    assert dwa.options(CONFIG) == {"epoch_length": 7}
    assert dwa.transform(3, CONFIG).init(None).weights.shape == (3,)


def test_temperature_schedule_and_entropy_target_reach_the_hyperparams():
    decaying = methods.get("vamo").hyperparams(3, TrainConfig(temperature=1.0, temperature_end=0.01, steps=100))
    np.testing.assert_allclose([decaying.temperature_at(0), decaying.temperature_at(100)], [1.0, 0.01], rtol=1e-5)
    assert methods.get("vamo").hyperparams(3, TrainConfig(target_entropy=0.5)).target_entropy == 0.5


def test_unknown_method_names_the_field_and_the_valid_names():
    with pytest.raises(ValueError, match=r"train.methods: unknown method 'vamoo'; valid: stl, equal, .*vamo"):
        methods.get("vamoo")
    with pytest.raises(ValueError, match=r"train.methods: unknown method 'vamoo'"):
        TrainConfig(methods=("stl", "vamoo"))


def test_a_method_of_the_wrong_kind_refuses_the_wrong_builder():
    with pytest.raises(ValueError, match="not an aligned or cross-task method"):
        methods.get("equal").hyperparams(3, CONFIG)
    with pytest.raises(ValueError, match="no weighting transform"):
        methods.get("stl").transform(3, CONFIG)
