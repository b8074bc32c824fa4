"""Every config's run: its arms (`config.sweep`) trained and evaluated, one table against one baseline.

The arms come from `Config.arms()`: the base config once (the main job), or the shared STL
baseline and each `Variant` in its own sub-workdir. A command-line `--set train.steps=200`
changes the base config and so reaches every arm; every arm's config is built, and so validated,
before anything trains. Output: `results.json`, `results.md` (the Table-1-shaped table of
`report.markdown_table`), `returns.png`, `delta_m.png` (Δm% per row, every seed a dot) and,
where rows have weights or histories, `task_weights.png` and `losses.png`.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax

from vamo_jax import methods as registry
from vamo_jax import stats
from vamo_jax.data.tasks import task_channels, task_names
from vamo_jax.evaluate import RATIO_NAMES
from vamo_jax.experiments import compare
from vamo_jax.figures import plot_delta_m, plot_returns, plot_training
from vamo_jax.report import (config_record, held_out_table, markdown_table, references_table, summarize,
                             traffic_summary, write_results)

METRICS = ("return", "value", "cost", "ratio", "violation_rate", "val_loss", "test_loss")
"""Per method and task: the score (the table's return), the unpenalised value, spend, online ratio,
constraint-violation rate, and the held-out imitation loss on days 9 and 10."""
TEST_DAY_METRICS = METRICS[:5]
REFERENCES = {"logged": "logged_behaviour", "hindsight": "best_fixed_multiplier"}
"""Reference bidders scored beside the methods (`compare.ArmResult.metrics`) -> their results.json key."""


def run(config, workdir, resume: bool = False, builds: compare.Builds | None = None) -> dict:
    """Trains and evaluates every arm of `config`, writes the table, JSON and figures; returns the results."""
    workdir, start, builds = Path(workdir), time.perf_counter(), builds or compare.Builds()
    arms = config.arms()
    single = not config.sweep.variants
    rows = {name: {} for name in METRICS}
    histories, weighted, timing, settings, references, premise = {}, [], {}, {}, {}, None
    for variant, arm in arms:
        tic = time.perf_counter()
        metrics, history, arm_timing, arm_premise = compare.train_and_evaluate(
            arm, workdir if single else workdir / variant.folder, resume, builds=builds,
            with_premise=premise is None)
        for name in REFERENCES:
            arm_reference = metrics.pop(name, None)
            if arm_reference is not None:
                references.setdefault(name, arm_reference)
        premise = premise or arm_premise
        for method in arm.train.methods:
            row = variant.label(method, len(arm.train.methods))
            if row in rows["return"]:
                raise ValueError(f"two arms give the row {row!r}; name them apart.")
            for name in METRICS:
                rows[name][row] = metrics[method][name]
            histories[row], timing[row] = history[method], arm_timing[method]
            if registry.get(method).kind is not registry.Kind.SINGLE_TASK:
                weighted.append(row)
        timing[f"{variant.folder} (wall, with data and compilation)"] = time.perf_counter() - tic
        settings[variant.name or "all"] = list(variant.overrides)

    tasks = task_names(config.data.env, config.data.num_tasks)
    baseline = "stl" if "stl" in rows["return"] else next(iter(rows["return"]))
    results = summarize(rows["return"], tasks, baseline=baseline, ci_seed=config.train.seed,
                        extra={("online_ratio" if name == "ratio" else name): rows[name] for name in METRICS[1:]})
    channels = task_channels(config.data.env, config.data.num_tasks)
    results["online_ratio_names"] = {t: RATIO_NAMES[c] for t, c in zip(tasks, channels)}
    for name, metrics in references.items():
        results[REFERENCES[name]] = {m: {t: float(stats.seed_means(metrics[m], 2)[0, k]) for k, t in enumerate(tasks)}
                                     for m in TEST_DAY_METRICS}
    results["traffic"] = {"day": config.eval.day, **traffic_summary(rows["return"], tasks, baseline)}
    results["premise"] = premise
    timing["total_seconds"] = time.perf_counter() - start
    results["timing"] = timing
    results["variants"] = settings
    results["config"] = config_record(config)

    title = config.sweep.title or f"{config.name}: test-day (day {config.data.test_day}) return per task"
    table = "\n\n".join([markdown_table(results, title=title), references_table(results), held_out_table(results)])
    table += (f"\n\n{config.train.num_seeds} seeds × {config.train.steps} steps, {config.eval.draws} draw(s) of the "
              f"{config.eval.day} day's traffic; wall time {timing['total_seconds']:.0f} s.")
    if jax.process_index() == 0:  # every process holds the results; one writes them
        write_results(workdir, results, table)
        plot_training(workdir, histories, tasks, weighted)
        plot_returns(workdir, results)
        plot_delta_m(workdir, results)
    print("\n" + table)
    return results
