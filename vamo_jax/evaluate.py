"""Evaluation on the test day: every advertiser, one at a time, bids with the trained policy.

The logged test day (day 10; day 9 with `EvalConfig.day = "validation"`, to choose settings) is
replayed with its history window and heuristic competitors (`Dataset.eval_inputs`); advertiser j
alone follows the policy, conditioned on its own task's requirement, as in AuctionNet's
evaluation. Its traffic is drawn `EvalConfig.draws` times (`traffic_keys`: draw 0 the logged
traffic, the others fresh impressions and competitor noise from the same day), the same draws for
every method and for the references (common random numbers: paired comparisons see no traffic
difference). Advertisers and seeds are `vmap` axes, draws a `lax.map`, ticks a `lax.scan`, so one
compilation evaluates a method.

References on the same draws and score: the logged behaviour policies (`logged_totals`), and
each advertiser's best fixed bid multiplier in hindsight (`fixed_multiplier_totals`: the best of
a grid, chosen per advertiser and draw after seeing it; a reference, not a bound on every policy).

Return-conditioning: advertiser j's target return (per unit of budget) is the `target_quantile`
of its task's training returns; the return-to-go at tick t is the target minus the own-task value
realised before t, in the training normalisation.

Replications over markets: the scored day is an argument (`Replay`, and its draws' keys), so
`make_evaluator(per_replication=True)` scores R replications, each on its own market's day
(`market_replays`, `draw_keys`) and targets (`market_task_targets`), in one compilation for every
market of a shape; the references likewise (`market_logged_totals`, `market_fixed_multiplier_totals`).
One market's day (`data.markets` None) is compiled in as constants, as it always was.

Market input: each rollout keeps the newest M market ticks it has seen (M = the policy's market
reach, `market_reach`, plus C − 1): the logged days before the test day, then each tick's newest
market tick from its own observation. The replayed market is the rollout's own (the controlled
advertiser's bids move the clearing prices), so it is not shared between advertisers; the causal
temporal module gives on this buffer the features it would give on the whole series.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.data import Dataset, NormStats, Split, normalise_requirement, normalise_states, spec
from vamo_jax.data.config import DataConfig
from vamo_jax.data.markets import replay_inputs
from vamo_jax.data.tasks import advertiser_tasks
from vamo_jax.eval_config import EvalConfig, per_task_quantiles
from vamo_jax.models.config import ModelConfig
from vamo_jax.models.losses import predict_action
from vamo_jax.models.policy import make_policy, market_reach
from vamo_jax.sim import simulate_day
from vamo_jax.sim.market import World
from vamo_jax.sim.policies import HeuristicParams


class _Context(NamedTuple):
    """The controlled advertiser's last C ticks, left-padded (the model's input window), and the
    newest M market ticks: the policy's market reach before the oldest of them (`market_reach`)."""

    advertiser: chex.Array  # ()
    target: chex.Array  # () raw target return per unit of budget
    rtg: chex.Array  # () current return-to-go (normalised)
    states: chex.Array  # (C, S)
    actions: chex.Array  # (C,)
    returns_to_go: chex.Array  # (C,)
    timesteps: chex.Array  # (C,)
    mask: chex.Array  # (C,)
    market: chex.Array  # (M, F), the newest last


class Replay(NamedTuple):
    """One market's scored day as arrays (a pytree, a jit argument; leading R on every leaf for
    replications over markets): what every rollout of the day reads but the traffic key.

    Attributes:
      stats: the market's training `NormStats`.
      market: (M, F) the logged market ticks before the day's first tick (`market_before`).
      world: the market's `World`. day: () int32 the day replayed (an int for one market's constants).
      history: (H, F) the market window before the day. competitors: `HeuristicParams` (N,), the
        logged policies of the day.
    """

    stats: NormStats
    market: chex.Array
    world: World
    day: chex.Array
    history: chex.Array
    competitors: HeuristicParams


class _Replay(NamedTuple):
    """Inside a trace: a `Replay` with the constants of its shape (unit values, advertiser tasks)
    and `simulate_day`'s keyword arguments but the key."""

    stats: NormStats
    unit: chex.Array  # (V,) unit value of each channel
    task: chex.Array  # (N,) each advertiser's learning task
    market: chex.Array  # (M, F) the logged market before the day's first tick
    inputs: dict  # `simulate_day` keyword arguments of the logged day, but its key


