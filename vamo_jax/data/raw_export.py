"""The simulator's logs in AuctionNet's raw 18-column impression-level format (`auctionnet_raw`).

A logged day (episode 0) is replayed tick by tick with its key, history and behaviour policies
(`Dataset.eval_inputs`): the day is the logged one bit for bit, and each tick's auction is
recomputed from the same key to recover what `sim.env.step` sums away, one row per (arriving
impression, advertiser). Each tick is written as soon as it is played, so memory stays that of
one tick whatever the day's size.

How the simulator's quantities map onto AuctionNet's columns (n: the advertiser, i: the impression):

  pValue            v_in, n's value estimate in bid currency (expected own-campaign value × unit
                    value, `sim.env.own_value`). With CartCnt campaigns and unit value 1 (configs/
                    auctionnet.py) it is the conversion probability, as in AuctionNet; GMV values
                    are currency and may exceed 1.
  pValueSigma       0: the simulator knows its values exactly (no counterpart).
  bid               a_n × v_in, the advertiser's bid before the market's budget rule (a bid takes
                    part as min(bid, remainingBudget), none below the reserve: `auctionnet_raw`).
  CPAConstraint     the constraint as a target cost per unit of bid-currency value: 1 / R for a
                    target ROI R, C / unit for a target cost per cart C. So AuctionNet's score of
                    the written day is unit × the project's score (`vamo_jax.score`).
  xi, adSlot        n holds slot adSlot (1..K) of i; xi = 0, adSlot = 0 otherwise.
  cost, isExposed   the payment and exposure after the no-overspend rule (a win dropped by it:
                    xi = 1, isExposed = 0, cost = 0).
  conversionAction  the realised own-campaign value × unit on an exposed win (0 or 1 for carts at unit 1).
  leastWinningCost  the price of the last slot, max(b_(K+1), reserve): AuctionNet's "4-th highest bid".
  isEnd             1 at the last step, and at the step after which the remaining budget is below the reserve.
  pvIndex           the impression's index in the period, from 1, in arrival order.
"""

from __future__ import annotations

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import polars as pl

from vamo_jax.data.auctionnet_raw import RAW_SCHEMA
from vamo_jax.data.dataset import Dataset
from vamo_jax.sim import env as env_lib
from vamo_jax.sim import policies as policies_lib
from vamo_jax.sim.auction import run_auction
from vamo_jax.sim.market import World
from vamo_jax.sim.params import COST_PER_RESULT, EnvParams


def cpa_constraint(world: World, params: EnvParams) -> np.ndarray:
    """(N,) each advertiser's constraint as a target cost per unit of bid-currency value."""
    unit = np.asarray(params.unit_value, np.float64)[np.asarray(world.campaign)]
    constraint = np.asarray(world.constraint, np.float64)
    return np.where(np.asarray(COST_PER_RESULT)[np.asarray(world.campaign)], constraint / unit, 1.0 / constraint)


