"""Configs: frozen dataclasses written in Python files under `configs/`, loaded by name.

`configs/NAME.py` defines `get_config() -> Config`. `load_config(NAME, overrides)` loads it and
applies `a.b=value` overrides: the value is parsed for the field's declared type, and an unknown
key or a value of the wrong type is refused with the valid choices listed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import pkgutil
import types
import typing
from typing import Any

from vamo_jax.data.config import DataConfig
from vamo_jax.eval_config import EvalConfig
from vamo_jax.models.config import ModelConfig
from vamo_jax.train_config import TrainConfig


@dataclasses.dataclass(frozen=True)
class Config:
    """One experiment: what data, what model, how to train, how to evaluate.

    Attributes:
      name: the config's name (its file in configs/).
      experiment: the module of `vamo_jax.experiments` that runs it.
      data, model, train, eval: the sections (`DataConfig`, `ModelConfig`, `TrainConfig`,
        `EvalConfig`).
    """

    name: str
    experiment: str
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    eval: EvalConfig


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
