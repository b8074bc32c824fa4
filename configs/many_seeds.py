"""The main job's comparison of STL, equal weighting and VAMO at 36 seeds: the seeds a 95% CI
half-width of at most 5 Δm% points on equal − STL needs (the paired per-seed s.d. of that
difference measured 12–14 points at 6 and 12 seeds), which the main job's 6 seeds cannot reach
within its 10 minutes on a 2-core CPU. Every other setting is the main job's (chosen on day 9).

Run: python -m vamo_jax.main --config many_seeds (README "The main job" gives its cost and table).
"""

import dataclasses

from configs import sim


def get_config():
    base = sim.get_config()
    return dataclasses.replace(base, name="many_seeds",
                               train=dataclasses.replace(base.train, methods=("stl", "equal", "vamo"), num_seeds=36))
