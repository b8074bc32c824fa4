import dataclasses
from typing import Literal

import pytest

from vamo_jax.config import ConfigError, apply_overrides, available_configs, fingerprint, load_config, parse_value


@dataclasses.dataclass(frozen=True)
class Inner:
    steps: int = 10
    rate: float = 0.1
    mode: Literal["a", "b"] = "a"
    norm: str | None = None
    names: tuple[str, ...] = ("x",)
    flag: bool = False

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError("steps must be ≥ 1")


@dataclasses.dataclass(frozen=True)
class Outer:
    inner: Inner = Inner()
    seed: int = 0


def test_overrides_parse_by_declared_type():
    c = apply_overrides(Outer(), ["inner.steps=5", "inner.rate=1e-3", "inner.mode=b", "inner.norm=none",
                                  "inner.names=stl,equal,vamo", "inner.flag=true", "seed=3"])
    assert c == Outer(Inner(5, 1e-3, "b", None, ("stl", "equal", "vamo"), True), 3)
    assert apply_overrides(Outer(), ["inner.norm=cosine"]).inner.norm == "cosine"


@pytest.mark.parametrize(
    "override, match",
    [
        ("inner.stepz=3", r"unknown config key 'inner.stepz'.*valid: flag, mode, names, norm, rate, steps"),
        ("inner.steps=abc", "is not an int"),
        ("inner.mode=c", "valid: a, b"),
        ("inner.flag=maybe", "not a bool"),
        ("inner=3", "is a section"),
        ("seed.x=1", "is a value, not a section"),
        ("inner.steps", "must look like key.sub=value"),
        ("inner.steps=0", r"inner.steps='0': steps must be ≥ 1"),
    ],
)
def test_bad_overrides_are_refused_with_the_fix(override, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides(Outer(), [override])


def test_fingerprint_ignores_named_fields_only():
    a, b = Outer(), apply_overrides(Outer(), ["inner.flag=true"])
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(a, ignore=("inner.flag",)) == fingerprint(b, ignore=("inner.flag",))
    assert parse_value("1,2", tuple[int, int], "k") == (1, 2)


@dataclasses.dataclass(frozen=True)
class Linked:
    steps: int = 10
    every: int = 5

    def __post_init__(self):
        if self.steps % self.every:
            raise ValueError("steps must be a multiple of every")


def test_interdependent_fields_are_validated_after_all_overrides():
    assert apply_overrides(Linked(), ["steps=9", "every=3"]) == Linked(9, 3)
    with pytest.raises(ConfigError, match="steps='9'.*multiple of every"):
        apply_overrides(Linked(), ["steps=9"])


@pytest.mark.parametrize("name", available_configs())
def test_every_config_loads_with_every_arm_valid(name):
    assert all(arm.train.methods for _, arm in load_config(name).arms())  # each arm's config is built and validated


def test_many_seeds_is_the_main_job_with_more_seeds_and_three_methods():
    main, many = load_config("sim"), load_config("many_seeds")
    assert many.train.num_seeds == 36 and many.train.methods == ("stl", "equal", "vamo")
    same = dataclasses.replace(many, name="sim", train=dataclasses.replace(many.train, num_seeds=main.train.num_seeds,
                                                                          methods=main.train.methods))
    assert same == main
