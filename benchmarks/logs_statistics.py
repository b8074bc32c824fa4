"""What the logs can teach: their constraint statistics under each kind of logged bidder.

    python -m benchmarks.logs_statistics [--config sim] [--seeds 4] [--hindsight-grid 16]

For each `DataConfig.behaviour.kind` ("heuristic": the constraint-blind logs as before issue 23;
"auto_bidder": constraint-aware auto-bidders), on the config's market, it prints per campaign
type (GMV, Dir-GMV, CartCnt):

  * corr(log a, log constraint): over every (seed, episode, training day, advertiser) trajectory
    (seeds 0..S−1 of the data config: one world holds only ~20 constraint levels per type), the
    correlation of its mean log bid multiplier with the log of its constraint (a target ROI for
    GMV and Dir-GMV: a bidder that steers toward it bids less under a higher target, so the
    correlation is negative; a target cost per cart for CartCnt: positive);
  * met: the share of those trajectories that meet their constraint (`vamo_jax.score`:
    ROI ≥ target, or cost per cart ≤ target), on expected values (the score's default) and on
    realised ones;
  * bound: the share of those trajectories that spend ≥ 90% of their budget (there the budget,
    not the constraint, limits the bid), and corr (free): the correlation above among the others
    (a sample selected on an outcome of the bid, a few dozen trajectories per type: a diagnostic,
    not an estimate of the bidders' response);
  * the logs' mean score on the validation day (day 9) against each advertiser's best fixed
    multiplier in hindsight on the same traffic (`vamo_jax.evaluate`), and their ratio.

Only the training days and day 9 are read: nothing here looks at the test day.

Measured on `sim` (seeds 0..3; about 12 minutes on 2 shared cores), as printed:

    behaviour    task      corr(log a, log C)  met (exp.)  met (real.)  bound  corr (free)  logs day 9  hindsight  ratio
    heuristic    gmv                   -0.033        0.70         0.70   0.99       -0.123     1513.04    3006.32   0.50
    heuristic    dir_gmv                0.047        0.58         0.59   0.94        0.019     1377.60    2620.74   0.53
    heuristic    cart                   0.106        0.65         0.65   0.98        0.740      271.17     459.90   0.59
    auto_bidder  gmv                   -0.010        0.92         0.89   0.93        0.349     2056.33    2516.86   0.82
    auto_bidder  dir_gmv               -0.015        0.86         0.81   0.84       -0.221     1916.05    2264.90   0.85
    auto_bidder  cart                   0.211        0.93         0.92   0.95        0.160      330.25     368.22   0.90

The auto-bidders meet their constraint far more often and their logs score far closer to the
hindsight reference, but the budget binds for 84–99% of trajectories under either behaviour, so
pacing, not the constraint, sets most bids: the logs' action–constraint correlation stays small.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from vamo_jax.config import load_config
from vamo_jax.data import make_dataset
from vamo_jax.data.config import DataConfig
from vamo_jax.data.generate import simulate_logs
from vamo_jax.eval_config import EvalConfig
from vamo_jax.evaluate import fixed_multiplier_totals, hindsight_multipliers, logged_totals
from vamo_jax.score import constraint_ratio, score, task_means
from vamo_jax.sim.env import CAMPAIGN_NAMES

KINDS = ("heuristic", "auto_bidder")


def _trajectories(config: DataConfig) -> dict[str, np.ndarray]:
    """Per (episode, training day, advertiser), flattened (M,): campaign, log constraint, mean
    log multiplier, constraint met (expected and realised values), spent share of the budget."""
    world, traj, _, _ = simulate_logs(config)
    days = np.asarray(config.train_days)
    campaign, constraint = np.asarray(world.campaign), np.asarray(world.constraint)
    own = np.arange(len(campaign)), campaign

    def own_total(rewards):  # (E, D, T, N, V) -> (E, D, N) own-channel total
        return np.asarray(rewards)[:, days].sum(2)[..., own[0], own[1]]

    cost = np.asarray(traj.cost)[:, days].sum(2)  # (E, D, N)
    shape = cost.shape

    def met(rewards):
        return (constraint_ratio(own_total(rewards), cost, constraint, campaign, config.env.unit_value) >= 1).ravel()

    return {
        "campaign": np.broadcast_to(campaign, shape).ravel(),
        "log_constraint": np.broadcast_to(np.log(constraint), shape).ravel(),
        "log_action": np.log(np.maximum(np.asarray(traj.actions)[:, days], 1e-6)).mean(2).ravel(),
        "met_expected": met(traj.rewards_continuous),
        "met_realised": met(traj.rewards),
        "spent": (cost / np.asarray(world.budget)).ravel(),
    }


def trajectory_statistics(config: DataConfig, seeds: int) -> dict[str, np.ndarray]:
    """Per campaign type c, over the training days' trajectories of seeds 0..seeds−1: (3,) arrays
    corr (mean log multiplier vs log constraint), met_expected, met_realised, bound (shares),
    corr_free (corr among the trajectories that are not bound)."""
    runs = [_trajectories(dataclasses.replace(config, seed=s)) for s in range(seeds)]
    t = {k: np.concatenate([r[k] for r in runs]) for k in runs[0]}
    out = {"corr": [], "met_expected": [], "met_realised": [], "bound": [], "corr_free": []}
    for c in range(len(CAMPAIGN_NAMES)):
        sel = t["campaign"] == c
        free = sel & (t["spent"] < 0.9)
        out["corr"].append(np.corrcoef(t["log_action"][sel], t["log_constraint"][sel])[0, 1])
        out["met_expected"].append(t["met_expected"][sel].mean())
        out["met_realised"].append(t["met_realised"][sel].mean())
        out["bound"].append((t["spent"][sel] >= 0.9).mean())
        out["corr_free"].append(np.corrcoef(t["log_action"][free], t["log_constraint"][free])[0, 1]
                                if free.sum() > 2 else np.nan)
    return {k: np.asarray(v) for k, v in out.items()}


def validation_scores(config: DataConfig, grid: int, beta: float = 2.0) -> dict[str, np.ndarray]:
    """(3,) per campaign type: the logs' mean score on day 9 and that of each advertiser's best
    fixed multiplier in hindsight (a grid of `grid` multipliers), on the logged traffic."""
    dataset = make_dataset(config)
    eval_config = EvalConfig(day="validation", draws=1, beta=beta, hindsight_grid=grid)
    world, env = dataset.world, config.env
    campaign, constraint = np.asarray(world.campaign), np.asarray(world.constraint)
    values, costs = logged_totals(dataset, eval_config)  # (D, N, V), (D, N)
    logged = score(values[..., np.arange(len(campaign)), campaign], costs, constraint, campaign, env.unit_value, beta)
    g_values, g_costs = fixed_multiplier_totals(dataset, eval_config, hindsight_multipliers(env.max_multiplier, grid))
    best = score(g_values, g_costs, constraint, campaign, env.unit_value, beta).max(0)  # (D, N)
    k = len(CAMPAIGN_NAMES)
    return {"logged": task_means(logged, campaign, k)[0], "hindsight": task_means(best, campaign, k)[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", default="sim")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--hindsight-grid", type=int, default=16)
    args = parser.parse_args()
    base = dataclasses.replace(load_config(args.config).data, cache_dir=None)
    print(f"config {args.config}: {base.env.num_advertisers} advertisers, training days {base.train_days}, "
          f"seeds 0..{args.seeds - 1}; day-9 score (seed {base.seed}) against the best of "
          f"{args.hindsight_grid} fixed multipliers in hindsight")
    header = f"{'behaviour':12s} {'task':8s} {'corr(log a, log C)':>19s} {'met (exp.)':>11s} {'met (real.)':>12s} " \
             f"{'bound':>6s} {'corr (free)':>12s} {'logs day 9':>11s} {'hindsight':>10s} {'ratio':>6s}"
    print(header)
    for kind in KINDS:
        config = dataclasses.replace(base, behaviour=dataclasses.replace(base.behaviour, kind=kind))
        stats = trajectory_statistics(config, args.seeds)
        scores = validation_scores(config, args.hindsight_grid)
        for c, name in enumerate(CAMPAIGN_NAMES):
            print(f"{kind:12s} {name:8s} {stats['corr'][c]:>19.3f} {stats['met_expected'][c]:>11.2f} "
                  f"{stats['met_realised'][c]:>12.2f} {stats['bound'][c]:>6.2f} {stats['corr_free'][c]:>12.3f} "
                  f"{scores['logged'][c]:>11.2f} "
                  f"{scores['hindsight'][c]:>10.2f} {scores['logged'][c] / scores['hindsight'][c]:>6.2f}")


if __name__ == "__main__":
    main()
