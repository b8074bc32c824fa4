"""The task-shift axis (issue 23): STL, equal and VAMO on the main job's data at every declared
shift strength s, each arm training its own STL baseline on its own data.

s (`data.task_shift`, `vamo_jax.sim.market.shift_world`) moves each task's value channel on the
days after the training days by s × `TASK_SHIFT_DIRECTION` = (0, −0.5, 1) in log (GMV unmoved,
Dir-GMV's direct share × e^(−s/2), CartCnt's add-to-cart rate × e^s), so the tasks differ in how
well days 1–8 represent days 9–10. The main job keeps s = 0.

The grid, declared before any run on it: s = 0 (the market as it is: the reference row),
0.25 (about one day-to-day regime sd of CartCnt, 0.3: within the ordinary variation of the days),
0.5 (well outside it) and 1.0 (CartCnt's carts × 2.7: the strongest, the positive control's
setting). Every cell is reported, whatever it shows; nothing is chosen on the test day.
Run: python -m vamo_jax.main --config task_shift
"""

import dataclasses

from configs import sim
from vamo_jax.config import SweepConfig, Variant

SHIFTS: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
STRONGEST: float = max(SHIFTS)
METHODS: tuple[str, ...] = ("stl", "equal", "vamo")


def get_config():
    arms = tuple(Variant(f"s={s:g}", (f"data.task_shift={s!r}", f"train.methods={','.join(METHODS)}")) for s in SHIFTS)
    return dataclasses.replace(
        sim.get_config(), name="task_shift",
        sweep=SweepConfig(variants=arms, shared_baseline=False, title="Task-shift axis: STL, equal and VAMO at each s"),
    )
