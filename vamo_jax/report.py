"""Results of a run: the results dictionary (`summarize`, with paired CIs), the markdown tables and
`results.json` (the figures are `vamo_jax.figures`).

Every file is written to a temporary name and then renamed, so a run that fails (or is killed)
while writing leaves either the complete file or none, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vamo_jax import config as config_lib
from vamo_jax import stats
from vamo_jax.mtl.metrics import mean_rank


COMPARED_WITH = ("equal",)
"""Rows every method is also compared with (paired CIs), besides the baseline, when present."""

REFERENCE_BIDDERS = {"logged_behaviour": "logged behaviour policies",
                     "best_fixed_multiplier": "best fixed multiplier in hindsight"}
"""The bidders scored beside the methods on the same day, draws and score: results.json key -> row label."""


def summarize(
    scores: Mapping[str, np.ndarray],
    tasks: Sequence[str],
    baseline: str = "stl",
    extra: Mapping[str, Mapping[str, np.ndarray]] | None = None,
    ci_seed: int = 0,
    markets: int | None = None,
) -> dict:
    """The results dictionary.

    Δm% (paper §4.1) is taken over the tasks where the baseline's mean score is > 0 (a task
    whose baseline earns nothing has no relative change); `tasks_left_out` counts the others.
    Every method is compared with the baseline and with each of `COMPARED_WITH` present (paired on
    seeds, `vamo_jax.stats`): Δm% and each task's score difference with their 95% bootstrap
    CIs, `resolved` where the CI excludes 0, and the probability of improvement.

    Args:
      scores: method -> (S, K) per-seed, per-task score of the scored day, or (S, K, D) with D test
        draws (averaged within a seed: the seed is the resampling unit of the CIs).
      tasks: the K task names.
      baseline: the method Δm% is measured against (STL in the paper).
      extra: optional metric name -> method -> (S, K) or (S, K, D) further per-task metrics
        (score, value, cost, online ratio, violation rate, …); any name flows through.
      ci_seed: the seed of every bootstrap resampling (same inputs and seed, same CIs).
      markets: None: the rows are the S seeds of one market, the CIs resample seeds. M: the rows
        are R = M × S replications over markets, market-major (row r: market r // S); the CIs are
        the cluster bootstrap (`stats.cluster_bootstrap_ci`: markets, then seeds within).

    Returns:
      {"tasks": [...], "baseline": name, "compared_with": [baseline, "equal"?], "ci": {how the CIs
      are made}, "methods": {name: {"per_task": {task: {"mean", "std", "seeds", "draws"}}, "per_task_ci":
      {task: interval}, "delta_m": Δm% of the seed means, "delta_m_seeds": Δm% of each seed,
      "delta_m_std": their std, "tasks_left_out": …, "mean_rank": …, "comparisons": {compared row:
      {"delta_m": interval, "per_task": {task: interval of the score difference method −
      compared row}, "probability_of_improvement": {"mean", "per_task": {task: P}}}}, "metrics":
      {metric: {task: {"mean", "std", "seeds", "draws"}}}}}}, with a "note" when tasks are left out. An
      interval is {"estimate", "low", "high", "resolved"[, "note"]}; low/high are null when
      there is no interval (fewer than `stats.MIN_SEEDS` seeds, or a degenerate bootstrap: the
      note says which).
    """
    if baseline not in scores:
        raise ValueError(f"the baseline {baseline!r} has no results; methods: {sorted(scores)}.")
    raw, scores = scores, {m: stats.seed_means(r, 2) for m, r in scores.items()}
    base_mean = scores[baseline].mean(0)
    scored = stats.scored_tasks(base_mean)
    compared_with = [baseline] + [r for r in COMPARED_WITH if r in scores and r != baseline]
    ranks = mean_rank({m: r.mean(0) for m, r in scores.items()})
    num_rows = int(scores[baseline].shape[0])
    if markets is not None and (markets < 1 or num_rows % markets):
        raise ValueError(f"summarize: {num_rows} rows are not markets={markets} markets of equal seeds.")
    ci = ({"confidence": stats.CONFIDENCE, "method": "BCa", "n_resamples": stats.N_RESAMPLES,
           "seed": ci_seed, "num_seeds": num_rows,
           "unit": "training seed, paired across methods; test draws averaged within a seed"} if markets is None else
          {"confidence": stats.CONFIDENCE, "method": "BCa cluster bootstrap", "n_resamples": stats.N_RESAMPLES,
           "seed": ci_seed, "num_markets": markets, "num_seeds": num_rows // markets,
           "unit": "market, then training seed within a market (two-stage), paired across methods; test draws "
                   "averaged within a replication"})
    out = {"tasks": list(tasks), "baseline": baseline, "compared_with": compared_with, "ci": ci, "methods": {}}
    if not scored.all():
        left_out = [t for t, s in zip(tasks, scored) if not s]
        out["note"] = (f"Δm% is over {int(scored.sum())} of {len(tasks)} tasks: the baseline earns nothing on "
                       f"{', '.join(left_out[:6])}{' …' if len(left_out) > 6 else ''}.")
    for method, r in scores.items():
        dm, per_seed = stats.delta_m_seeds(r, base_mean)
        entry = {
            "per_task": _per_task(raw[method], tasks),
            "per_task_ci": dict(zip(tasks, (ci.as_dict() for ci in _task_mean_cis(r, markets, ci_seed)))),
            "delta_m": dm,
            "delta_m_seeds": per_seed,
            "delta_m_std": float(np.std(per_seed)) if per_seed else float("nan"),
            "tasks_left_out": int((~scored).sum()),
            "mean_rank": ranks[method],
            "comparisons": {other: {**paired_comparison(r, scores[other], tasks, ci_seed, markets),
                                    "variance_components": paired_components(raw[method], raw[other], tasks,
                                                                             markets or 1)}
                            for other in compared_with if other != method},
        }
        if extra:
            entry["metrics"] = {name: _per_task(v[method], tasks) for name, v in extra.items()}
        out["methods"][method] = entry
    return out


def traffic_summary(scores: Mapping[str, np.ndarray], tasks: Sequence[str], baseline: str = "stl") -> dict:
    """How the spread of each method's results splits between training seeds and test traffic
    (`stats.variance_split`), from scores (S, K, D) per seed, task and draw ((S, K): one draw).

    Returns:
      {"draws": D, "methods": {method: {"per_task": {task: split}, "delta_m_vs_<baseline>": split
      of the per-(seed, draw) paired Δm% difference method − baseline (same seed index, same
      draw), over the tasks the baseline scores}}}.
    """
    scores = {m: np.asarray(r, np.float64) for m, r in scores.items()}
    scores = {m: r[..., None] if r.ndim == 2 else r for m, r in scores.items()}
    base = scores[baseline]
    if base.ndim != 3:
        raise ValueError(f"traffic_summary needs scores (S, K, D) or (S, K), got shape {base.shape}.")
    base_mean = base.mean((0, 2))
    scored = stats.scored_tasks(base_mean)
    out = {"draws": int(base.shape[2]), "methods": {}}
    for method, r in scores.items():
        entry = {"per_task": {t: stats.variance_split(r[:, k, :]) for k, t in enumerate(tasks)}}
        if method != baseline and scored.any() and r.shape == base.shape:
            dm = lambda x: stats.delta_m(np.moveaxis(x, 1, -1)[..., scored], base_mean[scored])  # noqa: E731
            entry[f"delta_m_vs_{baseline}"] = stats.variance_split(dm(r) - dm(base))
        out["methods"][method] = entry
    return out


def paired_comparison(method: np.ndarray, other: np.ndarray, tasks: Sequence[str], ci_seed: int = 0,
                      markets: int | None = None) -> dict:
    """One paired comparison, method against another row, both (S, K) (or (S, K, D)); with
    `markets` M, rows are M × S replications, market-major, and the CIs resample markets, then seeds.

    Returns:
      {"delta_m": interval of Δm% (over the tasks the other row scores), "per_task": {task:
      interval of the score difference}, "probability_of_improvement": {"mean", "per_task"}}.
    """
    mean, per_task = stats.probability_of_improvement(method, other)
    if markets is None:
        delta_m = stats.delta_m_ci(method, other, seed=ci_seed)
        differences = stats.task_difference_cis(method, other, seed=ci_seed)
    else:
        a, b = _nest(method, markets), _nest(other, markets)
        delta_m = stats.market_delta_m_ci(a, b, seed=ci_seed)
        differences = [stats.market_difference_ci(a[:, :, k], b[:, :, k], seed=ci_seed) for k in range(len(tasks))]
    return {
        "delta_m": delta_m.as_dict(),
        "per_task": dict(zip(tasks, (ci.as_dict() for ci in differences))),
        "probability_of_improvement": {"mean": mean, "per_task": dict(zip(tasks, per_task.tolist()))},
    }


def paired_components(method: np.ndarray, other: np.ndarray, tasks: Sequence[str], markets: int = 1) -> dict:
    """The variance of a paired comparison split into market, training seed within market and test
    traffic (`stats.variance_components`), from both rows' (R, K, D) (or (R, K)) scores, R = M × S
    replications market-major (M = 1: the seeds of one market, no market component).

    Returns:
      {"delta_m": components of the paired Δm% difference per replication and draw, each row's Δm%
      against the other row's mean (over the tasks it scores), "per_task": {task: components of
      the return difference}}.
    """
    a, b = (np.asarray(x, np.float64) for x in (method, other))
    a, b = (x[..., None] if x.ndim == 2 else x for x in (a, b))
    if a.shape != b.shape:
        raise ValueError(f"paired_components: rows of equal shapes (paired), got {a.shape} and {b.shape}.")
    num_rows, _, draws = a.shape
    base_mean = b.mean((0, 2))
    scored = stats.scored_tasks(base_mean)
    nest = lambda x: x.reshape(markets, num_rows // markets, draws)  # noqa: E731  (R, D) -> (M, S, D)
    out = {"per_task": {t: stats.variance_components(nest(a[:, k] - b[:, k])) for k, t in enumerate(tasks)}}
    if scored.any():
        dm = lambda x: stats.delta_m(np.moveaxis(x, 1, -1)[..., scored], base_mean[scored])  # noqa: E731
        out["delta_m"] = stats.variance_components(nest(dm(a) - dm(b)))
    return out


def _nest(x: np.ndarray, markets: int) -> np.ndarray:
    """(R, …) replications, market-major -> (M, S, …)."""
    x = np.asarray(x)
    return x.reshape((markets, x.shape[0] // markets) + x.shape[1:])


def _task_mean_cis(x: np.ndarray, markets: int | None, seed: int) -> list:
    """Per task, the CI of the mean of x (R, K): over seeds, or (markets) over markets then seeds."""
    if markets is None:
        return stats.task_mean_cis(x, seed=seed)
    nested = _nest(x, markets)
    return [stats.market_mean_ci(nested[:, :, k], seed=seed) for k in range(nested.shape[2])]


def _per_task(values: np.ndarray, tasks: Sequence[str]) -> dict:
    """{task: {"mean", "std" (over seeds), "seeds" (S seed means), "draws" (S × D per draw)}} of
    values (S, K) or (S, K, D)."""
    values = np.asarray(values, np.float64)
    draws = values if values.ndim == 3 else values[..., None]
    means = draws.mean(-1)
    return {
        t: {"mean": float(means[:, k].mean()), "std": float(means[:, k].std()), "seeds": means[:, k].tolist(),
            "draws": draws[:, k].tolist()}
        for k, t in enumerate(tasks)
    }


MAX_TASK_PANELS = 6
"""Tables and figures show per-task columns and panels for at most this many tasks (K > 3:
per-category tasks); every task's numbers are always in results.json."""


