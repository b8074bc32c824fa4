"""AuctionNet's offline evaluation on logged traffic: one advertiser at a time bids against the logged market.

For advertiser j of a logged period (AuctionNet's protocol, with the auction the logs were made by):
at each step its policy sees its own state (the project's features or AuctionNet's 16, as it was
trained on: `data.raw_features`, from its own outcomes so far and the logged traffic) and returns a multiplier a; on every impression i of
the step j bids a · pValue_ij, capped at its budget left and not at all below the reserve r;
the other advertisers' bids are the logged ones, as they took part (`auctionnet_raw.effective_bid`).
The K highest bids win the slots (ties: the lower advertiser), j pays max(next bid, r) for its slot
k when it is exposed, and it is exposed when slot k of i was logged as shown (every advertiser's
slot k of i is shown alike: a common random number, as in the simulator). The budget rule is the
simulator's: wins are charged in arrival order, and the first that would overspend, with every
later win of the step, is dropped (`vamo_jax.sim.auction`). A conversion is drawn on each exposed
win as AuctionNet does: Bernoulli(clip(N(pValue, pValueSigma²), 0, 1)) (this needs pValue to be a
probability); the expected value is Σ pValue over exposed wins. The other advertisers do not react
to j (the logged bids stand), so the logs of a simulated market whose competitors bid without
looking at their state are replayed exactly (`tests/test_offline_eval.py`).

Every advertiser of the period is evaluated in turn, as a `vmap` axis; steps are a `lax.scan`; one
compilation serves every period of the same capacity (`AuctionNetConfig.capacity`).

    traffic = logged_traffic(dataset, period)              # arrays of the period's impressions
    evaluate = make_logged_evaluator(dataset, model_config, eval_config)
    values, costs = evaluate(params (S, K, …), targets (K,))   # each (S, D, N), as evaluate.make_evaluator
    metrics = logged_metrics(dataset, values, costs, beta)     # per task: return, value, cost, ratio, violation_rate
"""

from __future__ import annotations

import functools
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.data.auctionnet_raw import period_files, read_period, read_traffic
from vamo_jax.data.dataset import Dataset
from vamo_jax.data.raw_features import AUCTIONNET_STATS, PROJECT_STATS, RECENT, auctionnet_features, project_features
from vamo_jax.data.spec import NUM_VALUE_CHANNELS
from vamo_jax.data.tasks import task_channels
from vamo_jax.evaluate import _initial_context, _policy_fn, _Replay  # the simulator evaluator's policy context
from vamo_jax.models.policy import make_policy, market_reach
from vamo_jax.score import day_metrics
from vamo_jax.sim.auction import _cumsum_rows
from vamo_jax.sim.env import Observation, requirement, sanitize_actions
from vamo_jax.sim.params import EnvParams


@chex.dataclass(frozen=True)
class Traffic:
    """A period's logged traffic for the evaluator. T steps, I capacity, N advertisers, K slots.

    Attributes:
      valid: (T, I) bool. pvalue, sigma: (N, T, I) pValue and pValueSigma, advertiser-major.
      top_bid, top_adv: (T, I, K+1) the K+1 highest bids taking part and their advertisers (-1: none).
      shown: (T, I, K) bool, slot k of impression i was exposed.
      budget, cpa: (N,) budget and CPAConstraint. task: (N,) learning task of each advertiser.
      campaign: (N,) its campaign type (the market's one).
      market_value: (T,) mean pValue over the step's impressions and advertisers.
      least_winning_cost: (T,) mean logged leastWinningCost of the step (AuctionNet's features).
      history: (H, 3) the logged market before the period (zeros where there is none).
    """

    valid: chex.Array
    pvalue: chex.Array
    sigma: chex.Array
    top_bid: chex.Array
    top_adv: chex.Array
    shown: chex.Array
    budget: chex.Array
    cpa: chex.Array
    task: chex.Array
    campaign: chex.Array
    market_value: chex.Array
    least_winning_cost: chex.Array
    history: chex.Array


def period_rows(dataset: Dataset, period: int):
    """(split, rows (N,)): the split holding `period` and its rows of that period, by advertiser."""
    split = next((s for s in (dataset.train, dataset.val, dataset.test) if period in np.asarray(s.day)), None)
    if split is None:
        raise ValueError(f"period {period} is in no split of the data set (data.train_days, val_day, test_day).")
    rows = np.flatnonzero(np.asarray(split.day) == period)
    return split, rows[np.argsort(np.asarray(split.advertiser)[rows])]


