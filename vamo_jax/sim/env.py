"""The bidding environment, gymnax-style: `reset` and `step` are pure functions of explicit state.

One episode is one day of T ticks. At every tick each advertiser n chooses a bid multiplier
a_n (the action) and bids `a_n × v_in` on every impression i of the tick, where
`v_in = E[value of its task's channel] × unit_value[task]` is its value estimate. The
auction is `vamo_jax.sim.auction.run_auction`; actions are sanitised first (NaN → 0, clipped into
[0, max_multiplier]); bids are capped at the remaining budget.

The observation of tick t (before acting) holds the 16 state features below, per advertiser,
computed from the ticks before t and from tick t's arriving impressions (which an advertiser
sees when it bids), plus the market history window of the H ticks before t.

State features (`STATE_FEATURES`, index: meaning):
   0 time_left          (T − t) / T
   1 budget_left        remaining / budget
   2 spend_pace         spent / budget − t / T   (0 = even pacing, > 0 = ahead)
   3 hist_action        mean of past actions this day
   4,5 hist/last3_win_rate    exposed wins / arriving impressions
   6,7 hist/last3_cost        tick cost / (budget / T)   (1 = even pacing)
   8,9 hist/last3_lwc         mean least winning cost of arriving impressions
  10,11 hist/last3_value      mean own value estimate of arriving impressions
  12,13 hist/last3_volume     arriving impressions / mean per tick
  14 current_value     mean own value estimate of this tick's impressions
  15 current_volume    this tick's arrivals / mean per tick
"hist" is the mean over ticks 0..t−1 of the day, "last3" over the last ≤ 3 ticks (0 at t = 0).

Market history features (`HISTORY_FEATURES` = 3, per tick): volume (arrivals / mean per tick),
mean value (mean own value estimate over arriving impressions and advertisers), clearing price
(mean first-slot price over sold impressions).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from vamo_jax.sim import market as market_lib
from vamo_jax.sim.auction import run_auction
from vamo_jax.sim.params import EnvParams

CAMPAIGN_NAMES: tuple[str, ...] = ("gmv", "dir_gmv", "cart")
"""Campaign types of the paper (§4.1): store conversion, direct conversion, add-to-cart; campaign
type c is valued on value channel c."""
NUM_VALUE_CHANNELS: int = len(CAMPAIGN_NAMES)
STATE_DIM: int = 16
"""AuctionNet's 16 state features (`STATE_FEATURES`)."""
HISTORY_FEATURES: int = 3
"""Per-tick market series read by the temporal module: volume, mean value, clearing price."""
REQUIREMENT_TARGET, REQUIREMENT_BUDGET, REQUIREMENT_CONSTRAINT = 0, 1, 2
"""Positions in the requirement y = [target return per budget, budget, constraint, one-hot campaign type]."""
REQUIREMENT_DIM: int = 3 + NUM_VALUE_CHANNELS

STATE_FEATURES: tuple[str, ...] = (
    "time_left", "budget_left", "spend_pace", "hist_action",
    "hist_win_rate", "last3_win_rate", "hist_cost", "last3_cost",
    "hist_lwc", "last3_lwc", "hist_value", "last3_value",
    "hist_volume", "last3_volume", "current_value", "current_volume",
)
assert len(STATE_FEATURES) == STATE_DIM
_TICK_STATS = ("action", "win_rate", "cost", "lwc", "value", "volume")
_RECENT = 3


