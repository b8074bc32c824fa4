"""Configs: frozen dataclasses written in Python files under `configs/`, loaded by name.

`configs/NAME.py` defines `get_config() -> Config`. `load_config(NAME, overrides)` loads it and
applies `a.b=value` overrides: the value is parsed for the field's declared type, and an unknown
key or a value of the wrong type is refused with the valid choices listed.

Each section's dataclass lives in a config module of its own (`data/config.py`,
`models/config.py`, `train_config.py`, `eval_config.py`); reading a config imports no model,
trainer or evaluator. An experiment is a config: its arms are `Variant`s in `config.sweep`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import pkgutil
import re
import types
import typing
from typing import Any

from vamo_jax import methods
from vamo_jax.data.config import DataConfig
from vamo_jax.eval_config import EvalConfig, per_task_quantiles
from vamo_jax.models.config import ModelConfig
from vamo_jax.train_config import TrainConfig


EXPERIMENTS = ("sweep", "many_tasks")
"""The experiments a config can name (`Config.experiment`)."""


@dataclasses.dataclass(frozen=True)
class Variant:
    """One arm of an experiment: a row label and `--set`-style overrides of the base config.

    A variant that trains several methods gives one row per method, labelled `method` when
    `name` is empty and `name: method` otherwise.
    """

    name: str
    overrides: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        """The arm's sub-workdir: the label with anything but letters, digits, `.` and `-` as `_`."""
        return re.sub(r"[^A-Za-z0-9.\-]+", "_", self.name).strip("_") or "all"

    def config(self, base: "Config") -> "Config":
        return apply_overrides(base, self.overrides)

    def label(self, method: str, num_methods: int) -> str:
        if not self.name:
            return method
        return self.name if num_methods == 1 else f"{self.name}: {method}"


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """The arms of an experiment.

    Attributes:
      variants: the arms, in table order; () runs the base config once, every method of
        `train.methods` a row (the main job).
      shared_baseline: train STL on the base config once (arm `stl`) as every row's baseline;
        False when the arms train STL themselves (or no arm does: the first row is the baseline).
      title: the results table's title ("" for the default).
    """

    variants: tuple[Variant, ...] = ()
    shared_baseline: bool = True
    title: str = ""

    def __post_init__(self):
        folders = [v.folder for v in self.variants]
        if len(set(folders)) != len(folders):
            raise ValueError(f"sweep.variants: two arms share a folder name: {folders}; name them apart.")


@dataclasses.dataclass(frozen=True)
class Config:
    """One experiment: what data, what model, how to train, how to evaluate, which arms.

    Attributes:
      name: the config's name (its file in configs/).
      data, model, train, eval: the sections (`DataConfig`, `ModelConfig`, `TrainConfig`,
        `EvalConfig`).
      sweep: the arms (`SweepConfig`; none: the base config once).
      experiment: how its arms are read (`EXPERIMENTS`, run by `vamo_jax.experiments`): "sweep"
        (every arm into one table and its figures, `vamo_jax.run`), or one that adds a reading of
        its own ("many_tasks": Δm% against K).
    """

    name: str
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    eval: EvalConfig
    sweep: SweepConfig = SweepConfig()
    experiment: str = "sweep"

    def __post_init__(self):
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"experiment: unknown {self.experiment!r}; use {' or '.join(EXPERIMENTS)}.")
        per_task_quantiles(self.eval.target_quantile, self.data.num_tasks)  # raises naming the field
        for name in self.train.methods:
            methods.get(name)  # raises naming train.methods and the valid names
        for field, value, other, expected in (
                ("model.num_tasks", self.model.num_tasks, "data.num_tasks", self.data.num_tasks),
                ("model.history_len", self.model.history_len, "data.env.history_len", self.data.env.history_len),
                ("model.max_timestep", self.model.max_timestep, "data.env.ticks_per_day", self.data.env.ticks_per_day)):
            if value != expected:
                raise ValueError(f"{field}={value} must equal {other}={expected}; set {field}={expected}.")

    def arms(self) -> list[tuple[Variant, "Config"]]:
        """Every arm with its config, the shared STL baseline first; all validated before any training."""
        variants = list(self.sweep.variants) or [Variant("")]
        if self.sweep.variants and self.sweep.shared_baseline:
            variants.insert(0, Variant("stl", ("train.methods=stl",)))
        return [(v, v.config(self)) for v in variants]