def logged_traffic(dataset: Dataset, period: int) -> Traffic:
    """The `Traffic` of `period` read from `dataset.config.path` (an `AuctionNetConfig`'s data)."""
    config, env = dataset.config, dataset.config.env
    path = period_files(config.path)[period]
    log = read_period(path, env.num_slots, env.reserve_price, env.ticks_per_day)
    capacity = config.capacity or int(log.volume.max())
    raw = read_traffic(path, log, env.num_slots, env.reserve_price, capacity)
    split, order = period_rows(dataset, period)
    denom = np.maximum(log.volume, 1.0)
    market = dataset.market[0].reshape(-1, dataset.market.shape[-1])[: period * env.ticks_per_day]
    history = np.concatenate([np.zeros((env.history_len, market.shape[-1]), np.float32), market])[-env.history_len:]
    return Traffic(
        valid=raw.valid, pvalue=np.moveaxis(raw.pvalue, -1, 0), sigma=np.moveaxis(raw.sigma, -1, 0),
        top_bid=raw.top_bid, top_adv=raw.top_adv, shown=raw.shown, budget=log.budget, cpa=log.cpa,
        task=np.asarray(split.task)[order], campaign=np.asarray(split.campaign)[order],
        market_value=(log.pvalue.sum(0) / (denom * len(log.advertiser))).astype(np.float32),
        least_winning_cost=(log.lwc_logged / denom).astype(np.float32),
        history=history.astype(np.float32),
    )


def _auction(env: EnvParams, j, eff, valid, top_bid, top_adv):
    """Advertiser j's place among the logged bids of a step's impressions.

    Args:
      eff: (I,) j's bids taking part (0: none). top_bid, top_adv: (I, K+1) the logged top bids.

    Returns:
      (slot (I,) int32, K where j wins none; price (I,) of that slot; the merged bids' K-th
      and 2nd highest, (I,) each, and whether the 1st is > 0).
    """
    k = env.num_slots
    pos = jnp.argmax(jnp.concatenate([top_adv == j, jnp.ones_like(top_adv[:, :1], bool)], 1), axis=1)  # K+1: absent
    ks = jnp.arange(k + 1)
    take = jnp.where(ks[None, :k] < pos[:, None], ks[None, :k], ks[None, :k] + 1)  # (I, K) others' indices
    others = jnp.take_along_axis(top_bid, take, 1)
    others_adv = jnp.take_along_axis(top_adv, take, 1)
    ahead = (others > eff[:, None]) | ((others == eff[:, None]) & (others_adv < j) & (others_adv >= 0))
    rank = jnp.where(eff > 0, jnp.sum(ahead, 1), k)
    merged = jnp.where(ks[None, :k] < rank[:, None], others,
                       jnp.where(ks[None, :k] == rank[:, None], eff[:, None],
                                 jnp.take_along_axis(others, jnp.maximum(ks[None, :k] - 1, 0), 1)))
    merged = jnp.where((eff > 0)[:, None], merged, others)
    slot = jnp.where(valid & (rank < k), rank, k).astype(jnp.int32)
    price = jnp.maximum(jnp.take_along_axis(others, jnp.minimum(slot, k - 1)[:, None], 1)[:, 0], env.reserve_price)
    return slot, price, merged[:, k - 1], merged[:, 1], merged[:, 0] > 0