def scored_day(config: DataConfig, eval_config: EvalConfig) -> int:
    """The day `eval_config.day` names: the test day (10) to report, the validation day (9) to choose settings."""
    return config.test_day if eval_config.day == "test" else config.val_day


def traffic_keys(dataset: Dataset, day: int, draws: int) -> chex.Array:
    """(D, 2) uint32 key data of D independent draws of `day`'s traffic: draw 0 is the logged day
    (its stored key), draw d ≥ 1 folds d into it (new impressions, values and competitor noise on
    the same advertisers, regime and competitors)."""
    return draw_keys(jnp.asarray(dataset.sim_keys[0, day]), draws)


def draw_keys(logged: chex.Array, draws: int) -> chex.Array:
    """(D, 2) uint32 key data of `traffic_keys` from the logged day's key data (2,) (traceable: `vmap`
    it over markets)."""
    logged = jax.random.wrap_key_data(logged)
    keys = jnp.concatenate([logged[None], jax.vmap(lambda d: jax.random.fold_in(logged, d))(jnp.arange(1, draws))])
    return jax.random.key_data(keys)


def task_targets(dataset: Dataset, quantile: float | tuple[float, ...]) -> np.ndarray:
    """(K,) the target return per unit of budget of each learning task: the `quantile` of the
    task's training returns (one quantile for every task, or one per task)."""
    train, k_total = dataset.train, dataset.config.num_tasks
    quantiles = per_task_quantiles(quantile, k_total)
    returns, tasks = np.asarray(train.returns_to_go)[:, 0], np.asarray(train.task)
    return np.array([np.quantile(returns[tasks == k], quantiles[k]) for k in range(k_total)], np.float32)


def market_task_targets(train: Split, quantile: float | tuple[float, ...], num_tasks: int) -> np.ndarray:
    """(R, K) `task_targets` of R markets at once, from their stacked training splits (leaves (R, M, …)):
    row r is `task_targets` of market r's training days. Every market's split holds the same
    task rows (sorted by task, the counts of the config), so one mask serves all (checked)."""
    quantiles = per_task_quantiles(quantile, num_tasks)
    returns, tasks = np.asarray(train.returns_to_go)[:, :, 0], np.asarray(train.task)
    if not (tasks == tasks[:1]).all():
        raise ValueError("market_task_targets: the markets' training splits hold different task rows; "
                         "markets of one DataConfig never do (give stacked markets of one config).")
    return np.stack([np.quantile(returns[:, tasks[0] == k], quantiles[k], axis=1) for k in range(num_tasks)],
                    1).astype(np.float32)


def market_before(dataset: Dataset, day: int, length: int) -> np.ndarray:
    """(length, F) the logged market ticks of episode 0 up to the one before day − 1's last tick
    (a rollout pushes that last tick, its first observation's newest, itself); zeros in front
    where the logs are shorter."""
    series = dataset.market[0, :day].reshape(-1, dataset.market.shape[-1])[:-1][-length:]
    return np.concatenate([np.zeros((length - len(series), series.shape[-1]), series.dtype), series])


def _push(buffer: chex.Array, value: chex.Array) -> chex.Array:
    """buffer (M, …) with its oldest row dropped and `value` appended."""
    return jnp.concatenate([buffer[1:], value[None]], axis=0)


def _initial_context(replay: _Replay, context: int, target: chex.Array, j: chex.Array) -> _Context:
    """Advertiser j's context before the day: empty window, full target return."""
    return _Context(
        advertiser=j, target=target, rtg=target / replay.stats.return_scale,
        states=jnp.zeros((context, spec.STATE_DIM)), actions=jnp.zeros((context,)),
        returns_to_go=jnp.zeros((context,)), timesteps=jnp.zeros((context,), jnp.int32),
        mask=jnp.zeros((context,)), market=jnp.asarray(replay.market),
    )


