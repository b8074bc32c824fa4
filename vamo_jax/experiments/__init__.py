"""Experiments: `sweep` runs every config's arms into one table; a module of its own exists only
where an experiment adds a reading (`many_tasks`: Δm% against K). Each has `run(config, workdir,
resume) -> results`."""

from __future__ import annotations

import importlib


def run(config, workdir, resume: bool = False) -> dict:
    return importlib.import_module(f"vamo_jax.experiments.{config.experiment}").run(config, workdir, resume=resume)