RESOLVED_MARKS = ("*", "†")
"""Marks of a resolved difference (CI excludes 0) against the baseline and against equal."""


def markdown_table(results: dict, title: str = "Test-day score per task (mean [95% CI] over seeds)") -> str:
    """The Table-1-shaped table of `summarize`'s results, with CIs and resolved marks.

    A task cell is `mean [low, high]` (the 95% bootstrap CI of the mean), followed by `*` when its
    difference from the baseline is resolved and `†` when its difference from equal is; the Δm%
    columns carry the same marks; a legend line says so.
    """
    tasks = results["tasks"] if len(results["tasks"]) <= MAX_TASK_PANELS else []
    baseline, compared_with = results["baseline"], results["compared_with"]
    marks = dict(zip(compared_with, RESOLVED_MARKS))
    lines = [
        f"**{title}**; Δm% against {' and '.join(compared_with)} (lower is better).",
        "",
        "| method | " + " | ".join(tasks) + "".join(f" | Δm% vs {r} [95% CI]" for r in compared_with)
        + f" | P(> {baseline}) | mean rank |",
        "|---|" + "---:|" * (len(tasks) + len(compared_with) + 2),
    ]
    intervals = []
    for method, entry in results["methods"].items():
        comparisons, cells = entry["comparisons"], []
        for t in tasks:
            ci = entry["per_task_ci"][t]
            intervals.append(ci)
            cells.append(_ci_text(ci, ".3f") + "".join(
                m for r, m in marks.items() if r in comparisons and comparisons[r]["per_task"][t]["resolved"]))
        for other in compared_with:
            if other == method:
                cells.append(f"{entry['delta_m']:+.2f}" if other == baseline else "—")
                continue
            ci = comparisons[other]["delta_m"]
            intervals.append(ci)
            cells.append(_ci_text(ci, "+.2f") + (marks[other] if ci["resolved"] else ""))
        cells.append(f"{comparisons[baseline]['probability_of_improvement']['mean']:.2f}" if method != baseline else "—")
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {entry['mean_rank']:.2f} |")
    legend = " ".join(f"`{m}` its difference from {r} is resolved (the CI excludes 0);" for r, m in marks.items())
    unit = ("training seeds, paired on seeds" if "num_markets" not in results["ci"] else
            f"{results['ci']['num_markets']} markets × {results['ci']['num_seeds']} seeds (cluster bootstrap: markets, "
            "then seeds within), paired on replications")
    lines += ["", (f"[low, high]: {100 * results['ci']['confidence']:.0f}% bootstrap CI over {unit}; {legend} "
                   f"P(> {baseline}): probability that a seed of the row beats a seed of {baseline} (0.5 = no "
                   "difference).")]
    coverage = ", ".join(f"{c:.0%} at {n}" for n, c in stats.MEASURED_COVERAGE)
    if "num_markets" not in results["ci"] and results["ci"]["num_seeds"] < stats.MEASURED_COVERAGE[-1][0]:
        lines += ["", f"With {results['ci']['num_seeds']} seeds these intervals cover less than their nominal level "
                      f"(a 95% bootstrap CI of a normal mean covered {coverage} seeds): a CI that barely excludes 0 "
                      "is weak evidence."]
    if any(ci["low"] is None for ci in intervals):
        lines += ["", f"(no CI): no interval, fewer than {stats.MIN_SEEDS} seeds or a degenerate bootstrap "
                      "(the reason is in results.json)."]
    if not tasks:
        lines += ["", f"{len(results['tasks'])} tasks: their per-task scores are in results.json."]
    if "note" in results:
        lines += ["", results["note"]]
    return "\n".join(lines)