def _observe(replay: _Replay, ctx: _Context, obs) -> _Context:
    """The context with tick t appended: its state, return-to-go (the target minus the own-task
    value realised so far), timestep and the market tick before it (action filled in later)."""
    j = ctx.advertiser
    campaign = obs.campaign[j]
    budget = obs.requirement[j, 1]
    reward = obs.last_reward[j, campaign] * replay.unit[campaign] / (budget * replay.stats.return_scale)
    rtg = ctx.rtg - reward
    return ctx._replace(
        rtg=rtg,
        states=_push(ctx.states, normalise_states(obs.state[j], replay.stats)),
        actions=_push(ctx.actions, jnp.zeros(())),
        returns_to_go=_push(ctx.returns_to_go, rtg),
        timesteps=_push(ctx.timesteps, obs.tick.astype(jnp.int32)),
        mask=_push(ctx.mask, jnp.ones(())),
        market=_push(ctx.market, obs.history[-1]),
    )


def _context_batch(replay: _Replay, ctx: _Context, obs) -> spec.TrajectoryBatch:
    """The context as a batch of one window, conditioned on the advertiser's target return."""
    j = ctx.advertiser
    c, m = ctx.actions.shape[0], ctx.market.shape[0]
    requirement = normalise_requirement(obs.requirement[j].at[0].set(ctx.target), replay.stats)
    return spec.TrajectoryBatch(
        states=ctx.states[None], actions=ctx.actions[None],
        rewards=jnp.zeros((1, c, spec.NUM_VALUE_CHANNELS)), returns_to_go=ctx.returns_to_go[None],
        requirement=requirement[None], timesteps=ctx.timesteps[None], mask=ctx.mask[None],
        task=replay.task[j][None].astype(jnp.int32), market=ctx.market[None],
        market_index=jnp.arange(m - c, m, dtype=jnp.int32)[None],
        next_states=jnp.zeros((1, c, spec.STATE_DIM)),
    )


def _policy_fn(model, params: chex.ArrayTree, replay: _Replay):
    """`simulate_day`'s policy: the controlled advertiser bids the model's action (`params`: the
    model of its learning task)."""
    n = replay.task.shape[0]

    def act(obs, ctx: _Context, key):
        del key
        ctx = _observe(replay, ctx, obs)
        action = predict_action(model, params, _context_batch(replay, ctx, obs))[0]
        ctx = ctx._replace(actions=ctx.actions.at[-1].set(action))
        return jnp.zeros((n,)).at[ctx.advertiser].set(action), ctx

    return act


def _simulate(replay: _Replay, key_data: chex.Array, policy_fn, policy_state, j: chex.Array):
    """The day's traffic of `key_data` with advertiser j alone under `policy_fn`: its DayTotals."""
    n = replay.task.shape[0]
    totals, _, _ = simulate_day(key=jax.random.wrap_key_data(key_data), policy_fn=policy_fn,
                                policy_state=policy_state, controlled_mask=jnp.arange(n) == j, **replay.inputs)
    return totals


def _rollout(model, replay: _Replay, context: int, kind: str, params: chex.ArrayTree, targets: chex.Array,
             key_data: chex.Array, j: chex.Array):
    """Advertiser j alone under the policy on one draw of the day: (own-channel value, cost);
    `params` carry a task axis K, and j bids with its learning task's model and target."""
    task = replay.task[j]
    own = jax.tree.map(lambda p: p[task], params)
    totals = _simulate(replay, key_data, _policy_fn(model, own, replay),
                       _initial_context(replay, context, targets[task], j), j)
    return getattr(totals, kind)[j, totals.campaign[j]], totals.cost[j]


def replay_of(dataset: Dataset, day: int, market_length: int) -> Replay:
    """The `Replay` of the logged `day` of `dataset` (episode 0), with the `market_length` logged
    market ticks before it."""
    inputs = dataset.eval_inputs(day)
    return Replay(stats=dataset.stats, market=jnp.asarray(market_before(dataset, day, market_length)),
                  world=inputs["world"], day=day, history=inputs["history"], competitors=inputs["competitors"])


def market_replays(markets, config: DataConfig, day: int, market_length: int) -> Replay:
    """The `Replay`s of the logged `day` of stacked markets (`vamo_jax.data.markets.Market`, leaves
    (R, …)), leaves (R, …); market r's equals `replay_of(market_dataset(market_at(markets, r)), …)`."""
    def one(market):
        r = replay_inputs(market, config, day, market_length)
        return Replay(stats=market.stats, market=r.series, world=r.world, day=r.day, history=r.history,
                      competitors=r.competitors)

    return jax.vmap(one)(markets)


