"""Impressions auctioned per second: the JAX simulator against a per-tick NumPy implementation.

    python benchmarks/simulator_throughput.py [--days 8] [--numpy-days 1]

Both run the same rules on the `sim` preset's market (N advertisers, the same impression
capacity and arrival rate, K-slot GSP with reserve, exposure, no-overspend budget rule, the same
value model) with fixed-multiplier bidders. The NumPy version is the straightforward one: a
Python loop over ticks, each tick vectorised over impressions and advertisers. The JAX version
simulates `--days` days at once (`vmap` over days, `lax.scan` over ticks), compiled once; its
time excludes compilation. The last line times `make_dataset` for the default 10-day `sim`
data set (compile included, then again with the compilation cached).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax import sim
from vamo_jax.config import load_config
from vamo_jax.data import make_dataset
from vamo_jax.sim import market as market_lib


def numpy_day(rng, params: sim.EnvParams, world, day: int, multipliers: np.ndarray) -> tuple[int, float]:
    """One day with the simulator's rules in NumPy; returns (impressions arrived, total spend).

    (Store conversions are drawn too, as the JAX simulator does, but not returned.)
    """
    n, i_cap, k = params.num_advertisers, params.impression_capacity, params.num_slots
    vol, val = market_lib.volume_curve(params), market_lib.value_curve(params)
    exposure = np.asarray(params.slot_exposure)
    w = {f: np.asarray(v) for f, v in world.items()}
    regime = w["regime"][day]
    drift = np.exp(params.block_drift_sd * rng.standard_normal((params.num_blocks, n)) - 0.5 * params.block_drift_sd**2)
    unit = np.asarray(params.unit_value)[w["campaign"]]
    remaining = w["budget"].copy()
    arrived, spend_total, conversions = 0, 0.0, 0
    for t in range(params.ticks_per_day):
        expected = params.mean_impressions_per_tick * vol[t] * np.exp(
            params.volume_noise * rng.standard_normal() - 0.5 * params.volume_noise**2 + regime[3])
        valid = rng.random(i_cap) < expected / i_cap
        e = rng.standard_normal((4, i_cap, n))
        u = np.sqrt(params.user_corr) * rng.standard_normal((i_cap, 1)) + np.sqrt(1 - params.user_corr) * e[0]
        s = params.impression_sd
        pconv = np.clip(w["conv_rate"] * val[t] * drift[min(t // params.block_len, params.num_blocks - 1)]
                        * np.exp(s * u - 0.5 * s * s), 0, 1)
        amount = w["order_value"] * np.exp(0.3 * e[1] - 0.045 + regime[0])
        q = w["direct_share"]
        direct = np.clip(1 / (1 + np.exp(-(np.log(q / (1 - q + 1e-6)) + 0.8 * e[2]))) * np.exp(regime[1]), 0, 1)
        pcart = np.clip(pconv * w["cart_ratio"] * np.exp(0.3 * e[3] - 0.045 + regime[2]), 0, 1)
        gmv = pconv * amount
        own = np.where(w["campaign"] == 0, gmv, np.where(w["campaign"] == 1, gmv * direct, pcart)) * unit
        bids = np.minimum(multipliers * own, remaining) * (remaining >= params.reserve_price)
        bids = np.where(valid[:, None] & (bids >= params.reserve_price), bids, 0.0)
        order = np.argsort(-bids, axis=1, kind="stable")[:, : k + 1]
        top = np.take_along_axis(bids, order, axis=1)
        sold = top[:, :k] > 0
        price = np.where(sold, np.maximum(top[:, 1:], params.reserve_price), 0.0)
        shown = sold & (rng.random((i_cap, k)) < exposure)
        cost_in = np.zeros((i_cap, n))
        rows = np.repeat(np.arange(i_cap)[:, None], k, 1)
        cost_in[rows[shown], order[:, :k][shown]] = price[shown]
        cum = np.cumsum(cost_in, 0)
        keep = cum <= remaining
        spend = np.max(np.where(keep, cum, 0.0), 0)
        kept = shown & np.take_along_axis(keep, order[:, :k], 1)
        conversions += int((kept & (rng.random((i_cap, k)) < np.take_along_axis(pconv, order[:, :k], 1))).sum())
        remaining = remaining - spend
        arrived += int(valid.sum())
        spend_total += float(spend.sum())
    return arrived, spend_total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=8, help="days per JAX call (a vmap axis)")
    ap.add_argument("--numpy-days", type=int, default=2)
    ap.add_argument("--skip-dataset", action="store_true")
    args = ap.parse_args()

    config = load_config("sim").data
    params = config.env
    world = sim.make_world(jax.random.key(0), params, args.days + 1)
    mask = jnp.ones(params.num_advertisers, bool)

    def policy(obs, state, key):
        return jnp.ones(obs.state.shape[0]), state

    run = jax.jit(jax.vmap(lambda k, d: sim.simulate_day(k, params, world, d, policy, 0.0, mask)[1].market[:, 0].sum()))
    keys = jax.random.split(jax.random.key(1), args.days)
    days = jnp.arange(1, args.days + 1)
    t0 = time.perf_counter()
    run(keys, days).block_until_ready()
    compile_s = time.perf_counter() - t0
    reps, t0 = 3, time.perf_counter()
    for r in range(reps):
        vol = run(jax.random.split(jax.random.key(2 + r), args.days), days).block_until_ready()
    jax_s = (time.perf_counter() - t0) / reps
    jax_imps = float(vol.sum()) * params.mean_impressions_per_tick
    jax_rate = jax_imps / jax_s

    rng = np.random.default_rng(0)
    np_world = jax.device_get(world)
    t0, np_imps = time.perf_counter(), 0
    for d in range(args.numpy_days):
        np_imps += numpy_day(rng, params, np_world, 1 + d, np.ones(params.num_advertisers))[0]
    np_s = time.perf_counter() - t0
    np_rate = np_imps / np_s

    load = os.getloadavg()[0]
    print(f"CPU: {os.cpu_count()} cores, load average {load:.2f} (shared machine)")
    print(f"market: N={params.num_advertisers} advertisers, {params.impressions_per_day} impressions/day, "
          f"capacity {params.impression_capacity}/tick, {params.ticks_per_day} ticks, K={params.num_slots}")
    print(f"JAX   : {jax_rate:12,.0f} impressions/s  ({args.days} days/call, {jax_s:.3f}s/call, compile {compile_s:.1f}s)")
    print(f"NumPy : {np_rate:12,.0f} impressions/s  ({args.numpy_days} days, {np_s:.2f}s)")
    print(f"ratio : {jax_rate / np_rate:.1f}x")
    if not args.skip_dataset:
        cfg = dataclasses.replace(config, cache_dir=None)
        t0 = time.perf_counter()
        ds = make_dataset(cfg)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        make_dataset(cfg)
        second = time.perf_counter() - t0
        sizes = {s: ds.split(s).size for s in ("train", "val", "test")}
        print(f"dataset 'sim' (10 days + burn-in, {sizes}): {first:.1f}s with compilation, {second:.1f}s cached")


if __name__ == "__main__":
    main()