def _ci_text(ci: dict, fmt: str) -> str:
    if ci["estimate"] is None:
        return "n/a"
    if ci["low"] is None:
        return f"{ci['estimate']:{fmt}} (no CI)"
    return f"{ci['estimate']:{fmt}} [{ci['low']:{fmt}}, {ci['high']:{fmt}}]"


def reference_bidders_table(results: dict) -> str:
    """Each method's mean score per task beside the reference bidders' on the same day, draws and
    score; a method's cell is marked `≥` where it reaches the logged policies' mean."""
    tasks = results["tasks"] if len(results["tasks"]) <= MAX_TASK_PANELS else []
    logged = results.get("logged_behaviour", {}).get("score")
    lines = ["**Against reference bidders** (mean score per task, same day, draws and score; `≥`: at least "
             "the logged policies' mean).", "", "| bidder | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for key, label in REFERENCE_BIDDERS.items():
        if key in results:
            lines.append(f"| {label} | " + " | ".join(f"{results[key]['score'][t]:.3f}" for t in tasks) + " |")
    for method, entry in results["methods"].items():
        means = [entry["per_task"][t]["mean"] for t in tasks]
        cells = [f"{m:.3f}" + (" ≥" if logged and m >= logged[t] else "") for m, t in zip(means, tasks)]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def held_out_table(results: dict) -> str:
    """Each method's held-out imitation loss per task on the validation day and the test day
    (mean over seeds), the quantity VAMO's theory is about; from `metrics` val_loss/test_loss."""
    tasks = results["tasks"] if len(results["tasks"]) <= MAX_TASK_PANELS else []
    lines = ["**Held-out imitation loss** (mean over seeds; day 9 validation / day 10 test; lower is better).", "",
             "| method | " + " | ".join(tasks) + " | mean over tasks |", "|---|" + "---:|" * (len(tasks) + 1)]
    for method, entry in results["methods"].items():
        losses = entry.get("metrics", {})
        if "val_loss" not in losses:
            continue
        val, test = (np.array([losses[name][t]["mean"] for t in results["tasks"]]) for name in ("val_loss", "test_loss"))
        cells = [f"{v:.4f} / {u:.4f}" for v, u in zip(val[:len(tasks)], test[:len(tasks)])]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {val.mean():.4f} / {test.mean():.4f} |")
    return "\n".join(lines)


RESULT_FILES = ("results.json", "results.md", "*.png")
"""What a run writes in its workdir besides config.json and checkpoints (globs)."""

NOT_IN_FINGERPRINT = ("train.progress", "train.devices")
"""Config fields that change a run's numbers by floating-point order at most: a run may resume
with them changed (e.g. on another number of devices)."""


def config_record(config: Any) -> dict:
    """What `config.json` and `results.json` record of the run's config: its name, seeds and
    steps, its fingerprint (`config.fingerprint` without `NOT_IN_FINGERPRINT`) and every value."""
    return {"name": config.name, "seeds": config.train.num_seeds, "steps": config.train.steps,
            "fingerprint": config_lib.fingerprint(config, ignore=NOT_IN_FINGERPRINT),
            "config": config_lib.to_dict(config)}


def write_atomic(path: Path, text: str) -> None:
    """Writes `text` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_results(workdir: Path, results: dict, markdown: str) -> None:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_atomic(workdir / "results.json", json.dumps(results, indent=2, default=str))
    write_atomic(workdir / "results.md", markdown + "\n")