def _bind(config: DataConfig, replay: Replay) -> _Replay:
    """`replay` with its shape's constants, inside a trace."""
    env = config.env
    return _Replay(stats=replay.stats, unit=jnp.asarray(env.unit_value, jnp.float32),
                   task=jnp.asarray(advertiser_tasks(env, config.num_tasks)), market=replay.market,
                   inputs=dict(params=env, world=replay.world, day=replay.day, history=replay.history,
                               competitors=replay.competitors))


def _value_kind(config: EvalConfig) -> str:
    return "value_continuous" if config.return_kind == "expected" else "value"


def _over_draws(keys: chex.Array, one_draw):
    """`one_draw(key_data) -> pytree` over the D draws one at a time (`lax.map`: memory of one
    draw), each leaf's draw axis moved behind the leading (seed or grid) axis."""
    return jax.tree.map(lambda x: jnp.moveaxis(x, 0, 1), jax.lax.map(one_draw, keys))


def market_length(model_config: ModelConfig) -> int:
    """M: the logged market ticks a rollout starts with (the policy's market reach plus C − 1)."""
    return market_reach(model_config) + model_config.context_len - 1


def make_evaluator(data_config: DataConfig, model_config: ModelConfig, config: EvalConfig,
                   per_replication: bool = False, day: tuple[Replay, chex.Array] | None = None):
    """jit((params (S, K, …), targets, replay, keys) -> per-advertiser own-task values and costs,
    each (S, D, N), on the D draws `keys` (D, 2) of the scored day `replay` (`replay_of`,
    `market_length(model_config)` market ticks; keys `traffic_keys` of `config.draws`).

    The params carry a task axis K: STL's K models as they are, a multi-task model repeated
    (`Method.task_models`), so one compilation serves every method. Advertiser j uses the model and
    the target return (`task_targets`) of its learning task, and is scored on its campaign type's
    value channel. Seeds and advertisers are `vmap` axes, draws a `lax.map`.

    `per_replication`: the leading axis S of the params is the replications', each its own market:
    targets (S, K), replay leaves (S, …) and keys (S, D, 2), replication r's rollouts on its own
    (`market_replays`, `draw_keys`); otherwise every seed shares targets (K,), replay and keys (D, 2).
    The market is an argument, so one compilation serves every market of a shape.

    `day`: (replay, keys) of one market compiled in as constants: jit((params, targets) -> …), the
    one-market path (`data.markets` None), whose pinned numbers were made so (XLA folds constants,
    so the same day as an argument differs in the last bits).
    """
    c = model_config.context_len
    model = make_policy(model_config)
    kind = _value_kind(config)
    advertisers = jnp.arange(data_config.env.num_advertisers)

    def rollouts(params, targets, replay, key_data):  # (…) → (N,) values and costs of every advertiser
        rollout = functools.partial(_rollout, model, _bind(data_config, replay), c, kind, params, targets, key_data)
        return jax.vmap(rollout)(advertisers)

    def shared(params, targets, replay, keys):
        def one_draw(key_data):
            return jax.vmap(rollouts, in_axes=(0, None, None, None))(params, targets, replay, key_data)

        return _over_draws(keys, one_draw)

    def per_market(params, targets, replay, keys):
        def one_draw(key_data):  # (S, 2): each replication's key of this draw
            return jax.vmap(rollouts)(params, targets, replay, key_data)

        return _over_draws(jnp.swapaxes(keys, 0, 1), one_draw)

    evaluate = per_market if per_replication else shared
    if day is not None:
        replay, keys = day
        return jax.jit(lambda params, targets: evaluate(params, targets, replay, keys))
    return jax.jit(evaluate)


def logged_totals(dataset: Dataset, config: EvalConfig):
    """(values (D, N, V), costs (D, N)) of the logged behaviour policies on the D draws of the
    scored day (a reference: draw 0 is the logged day itself)."""
    day = scored_day(dataset.config, config)
    replay, kind = replay_of(dataset, day, 1), _value_kind(config)
    values, costs = jax.jit(lambda keys: _logged_day(replay, keys, config=dataset.config, kind=kind))(
        traffic_keys(dataset, day, config.draws))
    return np.asarray(values), np.asarray(costs)


