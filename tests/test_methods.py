import dataclasses

import numpy as np
import pytest

from vamo_jax import methods
from vamo_jax.config import load_config
from vamo_jax.mtl import weighting
from vamo_jax.mtl.weighting.vamo_ablations import GREEDY_TEMPERATURE
from vamo_jax.train_config import TrainConfig

CONFIG = TrainConfig(steps=100, log_every=10, checkpoint_every=10, temperature=0.5, update_every=3,
                     normalize="val_norm", epoch_length=7)


def test_every_zoo_transform_is_a_method_and_every_method_builds():
    trained = {n for n in methods.names() if isinstance(methods.get(n), methods.Zoo)}
    # vamo, vamo_train and greedy train by the fast path; the zoo keeps their transforms for users.
    assert set(weighting.available()) - trained == {"vamo", "vamo_train", "greedy"}
    for name in methods.names():
        entry = methods.get(name)
        if isinstance(entry, methods.Zoo):
            assert entry.transform(3, CONFIG) is not None
        elif isinstance(entry, methods.Validated):
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
        dataclasses.replace(load_config("tiny"), train=TrainConfig(methods=("stl", "vamoo")))


def test_the_refresh_schedule_is_the_methods_own():
    every = {name: methods.get(name).refresh_every(CONFIG) for name in methods.names()}
    assert {name for name, n in every.items() if n is not None} == {"vamo", "vamo_train", "greedy", "vao",
                                                                     "vao_train"}
    assert all(n in (None, CONFIG.update_every) for n in every.values())  # share keeps its uniform weights


def test_task_models_repeat_a_shared_model_and_keep_stls_k_models():
    shared, separate = {"w": np.arange(6.0).reshape(2, 3)}, {"w": np.arange(12.0).reshape(2, 2, 3)}  # S = 2
    repeated = methods.get("equal").task_models(shared, 4)
    assert repeated["w"].shape == (2, 4, 3)
    np.testing.assert_array_equal(repeated["w"][1, 3], shared["w"][1])
    assert methods.get("stl").task_models(separate, 2) is separate
    assert [n for n in methods.names() if not methods.get(n).shares_model] == ["stl"]
