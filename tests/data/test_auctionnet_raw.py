"""AuctionNet's raw format: the simulator writes it, the reader gives back the simulator's own day.

The reference is the simulator's own replay of the logged day (`simulate_day` on
`Dataset.eval_inputs`), computed here independently of the writer and the reader.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import polars as pl
import pytest

from tests.data.conftest import CONFIG
from vamo_jax.data import export_auctionnet
from vamo_jax.data.auctionnet_data import load_auctionnet
from vamo_jax.data.auctionnet_raw import RAW_COLUMNS, RAW_SCHEMA, read_period, read_traffic
from vamo_jax.data.config import AuctionNetConfig
from vamo_jax.data.raw_export import cpa_constraint, write_period
from vamo_jax.data.raw_features import auctionnet_states, project_states
from vamo_jax.sim import simulate_day

DAY = CONFIG.test_day
ENV = CONFIG.env


@pytest.fixture(scope="module")
def raw_dir(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    for day in (DAY - 2, DAY - 1, DAY):
        write_period(dataset, day, str(out / f"period-{day}.csv"))
    write_period(dataset, DAY, str(out.parent / f"{out.name}-period-{DAY}.parquet"), chunk=ENV.ticks_per_day // 4)
    return out


@pytest.fixture(scope="module")
def own_day(dataset):
    """The simulator's own replay of the logged day: (totals, trajectory), every array numpy."""
    inputs = dataset.eval_inputs(DAY)
    params = inputs.pop("params")
    n = params.num_advertisers

    def noop(obs, state, key):
        return jnp.zeros((n,)), state

    replay = jax.jit(lambda x: simulate_day(params=params, policy_fn=noop, policy_state=(),
                                            controlled_mask=jnp.zeros(n, bool), **x)[:2])
    return jax.tree.map(np.asarray, replay(inputs))


def _log(path):
    return read_period(str(path), ENV.num_slots, ENV.reserve_price, ENV.ticks_per_day)


def test_round_trip_equals_the_simulators_day(dataset, raw_dir, own_day):
    totals, traj = own_day
    log = _log(raw_dir / f"period-{DAY}.csv")
    campaign = np.asarray(dataset.world.campaign)
    unit = np.asarray(ENV.unit_value, np.float32)[campaign]

    def own(x):  # (T, N, 3) → (N, T) own channel in bid currency
        return np.take_along_axis(np.moveaxis(x, 0, 1), campaign[:, None, None], 2)[..., 0] * unit[:, None]

    close = dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_array_equal(log.remaining, traj.remaining.T)
    np.testing.assert_allclose(project_states(log, ENV.impressions_per_day / ENV.ticks_per_day),
                               np.moveaxis(traj.states, 0, 1), **close)
    np.testing.assert_allclose(np.where(log.pvalue > 0, log.bid / np.maximum(log.pvalue, 1e-30), 0), traj.actions.T,
                               **close)
    np.testing.assert_allclose(log.cost, traj.cost.T, **close)
    np.testing.assert_allclose(log.exposed_conversions, own(traj.rewards), **close)
    np.testing.assert_allclose(log.exposed_value, own(traj.rewards_continuous), **close)
    np.testing.assert_allclose(log.volume / (ENV.impressions_per_day / ENV.ticks_per_day), traj.market[:, 0], **close)
    np.testing.assert_allclose(log.first_price / np.maximum(log.sold, 1), traj.market[:, 2], **close)
    np.testing.assert_array_equal(log.budget, np.asarray(dataset.world.budget))
    np.testing.assert_allclose(log.cpa, cpa_constraint(dataset.world, ENV), rtol=1e-7)
    assert totals.cost.sum() > 0 and log.exposed_conversions.sum() > 0  # a day with spend and conversions