def _tick_rows(key, state: env_lib.EnvState, action, params: EnvParams, world: World) -> dict:
    """The (I, N) impression rows of one tick, recomputed as `sim.env.step` plays it (same key
    splits, same draws), before the step is taken."""
    k_exp, k_real, _ = jax.random.split(key, 3)
    imps, k = state.impressions, params.num_slots
    v = env_lib.own_value(params, world, imps)
    active = state.remaining >= params.reserve_price
    bids = jnp.minimum(action[None, :] * v, state.remaining[None, :]) * active[None, :]
    exposure_u = jax.random.uniform(k_exp, (params.impression_capacity, k))
    out = run_auction(bids, imps.valid, state.remaining, exposure_u,
                      jnp.asarray(params.slot_exposure, jnp.float32), params.reserve_price)
    u = jax.random.uniform(k_real, (3,) + out.winner.shape)  # as `env._winner_values` draws them

    def at_winner(x):
        return jnp.take_along_axis(x, out.winner, axis=1)

    conv = (u[0] < at_winner(imps.pconv)).astype(jnp.float32)
    amount = at_winner(imps.amount)
    channels = jnp.stack([conv * amount, conv * (u[1] < at_winner(imps.direct)) * amount,
                          (u[2] < at_winner(imps.pcart)).astype(jnp.float32)], -1)  # (I, K, 3)
    campaign = world.campaign[out.winner]
    unit = jnp.asarray(params.unit_value, jnp.float32)[campaign]
    realised = jnp.take_along_axis(channels, campaign[..., None], axis=-1)[..., 0] * unit  # (I, K)
    holds = out.sold[..., None] & (out.winner[..., None] == jnp.arange(params.num_advertisers))  # (I, K, N)

    def per_advertiser(x):  # (I, K) slot values → (I, N) the value at the slot n holds (0 if none)
        return jnp.sum(jnp.where(holds, x[..., None], 0), axis=1)

    return dict(
        valid=imps.valid, pValue=v, bid=action[None, :] * v,
        adSlot=per_advertiser(jnp.arange(1, k + 1)[None, :].astype(jnp.int32)),
        cost=per_advertiser(out.payment), isExposed=per_advertiser(out.exposed.astype(jnp.int32)),
        conversionAction=per_advertiser(jnp.where(out.exposed, realised, 0.0)),
        leastWinningCost=jnp.where(out.sold[:, k - 1], out.price[:, k - 1], params.reserve_price),
        remainingBudget=state.remaining, spend=out.spend,
    )


@functools.partial(jax.jit, static_argnums=(1,))
def _start(key, params: EnvParams, world: World, day, history, competitors):
    """simulate_day's start: (obs, state, competitors' state, the ticks' keys)."""
    k_reset, _, k_ticks = jax.random.split(key, 3)
    obs, state = env_lib.reset(k_reset, params, world, day, history)
    return obs, state, policies_lib.init_heuristic(competitors), jax.random.split(k_ticks, params.ticks_per_day)


@functools.partial(jax.jit, static_argnums=(3,))
def _play(carry, keys, world: World, params: EnvParams):
    """Ticks `keys` (C,) of simulate_day, every advertiser on its logged heuristic, as a `lax.scan`
    (the logs' own compiled form: a tick jitted alone rounds differently): (carry, rows (C, …))."""

    def tick(carry, key):
        obs, state, cstate = carry
        k_pol, k_env = jax.random.split(key)
        action, cstate = policies_lib.heuristic_policy(obs, cstate, k_pol)
        action = env_lib.sanitize_actions(action, params)
        rows = _tick_rows(k_env, state, action, params, world)
        obs, state, _, _, _ = env_lib.step(k_env, state, action, params, world)
        return (obs, state, cstate), rows

    return jax.lax.scan(tick, carry, keys)