class ConfigError(ValueError):
    """A config name, key or value that cannot be used; the message says how to fix it."""


def available_configs() -> list[str]:
    import configs

    return sorted(m.name for m in pkgutil.iter_modules(configs.__path__) if not m.name.startswith("_"))


def load_config(name: str, overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """The config `configs/<name>.py:get_config()` with `a.b=value` overrides applied."""
    choices = available_configs()
    if name not in choices:
        raise ConfigError(f"unknown config {name!r}; available: {', '.join(choices)}.")
    config = importlib.import_module(f"configs.{name}").get_config()
    return apply_overrides(config, overrides)


def apply_overrides(config: Any, overrides: list[str] | tuple[str, ...]) -> Any:
    """Applies every `a.b=value` at once: each section is rebuilt (and validated) one time."""
    changes: dict = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value (e.g. train.steps=200).")
        key, raw = (part.strip() for part in item.split("=", 1))
        _collect(config, key.split("."), raw, key, changes)
    return _rebuild(config, changes, "")


def _collect(node: Any, path: list[str], raw: str, full_key: str, changes: dict) -> None:
    fields = {f.name: f for f in dataclasses.fields(node)}
    head = path[0]
    if head not in fields:
        raise ConfigError(
            f"unknown config key {full_key!r}: {type(node).__name__} has no field {head!r}; "
            f"valid: {', '.join(sorted(fields))}."
        )
    current = getattr(node, head)
    if len(path) > 1:
        if not dataclasses.is_dataclass(current):
            raise ConfigError(f"config key {full_key!r}: {head!r} is a value, not a section.")
        _collect(current, path[1:], raw, full_key, changes.setdefault(head, {}))
        return
    if dataclasses.is_dataclass(current):
        sub = ", ".join(f"{head}.{f.name}" for f in dataclasses.fields(current))
        raise ConfigError(f"config key {full_key!r} is a section; set one of its fields: {sub}.")
    changes[head] = (parse_value(raw, typing.get_type_hints(type(node))[head], full_key), f"{full_key}={raw!r}")


def _rebuild(node: Any, changes: dict, prefix: str) -> Any:
    values, given = {}, []
    for name, change in changes.items():
        if isinstance(change, dict):
            values[name] = _rebuild(getattr(node, name), change, f"{prefix}{name}.")
        else:
            values[name], text = change
            given.append(text)
    try:
        return dataclasses.replace(node, **values)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{', '.join(given) or prefix.rstrip('.')}: {err}") from None


def parse_value(raw: str, annotation: Any, key: str) -> Any:
    """Parses `raw` as a value of type `annotation` (bool, int, float, str, None, Literal, tuple)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if raw.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return parse_value(raw, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{key}={raw!r} fits none of {annotation}: " + " | ".join(errors))
    if origin is typing.Literal:
        for choice in args:
            if str(choice) == raw:
                return choice
        raise ConfigError(f"{key}={raw!r} is not a valid choice; valid: {', '.join(map(str, args))}.")
    if origin is tuple:
        items = [s.strip() for s in raw.strip("()[] ").split(",") if s.strip()]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(parse_value(s, args[0], key) for s in items)
        if len(items) != len(args):
            raise ConfigError(f"{key}={raw!r}: expected {len(args)} comma-separated values.")
        return tuple(parse_value(s, a, key) for s, a in zip(items, args))
    if annotation is bool:
        if raw.lower() in ("true", "1", "yes", "on"):
            return True
        if raw.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}={raw!r} is not a bool; use true or false.")
    if annotation is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r} is not an int.") from None
    if annotation is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{key}={raw!r} is not a float.") from None
    if annotation is str:
        return raw
    raise ConfigError(f"{key}: cannot set a field of type {annotation} from the command line.")


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def fingerprint(config: Any, ignore: tuple[str, ...] = ()) -> str:
    """A stable hash of the config's values (fields named in `ignore`, dotted, left out)."""
    data = to_dict(config)
    for dotted in ignore:
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.get(p, {})
        node.pop(leaf, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]
