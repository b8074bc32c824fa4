"""Experiments: a config's `experiment` names how its arms are read. "sweep" (every config but one)
is `vamo_jax.run.run`: every arm into one table against one baseline; a module of its own exists
only where an experiment adds a reading (`many_tasks`: Δm% against K)."""

from __future__ import annotations

from vamo_jax.experiments import many_tasks
from vamo_jax.run import run as sweep

EXPERIMENTS = {"sweep": sweep, "many_tasks": many_tasks.run}


def run(config, workdir, resume: bool = False) -> dict:
    return EXPERIMENTS[config.experiment](config, workdir, resume=resume)
