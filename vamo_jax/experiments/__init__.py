"""Experiments: one module per table or figure, each with `run(config, workdir, resume) -> results`."""

from __future__ import annotations

import importlib


def run(config, workdir, resume: bool = False) -> dict:
    try:
        module = importlib.import_module(f"vamo_jax.experiments.{config.experiment}")
    except ModuleNotFoundError as err:
        raise ValueError(f"config {config.name!r}: unknown experiment {config.experiment!r}.") from err
    return module.run(config, workdir, resume=resume)