def replay_advertiser(env: EnvParams, traffic: Traffic, j: chex.Array, policy_fn, policy_state: Any,
                      key: chex.PRNGKey, features: str = "project") -> dict:
    """Advertiser j's period under `policy_fn` on the logged traffic (module docstring).

    Args:
      env: the market (T, K, r, max_multiplier, impressions_per_day, unit_value).
      traffic: `Traffic` (jnp arrays). j: () advertiser index.
      policy_fn: `sim.rollout.PolicyFn` contract on an `Observation` of one advertiser (N = 1):
        (obs, policy_state, key) -> (actions (1,), policy_state).
      key: the conversion draws and the policy's keys.
      features: the state j observes: "project" (`raw_features.project_features`) or
        "auctionnet" (`raw_features.auctionnet_features`, from j's own bids, slots won and
        conversions and the logged leastWinningCost), as the policy was trained on.

    Returns:
      {"value": realised conversions, "value_continuous": Σ pValue over exposed wins, "cost",
       "wins": () each; "states": (T, 16), "actions": (T,), "cost_per_step": (T,)}.
    """
    if features not in ("project", "auctionnet"):
        raise ValueError(f"replay_advertiser: features={features!r}; use project or auctionnet.")
    t_total, k, n = env.ticks_per_day, env.num_slots, traffic.budget.shape[0]
    i_cap = traffic.valid.shape[1]
    chex.assert_shape(traffic.pvalue, (n, t_total, i_cap))
    chex.assert_shape([traffic.top_bid, traffic.top_adv], (t_total, i_cap, k + 1))
    chex.assert_shape(traffic.shown, (t_total, i_cap, k))
    mean_per_tick = env.impressions_per_day / t_total
    budget, cpa, campaign = traffic.budget[j], traffic.cpa[j], traffic.campaign[j]
    req = requirement(jnp.zeros(()), budget, cpa, campaign)[None]
    unit = jnp.asarray(env.unit_value, jnp.float32)[campaign]

    def step(carry, xs):
        remaining, hist_sum, recent, an_hist, an_recent, history, last_reward, last_expected, pstate = carry
        t, key_t, valid, v, sigma, top_bid, top_adv, shown, market_value, lwc_logged = xs
        k_pol, k_val, k_conv = jax.random.split(key_t, 3)
        n_valid = jnp.sum(valid).astype(jnp.float32)
        denom = jnp.maximum(n_valid, 1.0)
        volume = n_valid / mean_per_tick
        cur_value = jnp.sum(v * valid) / denom
        if features == "project":
            state = project_features(t, t_total, remaining, budget, hist_sum, jnp.sum(recent, 0), cur_value, volume)
        else:
            state = auctionnet_features(t, t_total, remaining, budget, an_hist[:-1], jnp.sum(an_recent[:, :-1], 0),
                                        cur_value, n_valid, jnp.sum(an_recent[:, -1]), an_hist[-1])
        obs = Observation(state=state[None], tick=t, remaining_budget=remaining[None], requirement=req,
                          history=history, campaign=campaign[None], last_reward=last_reward[None],
                          last_expected_reward=last_expected[None])
        action, pstate = policy_fn(obs, pstate, k_pol)
        a = sanitize_actions(action, env)[0]
        eff = jnp.minimum(a * v, remaining) * (remaining >= env.reserve_price)
        eff = jnp.where(valid & (eff >= env.reserve_price) & (eff > 0), eff, 0.0)
        slot, price, kth, second, sold1 = _auction(env, j, eff, valid, top_bid, top_adv)
        shown_j = jnp.take_along_axis(jnp.pad(shown, ((0, 0), (0, 1))), slot[:, None], 1)[:, 0]
        pay = jnp.where((slot < k) & shown_j, price, 0.0)
        cum = _cumsum_rows(pay[:, None])[:, 0]
        keep = cum <= remaining
        exposed = (slot < k) & shown_j & keep
        spend = jnp.max(jnp.where(keep, cum, 0.0))
        p = jnp.clip(v + sigma * jax.random.normal(k_val, v.shape), 0.0, 1.0)
        conv = jnp.sum(jnp.where(exposed, (jax.random.uniform(k_conv, v.shape) < p).astype(jnp.float32), 0.0))
        wins = jnp.sum(exposed).astype(jnp.float32)
        lwc = jnp.sum(jnp.where(valid, jnp.maximum(kth, env.reserve_price), 0.0)) / denom
        first = jnp.where(sold1, jnp.maximum(second, env.reserve_price), 0.0)
        clearing = jnp.sum(first) / jnp.maximum(jnp.sum(sold1), 1.0)
        stats = jnp.stack([a, wins / denom, spend / (budget / t_total), lwc, cur_value, volume])
        xi = jnp.sum(valid & (slot < k)).astype(jnp.float32)
        means = jnp.stack([jnp.sum(a * v * valid) / denom, lwc_logged, cur_value, conv / denom, xi / denom, n_valid])
        market = jnp.stack([volume, market_value, clearing]).astype(jnp.float32)
        carry = (remaining - spend, hist_sum + stats, jnp.concatenate([recent[1:], stats[None]]), an_hist + means,
                 jnp.concatenate([an_recent[1:], means[None]]), jnp.concatenate([history[1:], market[None]]),
                 jnp.full((NUM_VALUE_CHANNELS,), conv / unit),
                 jnp.full((NUM_VALUE_CHANNELS,), jnp.sum(v * exposed) / unit), pstate)
        return carry, dict(value=conv, value_continuous=jnp.sum(v * exposed), cost=spend, wins=wins,
                           states=state, actions=a)

    n_stats, n_an = len(PROJECT_STATS), len(AUCTIONNET_STATS) + 1  # AuctionNet's means and the impression count
    carry = (budget, jnp.zeros((n_stats,)), jnp.zeros((RECENT, n_stats)), jnp.zeros((n_an,)), jnp.zeros((RECENT, n_an)),
             traffic.history, jnp.zeros((NUM_VALUE_CHANNELS,)), jnp.zeros((NUM_VALUE_CHANNELS,)), policy_state)
    xs = (jnp.arange(t_total), jax.random.split(key, t_total), traffic.valid, traffic.pvalue[j], traffic.sigma[j],
          traffic.top_bid, traffic.top_adv, traffic.shown, traffic.market_value, traffic.least_winning_cost)
    _, out = jax.lax.scan(step, carry, xs)
    return dict(value=out["value"].sum(), value_continuous=out["value_continuous"].sum(), cost=out["cost"].sum(),
                wins=out["wins"].sum(), states=out["states"], actions=out["actions"], cost_per_step=out["cost"])


