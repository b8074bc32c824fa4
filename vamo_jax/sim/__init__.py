"""A JAX-native multi-task auction simulator (AuctionNet-like, our own), gymnax-style and pure.

Episode = one day of T = 96 ticks. N advertisers (each running one campaign type: GMV, Dir-GMV
or CartCnt) bid `a_t × value_estimate` on every impression of a tick; each impression is sold by
a K-slot GSP auction (`auction`); the market follows a diurnal cycle, per-block drifts and an
AR(1) per-day regime with task-specific shifts (`market`, whose docstring gives the generative
model). Advertisers and impressions are array axes, ticks a `lax.scan`, days/seeds `vmap` axes.

    params = EnvParams(num_advertisers=48)                 # static, validated
    world = make_world(key, params, num_days=11)           # advertisers + day regimes
    obs, state = reset(key, params, world, day, history)   # gymnax-style
    obs, state, reward, done, info = step(key, state, action, params, world)
    totals, traj, pstate = simulate_day(key, params, world, day, policy_fn, pstate, mask, history)

The logged bidders (`policies`) are constraint-blind heuristics or constraint-aware auto-bidders
(`BehaviourSpread`); `shift_world` adds the declared task-shift axis to a world's later days.
"""

from vamo_jax.sim.auction import AuctionOutcome, run_auction
from vamo_jax.sim.env import (
    HISTORY_FEATURES,
    STATE_DIM,
    STATE_FEATURES,
    EnvState,
    Observation,
    StepInfo,
    observe,
    reset,
    sanitize_actions,
    step,
)
from vamo_jax.sim.market import (
    TASK_SHIFT_DIRECTION,
    Impressions,
    World,
    make_world,
    shift_world,
    value_curve,
    volume_curve,
)
from vamo_jax.sim.params import POLICY_KINDS, BehaviourSpread, EnvParams
from vamo_jax.sim.policies import (
    AUTO_BIDDER,
    BEHAVIOUR_KINDS,
    HeuristicParams,
    HeuristicState,
    heuristic_policy,
    init_heuristic,
    sample_heuristic_params,
)
from vamo_jax.sim.rollout import DayTotals, DayTrajectory, PolicyFn, simulate_day

__all__ = [
    "AUTO_BIDDER", "AuctionOutcome", "BEHAVIOUR_KINDS", "BehaviourSpread", "DayTotals", "DayTrajectory",
    "EnvParams", "EnvState", "HISTORY_FEATURES",
    "HeuristicParams", "HeuristicState", "Impressions", "Observation", "POLICY_KINDS", "PolicyFn",
    "STATE_DIM", "STATE_FEATURES", "StepInfo", "World", "heuristic_policy", "init_heuristic",
    "make_world", "observe", "reset", "run_auction", "sample_heuristic_params", "sanitize_actions",
    "TASK_SHIFT_DIRECTION", "shift_world", "simulate_day", "step", "value_curve", "volume_curve",
]