@chex.dataclass(frozen=True)
class EnvState:
    """State of one day. N advertisers, T ticks, H history ticks.

    Attributes:
      tick: () int32, the tick about to be played.
      day: () int32.
      remaining: (N,) budget left.
      regime: (5,) the day's regime (log shifts; see `market`).
      drift: (num_blocks, N) the day's block drifts.
      impressions: the current tick's impressions.
      stats_sum: (N, 6) sum of the per-tick statistics (`_TICK_STATS`) of the ticks before `tick`.
      recent_stats: (3, N, 6) the statistics of the last 3 ticks before `tick`, newest last (0
        before the day): the running sums make an observation O(N), not O(T·N).
      history: (H, F) market features of the H ticks before `tick`, oldest first.
    """

    tick: chex.Array
    day: chex.Array
    remaining: chex.Array
    regime: chex.Array
    drift: chex.Array
    impressions: market_lib.Impressions
    stats_sum: chex.Array
    recent_stats: chex.Array
    history: chex.Array


@chex.dataclass(frozen=True)
class Observation:
    """What every advertiser sees before acting at a tick.

    Attributes:
      state: (N, 16) the state features (`STATE_FEATURES`).
      tick: () int32 tick index t.
      remaining_budget: (N,) budget left.
      requirement: (N, 6) raw requirement y = [0 (the target return: the policy's choice),
        budget, constraint, one-hot campaign type] (`requirement`).
      history: (H, F) market history window, oldest first.
      campaign: (N,) int32 campaign type of each advertiser (its value channel).
      last_reward: (N, V) realised value of every channel in the previous tick (0 at t = 0),
        so a return-conditioned policy can update its return-to-go.
      last_expected_reward: (N, V) expected value of every channel on the previous tick's
        exposed wins (0 at t = 0): what an auto-bidder's own value model predicts of what it
        won, before the conversion lottery (its ROI estimate, `vamo_jax.sim.policies`).
    """

    state: chex.Array
    tick: chex.Array
    remaining_budget: chex.Array
    requirement: chex.Array
    history: chex.Array
    campaign: chex.Array
    last_reward: chex.Array
    last_expected_reward: chex.Array


@chex.dataclass(frozen=True)
class StepInfo:
    """Per-advertiser outcome of one tick (N advertisers, V = 3 channels).

    Attributes:
      cost: (N,) spend this tick.
      reward: (N, V) realised value of every channel on exposed wins.
      reward_continuous: (N, V) expected value of every channel on exposed wins.
      conversions: (N,) realised store conversions.
      wins: (N,) exposed wins.
      market: (F,) this tick's market features.
    """

    cost: chex.Array
    reward: chex.Array
    reward_continuous: chex.Array
    conversions: chex.Array
    wins: chex.Array
    market: chex.Array


def requirement(target: chex.Array, budget: chex.Array, constraint: chex.Array, campaign: chex.Array) -> chex.Array:
    """(…, 6) y = [target return per budget, budget, constraint, one-hot campaign type], raw units.

    Args: (…,) each; `campaign` int, the campaign type. Normalise with
    `vamo_jax.data.normalise_requirement`.
    """
    onehot = jax.nn.one_hot(campaign, NUM_VALUE_CHANNELS, dtype=jnp.float32)
    return jnp.concatenate([jnp.stack([target, budget, constraint], -1), onehot], -1)


def own_value(params: EnvParams, world: market_lib.World, imps: market_lib.Impressions) -> chex.Array:
    """(I, N) each advertiser's value estimate v_in under its own task, in bid currency."""
    gmv = imps.pconv * imps.amount
    unit = jnp.asarray(params.unit_value, jnp.float32)[world.campaign]
    own = jnp.where(world.campaign == 0, gmv, jnp.where(world.campaign == 1, gmv * imps.direct, imps.pcart))
    return own * unit


