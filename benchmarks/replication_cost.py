"""What one replication over markets costs, by stage: data, compile, train, evaluate.

For a config with `data.markets` (default `many_markets`), in one process, cold (no compilation
cache):
  data      generating the M markets (`run.markets`), cold (with its compilation) and again for
            the markets of another `data.seed` (warm: the generation alone), plus the problem's
            per-replication arrays
  compile   lowering and compiling each method's training chunk and the evaluator
  train     each method's `train.steps` steps for all R = M × S replications: `loop.fit_method`'s
            speed over its chunks but the first (which compiles), times the steps; and
            `fit_method_seconds`, the whole fit (compilation, validation losses, checkpoints)
  evaluate  each method's rollouts of all R replications on the scored day's draws
Per-replication costs are the R replications' totals over R (they run as one vmapped program,
so the per-replication cost falls as R grows until the machine is full: compare R's).

Run: PYTHONPATH=. python benchmarks/replication_cost.py [--config many_markets] [--set data.markets=2 …]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from vamo_jax import distributed, run
from vamo_jax import methods as registry
from vamo_jax.config import load_config
from vamo_jax.data import markets as market_lib
from vamo_jax.loop import fit_method
from vamo_jax.train import _chunk, eval_params, init_train_states, static_problem


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="many_markets")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args()
    config = load_config(args.config, args.overrides)
    if config.data.markets is None:
        raise SystemExit("benchmarks/replication_cost.py: the config has data.markets none; --set data.markets=M.")
    num_markets, seeds = config.data.markets, config.train.num_seeds
    count = num_markets * seeds
    out = {"config": config.name, "overrides": args.overrides, "markets": num_markets, "seeds_per_market": seeds,
           "replications": count, "steps": config.train.steps, "draws": config.eval.draws,
           "devices": len(jax.devices()), "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
    wall = time.perf_counter()

    _, cold = timed(run.markets, config.data)
    _, warm = timed(run.markets, dataclasses.replace(config.data, seed=config.data.seed + 1))
    reps, arrays = timed(run.replications, config)
    out["data_seconds"] = {"markets_cold": cold, "markets_warm": warm, "replication_arrays": arrays}

    mesh = distributed.seed_mesh(reps.train.devices)
    shape = market_lib.shape_config(config.data)
    evaluate = run.market_evaluator(shape, config.model, run.rollouts_of(config.eval))
    eval_inputs = [distributed.put_seeds(x, mesh) for x in (reps.targets, reps.replay, reps.keys)]
    out["methods"] = {}
    for name in config.train.methods:
        method = registry.get(name)
        states = init_train_states(reps.problem._replace(data=jax.tree.map(lambda x: x[0], reps.problem.data)),
                                   method, reps.train)
        data = distributed.put_seeds(reps.problem.data, mesh)
        tic = time.perf_counter()
        _chunk.lower(distributed.put_seeds(states, mesh), np.int32(0), data, problem=static_problem(reps.problem),
                     method=method, config=reps.train, per_replication=True).compile()
        train_compile = time.perf_counter() - tic
        with tempfile.TemporaryDirectory() as tmp:
            (trained, _, steps_per_s), train_total = timed(fit_method, reps.problem, method, reps.train,
                                                           Path(tmp) / name, ("t",) * config.data.num_tasks,
                                                           per_replication=True)
        # fit_method times every chunk but the first (which compiles): the steps' cost without compilation.
        train_run = config.train.steps / steps_per_s if np.isfinite(steps_per_s) else float("nan")
        params = distributed.put_seeds(method.task_models(eval_params(trained, reps.train), config.data.num_tasks),
                                       mesh)
        tic = time.perf_counter()
        compiled = evaluate.lower(params, *eval_inputs).compile()
        eval_compile = time.perf_counter() - tic
        _, eval_total = timed(compiled, params, *eval_inputs)
        out["methods"][name] = {
            "compile_seconds": {"train_chunk": train_compile, "evaluator": eval_compile},
            "fit_method_seconds": train_total, "train_seconds": train_run, "evaluate_seconds": eval_total,
            "per_replication_seconds": {"train": train_run / count, "evaluate": eval_total / count},
        }
    out["wall_seconds"] = time.perf_counter() - wall
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