def write_period(dataset: Dataset, day: int, path: str, period: int | None = None, chunk: int | None = None,
                 behaviour: policies_lib.HeuristicParams | None = None) -> str:
    """Writes the logged `day` of episode 0 as one raw period file (CSV, or Parquet if `path`
    ends in .parquet), `chunk` ticks at a time (a divisor of T; default all); returns `path`.
    `period` (default: `day`) is its deliveryPeriodIndex; `behaviour` (leaves (N,)) replaces the
    logged behaviour policies (the day is then played anew on the same traffic)."""
    env, world = dataset.config.env, jax.tree.map(jnp.asarray, dataset.world)
    history = dataset.history_before(day) if day else np.zeros_like(dataset.market[0, 0, -env.history_len:])
    obs, state, cstate, keys = _start(jax.random.wrap_key_data(jnp.asarray(dataset.sim_keys[0, day])), env, world,
                                      jnp.int32(day), jnp.asarray(history),
                                      jax.tree.map(jnp.asarray, behaviour) if behaviour is not None else
                                      jax.tree.map(lambda x: jnp.asarray(x[0, day]), dataset.behaviour))
    n, t_total = env.num_advertisers, env.ticks_per_day
    chunk = t_total if chunk is None else chunk
    if t_total % chunk:
        raise ValueError(f"write_period: chunk={chunk} must divide ticks_per_day={t_total}.")
    fixed = {"deliveryPeriodIndex": np.int32(day if period is None else period),
             "advertiserNumber": np.arange(n, dtype=np.int32),
             "advertiserCategoryIndex": np.asarray(world.category, np.int32),
             "budget": np.asarray(world.budget, np.float32),
             "CPAConstraint": cpa_constraint(dataset.world, env).astype(np.float32)}
    parquet = path.endswith(".parquet")
    csv_path = path[: -len(".parquet")] + ".csv.tmp" if parquet else path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    carry, first_pv = (obs, state, cstate), 1
    with open(csv_path, "wb") as fh:
        for start in range(0, t_total, chunk):
            carry, rows = _play(carry, keys[start:start + chunk], world, env)
            rows = jax.device_get(rows)
            for c in range(rows["valid"].shape[0]):
                frame = _frame({k: v[c] for k, v in rows.items()}, fixed, start + c, t_total, first_pv,
                               env.reserve_price)
                frame.write_csv(fh, include_header=start + c == 0)
                first_pv += int(rows["valid"][c].sum())
    if parquet:  # streamed: a CSV → Parquet conversion as a user would run it
        pl.scan_csv(csv_path, schema=RAW_SCHEMA).sink_parquet(path)
        os.remove(csv_path)
    return path


def _frame(rows: dict, fixed: dict, t: int, t_total: int, first_pv: int, reserve: float) -> pl.DataFrame:
    """The tick's rows, (arriving impression, advertiser) in that order, as a frame of `RAW_SCHEMA`."""
    valid = np.flatnonzero(rows["valid"])
    m, n = len(valid), fixed["advertiserNumber"].shape[0]

    def cell(x):  # (I, N) → (m · N,)
        return np.asarray(x)[valid].reshape(-1)

    def per_adv(x):  # (N,) → (m · N,)
        return np.tile(np.asarray(x), m)

    remaining_after = rows["remainingBudget"] - rows["spend"]
    is_end = np.full(n, t == t_total - 1) | (remaining_after < reserve)
    columns = {
        "deliveryPeriodIndex": np.full(m * n, fixed["deliveryPeriodIndex"]),
        "advertiserNumber": per_adv(fixed["advertiserNumber"]),
        "advertiserCategoryIndex": per_adv(fixed["advertiserCategoryIndex"]),
        "budget": per_adv(fixed["budget"]), "CPAConstraint": per_adv(fixed["CPAConstraint"]),
        "timeStepIndex": np.full(m * n, t, np.int32),
        "remainingBudget": per_adv(rows["remainingBudget"]),
        "pvIndex": np.repeat(np.arange(first_pv, first_pv + m, dtype=np.int64), n),
        "pValue": cell(rows["pValue"]), "pValueSigma": np.zeros(m * n, np.float32), "bid": cell(rows["bid"]),
        "xi": (cell(rows["adSlot"]) > 0).astype(np.int32), "adSlot": cell(rows["adSlot"]),
        "cost": cell(rows["cost"]), "isExposed": cell(rows["isExposed"]),
        "conversionAction": cell(rows["conversionAction"]),
        "leastWinningCost": np.repeat(np.asarray(rows["leastWinningCost"])[valid], n),
        "isEnd": per_adv(is_end.astype(np.int32)),
    }
    return pl.DataFrame({c: pl.Series(c, columns[c], dtype=RAW_SCHEMA[c]) for c in RAW_SCHEMA})


def write_raw(dataset: Dataset, out_dir: str, fmt: str = "csv") -> list[str]:
    """Every logged day 0..num_days of episode 0 as `period-<day>.<fmt>` in `out_dir`; returns the paths."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"write_raw: format {fmt!r}; use csv or parquet.")
    return [write_period(dataset, day, os.path.join(out_dir, f"period-{day}.{fmt}"))
            for day in range(dataset.config.num_days + 1)]