def reset(
    key: chex.PRNGKey,
    params: EnvParams,
    world: market_lib.World,
    day: chex.Array,
    history: chex.Array | None = None,
) -> tuple[Observation, EnvState]:
    """Starts day `day` with full budgets; `history` (H, F) is the market before it (zeros if None)."""
    k_drift, k_imp = jax.random.split(key)
    h, n = params.history_len, params.num_advertisers
    if history is None:
        history = jnp.zeros((h, HISTORY_FEATURES), jnp.float32)
    chex.assert_shape(history, (h, HISTORY_FEATURES))
    day = jnp.asarray(day, jnp.int32)
    regime = jnp.asarray(world.regime)[day]
    drift = market_lib.draw_block_drift(k_drift, params)
    tick = jnp.zeros((), jnp.int32)
    state = EnvState(
        tick=tick, day=day, remaining=world.budget, regime=regime, drift=drift,
        impressions=market_lib.draw_impressions(k_imp, params, world, regime, drift, tick),
        stats_sum=jnp.zeros((n, len(_TICK_STATS)), jnp.float32),
        recent_stats=jnp.zeros((_RECENT, n, len(_TICK_STATS)), jnp.float32),
        history=jnp.asarray(history, jnp.float32),
    )
    return observe(params, world, state), state


def sanitize_actions(action: chex.Array, params: EnvParams) -> chex.Array:
    """The documented clip: NaN → 0 (no bid), ±inf and out-of-range into [0, max_multiplier]."""
    a = jnp.nan_to_num(action.astype(jnp.float32), nan=0.0, posinf=params.max_multiplier, neginf=0.0)
    return jnp.clip(a, 0.0, params.max_multiplier)


def step(
    key: chex.PRNGKey,
    state: EnvState,
    action: chex.Array,
    params: EnvParams,
    world: market_lib.World,
) -> tuple[Observation, EnvState, chex.Array, chex.Array, StepInfo]:
    """Plays one tick: returns (obs, state, reward (N, 3) realised, done (), info)."""
    n, k_slots = params.num_advertisers, params.num_slots
    k_exp, k_real, k_next = jax.random.split(key, 3)
    imps = state.impressions
    a = sanitize_actions(action, params)
    chex.assert_shape(a, (n,))
    v = own_value(params, world, imps)
    active = state.remaining >= params.reserve_price
    bids = jnp.minimum(a[None, :] * v, state.remaining[None, :]) * active[None, :]
    exposure_u = jax.random.uniform(k_exp, (params.impression_capacity, k_slots))
    out = run_auction(bids, imps.valid, state.remaining, exposure_u,
                      jnp.asarray(params.slot_exposure, jnp.float32), params.reserve_price)

    reward, reward_cont, conversions, wins = _winner_values(k_real, imps, out, n)
    cost = out.spend
    stats, market = _tick_statistics(params, world, imps, out, v, a, wins, cost)

    tick = state.tick + 1
    next_imps = market_lib.draw_impressions(
        k_next, params, world, state.regime, state.drift, jnp.minimum(tick, params.ticks_per_day - 1))
    new_state = state.replace(
        tick=tick,
        remaining=state.remaining - cost,
        impressions=next_imps,
        stats_sum=state.stats_sum + stats,
        recent_stats=jnp.concatenate([state.recent_stats[1:], stats[None]], axis=0),
        history=jnp.concatenate([state.history[1:], market[None]], axis=0),
    )
    info = StepInfo(cost=cost, reward=reward, reward_continuous=reward_cont,
                    conversions=conversions, wins=wins, market=market)
    done = tick >= params.ticks_per_day
    return observe(params, world, new_state, reward, reward_cont), new_state, reward, done, info


def _winner_values(key: chex.PRNGKey, imps: market_lib.Impressions, out, n: int):
    """Per advertiser: realised (N, 3) and expected (N, 3) channel values of its exposed wins,
    its realised store conversions (N,) and its exposed wins (N,)."""

    def at_winner(x):
        return jnp.take_along_axis(x, out.winner, axis=1)  # (I, K)

    u = jax.random.uniform(key, (3,) + out.winner.shape)
    pconv, amount, p_direct, pcart = (at_winner(x) for x in (imps.pconv, imps.amount, imps.direct, imps.pcart))
    conv = (u[0] < pconv).astype(jnp.float32)
    direct = (u[1] < p_direct).astype(jnp.float32)
    cart = (u[2] < pcart).astype(jnp.float32)
    per_slot = jnp.stack([conv * amount, conv * direct * amount, cart,
                          pconv * amount, pconv * p_direct * amount, pcart, conv, jnp.ones_like(conv)], -1)
    # Scatter-add by winner (a segment sum): on CPU ~10× cheaper than a one-hot (I, K, N) einsum.
    per_slot = jnp.where(out.exposed[..., None], per_slot, 0.0).reshape(-1, per_slot.shape[-1])
    totals = jax.ops.segment_sum(per_slot, out.winner.reshape(-1), num_segments=n)  # (N, 8)
    return totals[:, 0:3], totals[:, 3:6], totals[:, 6], totals[:, 7]