def _logged_day(replay: Replay, keys: chex.Array, *, config: DataConfig, kind: str):
    """(values (D, N, V), costs (D, N)) of the logged policies on draws `keys` (D, 2) of `replay`."""
    bound = _bind(config, replay)
    n = bound.task.shape[0]

    def noop(obs, state, key):
        return jnp.zeros((n,)), state

    def one_draw(key_data):
        totals = _simulate(bound, key_data, noop, (), jnp.asarray(-1))
        return getattr(totals, kind), totals.cost

    return jax.lax.map(one_draw, keys)


def market_logged_totals(replays: Replay, keys: chex.Array, data_config: DataConfig, config: EvalConfig):
    """`logged_totals` of R markets at once: replays (R, …) (`market_replays`, one market tick),
    keys (R, D, 2); values (R, D, N, V), costs (R, D, N)."""
    values, costs = _markets_logged(replays, keys, config=data_config, kind=_value_kind(config))
    return np.asarray(values), np.asarray(costs)


@functools.partial(jax.jit, static_argnames=("config", "kind"))
def _markets_logged(replays, keys, *, config, kind):
    return jax.vmap(lambda r, k: _logged_day(r, k, config=config, kind=kind))(replays, keys)


def hindsight_multipliers(max_multiplier: float, count: int) -> np.ndarray:
    """(count,) the grid of fixed bid multipliers of the hindsight reference: 0 and log-spaced
    values from max_multiplier / 1000 up to max_multiplier."""
    return np.concatenate([[0.0], np.geomspace(max_multiplier / 1000, max_multiplier, count - 1)]).astype(np.float32)


def fixed_multiplier_totals(dataset: Dataset, config: EvalConfig, multipliers: np.ndarray):
    """(own-campaign values, costs), each (G, D, N): advertiser j alone bidding the fixed
    multiplier `multipliers[g]` all day on draw d of the scored day (the others logged). The
    best g per advertiser and draw is the best fixed multiplier in hindsight."""
    day = scored_day(dataset.config, config)
    replay, kind, multipliers = replay_of(dataset, day, 1), _value_kind(config), jnp.asarray(multipliers)
    values, costs = jax.jit(lambda keys: _fixed_day(replay, keys, multipliers, config=dataset.config, kind=kind))(
        traffic_keys(dataset, day, config.draws))
    return np.asarray(values), np.asarray(costs)


def _fixed_day(replay: Replay, keys: chex.Array, multipliers: chex.Array, *, config: DataConfig, kind: str):
    """(values, costs) (G, D, N) of each advertiser alone at each fixed multiplier, draws `keys` of `replay`."""
    bound = _bind(config, replay)
    n = bound.task.shape[0]

    def rollout(alpha, key_data, j):
        def fixed(obs, state, key):
            return jnp.zeros((n,)).at[j].set(alpha), state

        totals = _simulate(bound, key_data, fixed, (), j)
        return getattr(totals, kind)[j, totals.campaign[j]], totals.cost[j]

    def one_draw(key_data):
        per_alpha = jax.vmap(rollout, in_axes=(None, None, 0))
        return jax.vmap(per_alpha, in_axes=(0, None, None))(multipliers, key_data, jnp.arange(n))

    return _over_draws(keys, one_draw)


def market_fixed_multiplier_totals(replays: Replay, keys: chex.Array, multipliers: np.ndarray,
                                   data_config: DataConfig, config: EvalConfig):
    """`fixed_multiplier_totals` of R markets at once: replays (R, …), keys (R, D, 2); (R, G, D, N) each."""
    values, costs = _markets_fixed(replays, keys, jnp.asarray(multipliers), config=data_config,
                                   kind=_value_kind(config))
    return np.asarray(values), np.asarray(costs)


@functools.partial(jax.jit, static_argnames=("config", "kind"))
def _markets_fixed(replays, keys, multipliers, *, config, kind):
    return jax.vmap(lambda r, k: _fixed_day(r, k, multipliers, config=config, kind=kind))(replays, keys)