def replay_every_advertiser(env: EnvParams, traffic: Traffic, make_policy, key: chex.PRNGKey,
                            features: str = "project") -> dict:
    """`replay_advertiser` of every advertiser j (a `vmap` axis); `make_policy(j) -> (policy_fn,
    policy_state)` builds j's policy (j traced). Leaves gain a leading N axis."""

    def one(j):
        policy_fn, policy_state = make_policy(j)
        return replay_advertiser(env, traffic, j, policy_fn, policy_state, jax.random.fold_in(key, j), features)

    return jax.vmap(one)(jnp.arange(traffic.budget.shape[0]))


def make_logged_evaluator(dataset: Dataset, model_config, eval_config, period: int | None = None):
    """jit((params (S, K, …), targets (K,)) -> (values, costs), each (S, D, N)): the trained
    policies of every seed on `period` (default: the test period) of the logged traffic, D =
    `eval_config.draws` conversion draws; the layout and conditioning of `evaluate.make_evaluator`
    (advertiser j uses its learning task's model and target return), values realised or expected
    (`eval_config.return_kind`)."""
    env = dataset.config.env
    period = dataset.config.test_day if period is None else period
    traffic = jax.tree.map(jnp.asarray, logged_traffic(dataset, period))
    model, context = make_policy(model_config), model_config.context_len
    length = market_reach(model_config) + context - 1
    series = dataset.market[0].reshape(-1, dataset.market.shape[-1])[: period * env.ticks_per_day - 1]
    market = jnp.asarray(np.concatenate([np.zeros((length, series.shape[-1]), np.float32), series])[-length:])
    kind = "value_continuous" if eval_config.return_kind == "expected" else "value"
    keys = jax.random.split(jax.random.PRNGKey(period), eval_config.draws)

    def evaluate(params, targets):
        def one_seed(seed_params, key):
            def make(j):
                task = traffic.task[j]
                replay = _Replay(stats=dataset.stats, unit=jnp.asarray(env.unit_value, jnp.float32),
                                 task=task[None], market=market, inputs={})
                own = jax.tree.map(lambda p: p[task], seed_params)
                return _policy_fn(model, own, replay), _initial_context(replay, context, targets[task], jnp.int32(0))

            out = replay_every_advertiser(env, traffic, make, key, dataset.config.features)
            return out[kind], out["cost"]

        per_draw = jax.vmap(one_seed, in_axes=(None, 0))
        return jax.vmap(per_draw, in_axes=(0, None))(params, keys)

    return jax.jit(evaluate)


def period_advertisers(dataset: Dataset, period: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(constraint, campaign, task), each (N,) by advertiser, of a logged period (default: the test
    period): what `score.day_metrics` needs of the advertisers scored there."""
    period = dataset.config.test_day if period is None else period
    split, rows = period_rows(dataset, period)
    return (np.asarray(split.constraint)[rows], np.asarray(split.campaign)[rows], np.asarray(split.task)[rows])


def logged_metrics(dataset: Dataset, values: np.ndarray, costs: np.ndarray, beta: float = 2.0,
                   period: int | None = None) -> dict[str, np.ndarray]:
    """`score.METRICS` -> (…, K) per-task metrics of per-advertiser values and costs (…, N) on a
    logged period (`score.day_metrics`, the simulator's evaluation's names)."""
    config = dataset.config
    constraint, campaign, tasks = period_advertisers(dataset, period)
    return day_metrics(values, costs, constraint, campaign, tasks, task_channels(config.env, config.num_tasks),
                       config.env.unit_value, beta)


@functools.partial(jax.jit, static_argnums=(0,))
def fixed_multiplier_replay(env: EnvParams, traffic: Traffic, multiplier: chex.Array, key: chex.PRNGKey) -> dict:
    """Every advertiser bidding the fixed `multiplier` () all period on the logged traffic (a
    reference; `jax.vmap` it over a grid for the best fixed multiplier in hindsight)."""

    def fixed(obs, state, key):
        return jnp.full((1,), multiplier), state

    return replay_every_advertiser(env, traffic, lambda j: (fixed, ()), key)


def logged_totals(dataset: Dataset, return_kind: str = "expected", period: int | None = None):
    """(values (N,), costs (N,)) of the logged behaviour on `period` (default: test), by advertiser:
    the logs' own outcome, the reference `evaluate.logged_totals` gives on the simulator."""
    period = dataset.config.test_day if period is None else period
    split, rows = period_rows(dataset, period)
    values = split.rewards_continuous if return_kind == "expected" else split.rewards
    campaign = np.asarray(split.campaign)[rows]
    own = np.take_along_axis(np.asarray(values)[rows], campaign[:, None, None], 2)[..., 0]
    return own.sum(1), np.asarray(split.cost)[rows].sum(1)