def _tick_statistics(params: EnvParams, world: market_lib.World, imps: market_lib.Impressions, out,
                     value: chex.Array, action: chex.Array, wins: chex.Array, cost: chex.Array):
    """This tick's per-advertiser statistics (N, 6) (`_TICK_STATS`) and market features (F,)."""
    n = params.num_advertisers
    n_valid = jnp.sum(imps.valid).astype(jnp.float32)
    denom = jnp.maximum(n_valid, 1.0)
    volume = n_valid / params.mean_impressions_per_tick
    vmask = imps.valid[:, None].astype(jnp.float32)
    value_mean = jnp.sum(value * vmask, axis=0) / denom
    lwc_mean = jnp.sum(out.least_winning_cost) / denom
    sold1 = out.sold[:, 0]
    clearing = jnp.sum(jnp.where(sold1, out.price[:, 0], 0.0)) / jnp.maximum(jnp.sum(sold1), 1.0)
    per_tick_budget = world.budget / params.ticks_per_day
    stats = jnp.stack([
        action, wins / denom, cost / per_tick_budget, jnp.full((n,), lwc_mean),
        value_mean, jnp.full((n,), volume),
    ], -1)
    market = jnp.stack([volume, jnp.mean(value_mean), clearing]).astype(jnp.float32)
    return stats, market


def observe(params: EnvParams, world: market_lib.World, state: EnvState,
            last_reward: chex.Array | None = None, last_expected_reward: chex.Array | None = None) -> Observation:
    """The observation of `state` (see the module docstring for the features); the previous
    tick's realised and expected rewards (N, V) are zeros when None (before the day)."""
    t_total = params.ticks_per_day
    t = state.tick.astype(jnp.float32)
    hist = state.stats_sum / jnp.maximum(t, 1.0)
    recent = jnp.sum(state.recent_stats, 0) / jnp.maximum(jnp.minimum(t, float(_RECENT)), 1.0)
    imps = state.impressions
    n_valid = jnp.sum(imps.valid).astype(jnp.float32)
    v = own_value(params, world, imps)
    cur_value = jnp.sum(v * imps.valid[:, None], 0) / jnp.maximum(n_valid, 1.0)
    n = params.num_advertisers
    spent = 1.0 - state.remaining / world.budget
    features = jnp.stack([
        jnp.full((n,), 1.0 - t / t_total), state.remaining / world.budget, spent - t / t_total,
        hist[:, 0], hist[:, 1], recent[:, 1], hist[:, 2], recent[:, 2], hist[:, 3], recent[:, 3],
        hist[:, 4], recent[:, 4], hist[:, 5], recent[:, 5], cur_value,
        jnp.full((n,), n_valid / params.mean_impressions_per_tick),
    ], -1).astype(jnp.float32)
    req = requirement(jnp.zeros_like(world.budget), world.budget, world.constraint, world.campaign)
    zeros = jnp.zeros((params.num_advertisers, NUM_VALUE_CHANNELS), jnp.float32)
    return Observation(state=features, tick=state.tick, remaining_budget=state.remaining,
                       requirement=req, history=state.history, campaign=world.campaign,
                       last_reward=zeros if last_reward is None else last_reward,
                       last_expected_reward=zeros if last_expected_reward is None else last_expected_reward)
