"""STL, equal weighting and VAMO at 36 replications over markets: 18 independent markets (each its
own world, regime sequence, logs of days 1–10 and test-day draws, `vamo_jax.data.markets`) × 2
training seeds per market, every other setting the main job's, as `configs/many_seeds.py`
(36 seeds of the one market of `data.seed=0`), so the two tables differ in what is replicated only.

Two seeds per market separate the training seed's variance from the market's
(`stats.variance_components`); 18 markets are what the cluster bootstrap resamples.

Run: python -m vamo_jax.main --config many_markets (results.json: `replications`, and per paired
comparison its `variance_components`).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="many_markets",
                               data=dataclasses.replace(base.data, markets=18),
                               train=dataclasses.replace(base.train, methods=("stl", "equal", "vamo"), num_seeds=2))