def test_parquet_reads_as_the_csv(raw_dir):
    a, b = _log(raw_dir / f"period-{DAY}.csv"), _log(raw_dir.parent / f"{raw_dir.name}-period-{DAY}.parquet")
    for field in ("remaining", "bid", "pvalue", "cost", "exposed_value", "volume", "lwc_kth", "lwc_logged"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_columns_and_market_rules_on_the_file(raw_dir):
    frame = pl.read_csv(raw_dir / f"period-{DAY}.csv", schema_overrides=RAW_SCHEMA)
    assert tuple(frame.columns) == RAW_COLUMNS
    assert (frame["pValueSigma"] == 0).all()  # no counterpart in the simulator
    by_imp = frame.group_by("pvIndex").agg(pl.len(), (pl.col("adSlot") > 0).sum().alias("slots"),
                                           pl.col("adSlot").filter(pl.col("adSlot") > 0).n_unique().alias("distinct"))
    assert (by_imp["len"] == ENV.num_advertisers).all()
    assert (by_imp["slots"] == by_imp["distinct"]).all() and by_imp["slots"].max() == ENV.num_slots
    paid = frame.filter(pl.col("cost") > 0)
    assert (paid["isExposed"] == 1).all() and (paid["xi"] == 1).all()  # pay only on exposure
    # The last slot's price is AuctionNet's leastWinningCost (the (K+1)-th bid).
    last = frame.filter((pl.col("adSlot") == ENV.num_slots) & (pl.col("isExposed") == 1))
    np.testing.assert_array_equal(last["cost"].to_numpy(), last["leastWinningCost"].to_numpy())


def test_traffic_top_bids_are_the_logged_ones(raw_dir):
    path = raw_dir / f"period-{DAY}.csv"
    log = _log(path)
    traffic = read_traffic(str(path), log, ENV.num_slots, ENV.reserve_price, int(log.volume.max()))
    frame = pl.read_csv(path, schema_overrides=RAW_SCHEMA).filter(pl.col("timeStepIndex") == 5)
    eff = np.minimum(frame["bid"].to_numpy(), frame["remainingBudget"].to_numpy())
    eff = np.where((frame["remainingBudget"].to_numpy() >= ENV.reserve_price) & (eff >= ENV.reserve_price), eff, 0)
    bids = eff.reshape(-1, ENV.num_advertisers)  # rows are (impression, advertiser) in order
    order = np.lexsort((np.broadcast_to(np.arange(bids.shape[1]), bids.shape), -bids), axis=1)  # ties: lower first
    order = order[:, : ENV.num_slots + 1]
    expected = np.take_along_axis(bids, order, 1)
    n_imp = bids.shape[0]
    np.testing.assert_array_equal(traffic.top_bid[5, :n_imp], expected.astype(np.float32))
    np.testing.assert_array_equal(traffic.top_adv[5, :n_imp], np.where(expected > 0, order, -1))
    np.testing.assert_array_equal(traffic.valid[5], np.arange(traffic.valid.shape[1]) < n_imp)
    np.testing.assert_array_equal(traffic.pvalue[5, :n_imp], frame["pValue"].to_numpy().reshape(n_imp, -1))
    winners = frame.filter(pl.col("adSlot") == 1)
    np.testing.assert_array_equal(winners["bid"].to_numpy() > 0, np.ones(len(winners), bool))


def test_auctionnet_features_against_a_direct_computation(raw_dir):
    path = raw_dir / f"period-{DAY}.csv"
    log = _log(path)
    states = auctionnet_states(log)
    frame = pl.read_csv(path, schema_overrides=RAW_SCHEMA).filter(pl.col("advertiserNumber") == 3)
    per_step = frame.group_by("timeStepIndex").agg(
        pl.col("bid").mean(), pl.col("leastWinningCost").mean(), pl.col("pValue").mean(), pl.len()).sort("timeStepIndex")
    t = 7
    bids, lwc = per_step["bid"].to_numpy(), per_step["leastWinningCost"].to_numpy()
    volume = per_step["len"].to_numpy()
    np.testing.assert_allclose(states[3, t, 2], bids[:t].mean(), rtol=1e-5)
    np.testing.assert_allclose(states[3, t, 3], bids[t - 3:t].mean(), rtol=1e-5)
    np.testing.assert_allclose(states[3, t, 4], lwc[:t].mean(), rtol=1e-5)
    np.testing.assert_allclose(states[3, t, 12], per_step["pValue"].to_numpy()[t], rtol=1e-5)
    assert states[3, t, 13] == volume[t] and states[3, t, 14] == volume[t - 3:t].sum()
    assert states[3, t, 15] == volume[:t].sum()
    np.testing.assert_array_equal(states[:, 0, 2:12], 0)  # nothing before the first step


def _config(raw_dir, **changes):
    env = dataclasses.replace(ENV, campaign_mix=(0.0, 0.0, 1.0), unit_value=(1.0, 1.0, 1.0))
    fields = dict(path=str(raw_dir), num_days=DAY, train_days=(DAY - 2,), val_day=DAY - 1, test_day=DAY,
                  num_tasks=ENV.num_categories, train_per_task=None, env=env)
    return AuctionNetConfig(**{**fields, **changes})


def test_dataset_from_raw_periods(dataset, raw_dir):
    ds = load_auctionnet(_config(raw_dir))
    test = ds.test
    n, t_total = ENV.num_advertisers, ENV.ticks_per_day
    assert test.size == n and ds.train.size == n and np.all(np.asarray(test.day) == DAY)
    # Tasks by category: every advertiser's task is its category's rank.
    np.testing.assert_array_equal(test.task, test.category)
    assert np.all(np.diff(test.task) >= 0)  # sorted by task
    # One conversion type: every channel holds the conversions; returns-to-go from them.
    np.testing.assert_array_equal(test.rewards[..., 0], test.rewards[..., 2])
    rtg = np.flip(np.cumsum(np.flip(test.rewards[..., 2], 1), 1), 1) / test.budget[:, None]
    np.testing.assert_allclose(test.returns_to_go, rtg, rtol=1e-5)
    assert test.states.shape == (n, t_total, 16)
    np.testing.assert_array_equal(test.next_states[:, :-1], test.states[:, 1:])
    np.testing.assert_array_equal(test.next_states[:, -1], 0)
    # A budget that runs out ends the spend, not the trajectory: T steps, no cost once exhausted.
    out = np.asarray(test.remaining) < ENV.reserve_price
    assert np.all(np.asarray(test.cost)[out] == 0)
    # The market series of the test period is the simulator's.
    np.testing.assert_allclose(ds.market[0, DAY], dataset.market[0, DAY], rtol=2e-5, atol=2e-5)
    # CPA-tightness classes: K quantile classes of the training CPAConstraint, tightest first.
    by_cpa = load_auctionnet(_config(raw_dir, task_by="cpa_class", num_tasks=2))
    cpa, task = np.asarray(by_cpa.train.constraint), np.asarray(by_cpa.train.task)
    assert cpa[task == 0].max() <= cpa[task == 1].min() and np.bincount(task).min() >= n // 2 - 1


def test_refuses_bad_files_by_name(raw_dir, dataset, tmp_path):
    good = pl.read_csv(raw_dir / f"period-{DAY}.csv", schema_overrides=RAW_SCHEMA)
    good.drop("pValue").write_csv(tmp_path / "period-1.csv")
    with pytest.raises(ValueError, match=r"period-1\.csv: missing raw column\(s\) \['pValue'\]"):
        _log(tmp_path / "period-1.csv")
    export_auctionnet(dataset, str(tmp_path / "processed"))  # the project's trajectory export
    with pytest.raises(ValueError, match="processed trajectories"):
        _log(tmp_path / "processed" / f"day_{DAY:02d}.csv")
    good.with_columns(pl.lit("n/a").alias("cost")).write_csv(tmp_path / "period-2.csv")
    with pytest.raises(ValueError, match=r"period-2\.csv: a value does not parse"):
        _log(tmp_path / "period-2.csv")
    good.filter(~((pl.col("advertiserNumber") == 4) & (pl.col("timeStepIndex") == 9))).write_csv(tmp_path / "period-3.csv")
    with pytest.raises(ValueError, match="advertiserNumber 4 has no row at timeStepIndex 9"):
        _log(tmp_path / "period-3.csv")
    with pytest.raises(ValueError, match=r"no file for period\(s\) \[3, "):
        load_auctionnet(_config(raw_dir, num_days=DAY + 2, train_days=(3,), val_day=DAY + 1, test_day=DAY + 2))
    with pytest.raises(ValueError, match="set data.num_tasks=3"):
        load_auctionnet(_config(raw_dir, num_tasks=4))
