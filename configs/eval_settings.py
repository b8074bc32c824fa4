"""Evaluation settings chosen on the validation day (day 9), never the test day: each task's
return-to-go target (the quantile of its training returns).

STL and equal are trained once (the arms differ in evaluation alone, so they share the trained
states); each arm scores them on day 9 with its own target quantile.

Run: python -m vamo_jax.main --config eval_settings
"""

import dataclasses

from configs import sim
from vamo_jax.config import Variant

QUANTILES = (0.5, 0.7, 0.9, 0.95, 0.99)


def get_config():
    base = sim.with_arms(
        "eval_settings", "Day 9 (validation): score per task against the return-to-go target quantile",
        *(Variant(f"q{q}", (f"eval.target_quantile={q}",)) for q in QUANTILES))
    return dataclasses.replace(
        base,
        train=dataclasses.replace(base.train, methods=("stl", "equal"), num_seeds=4),
        eval=dataclasses.replace(base.eval, day="validation"),
        sweep=dataclasses.replace(base.sweep, shared_baseline=False),
    )
