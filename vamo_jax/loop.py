"""The training loop of one method: jitted chunks, NaN/Inf detection, checkpoints, resume, progress.

Checkpoints (orbax) hold the seed-stacked `TrainState` (parameters, optimiser and weighting
state, keys) every `checkpoint_every` steps, beside the metric history up to that step. A run
killed at any point resumes from its last checkpoint and, because every batch is drawn from
fold_in(key, step), reaches the same final state as an uninterrupted run; a damaged checkpoint
is skipped for the newest one that restores (`vamo_jax.checkpoint`).

Devices: the seeds are sharded over the mesh of `train.devices` and the data replicated
(`vamo_jax.distributed`); metrics come back to every process with the padding dropped.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np
from jax.sharding import Mesh
from tqdm.auto import tqdm

from vamo_jax import distributed
from vamo_jax.checkpoint import CheckpointStore, History
from vamo_jax import methods as registry
from vamo_jax import train
from vamo_jax.methods import Method
from vamo_jax.train import MultiTaskProblem, TrainConfig, init_train_states, make_chunk


class TrainingDiverged(RuntimeError):
    """A non-finite loss or gradient; the message names the method, step, seed and task."""


def _check_finite(metrics, method: str, start: int, task_names, last_checkpoint: int | None, where: Path):
    losses = np.asarray(metrics.losses)  # (S, n, K)
    norms = np.asarray(metrics.grad_norm)  # (S, n)
    bad = ~np.isfinite(losses).all(-1) | ~np.isfinite(norms)
    if not bad.any():
        return
    where_bad = np.argwhere(bad)  # (n, 2) rows of (seed, step in chunk)
    seed, i = map(int, where_bad[np.argmin(where_bad[:, 1])])
    bad_tasks = [task_names[k] for k in np.flatnonzero(~np.isfinite(losses[seed, i]))]
    what = f"loss of task(s) {', '.join(bad_tasks)}" if bad_tasks else "gradient (all task losses finite)"
    kept = (
        f"the last good checkpoint (step {last_checkpoint}) is kept in {where}"
        if last_checkpoint is not None
        else "no checkpoint was written yet"
    )
    raise TrainingDiverged(
        f"method {method!r}: non-finite {what} at step {start + i} (seed {seed}); training stopped, {kept}."
    )


class _Progress:
    """The progress bar and the training speed; the first chunk (which compiles) is not timed."""

    def __init__(self, method: str, config: TrainConfig, start: int):
        self.bar = tqdm(total=config.steps, initial=start, desc=method, disable=not config.progress, unit="step",
                        dynamic_ncols=True, leave=True)
        self.steps, self.seconds = 0, 0.0

    def time(self, steps: int, seconds: float) -> None:
        self.steps, self.seconds = self.steps + steps, self.seconds + seconds

    def update(self, steps: int, metrics) -> None:
        self.bar.update(steps)
        self.bar.set_postfix(loss=f"{float(np.mean(metrics.losses[:, -1])):.4f}",
                             steps_per_s=f"{self.steps_per_second:.1f}" if self.steps else "…")

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else float("nan")

    def close(self) -> None:
        self.bar.close()


def fit_method(
    problem: MultiTaskProblem,
    method: Method | str,
    config: TrainConfig,
    checkpoint_dir: Path,
    task_names: tuple[str, ...],
    *,
    resume: bool = False,
    stop_after_step: int | None = None,
    per_replication: bool = False,
):
    """Trains `method` for `config.steps` steps on every seed at once: the chunks from the start (or
    the newest checkpoint that restores) to the end, each checked for NaN/Inf, checkpoints of the
    real seeds every `checkpoint_every` steps, the validation loss logged after every chunk.

    Args:
      checkpoint_dir: this method's checkpoint folder.
      resume: continue from the newest checkpoint in `checkpoint_dir` that restores, if any.
      stop_after_step: stop (as if killed) right after the checkpoint at this step; for tests.
      per_replication: `problem.data` carries the seed axis (S, …) in front, seed s training on
        its own (replications over markets); the data is then sharded with the seeds, not replicated.

    Returns:
      (states: TrainState stacked over seeds (S, …), numpy, whole on every process; history: dict
      of numpy arrays; steps_per_second).
    """
    method = registry.get(method) if isinstance(method, str) else method
    num_seeds, mesh = config.num_seeds, distributed.seed_mesh(config.devices)
    data = (distributed.put_seeds(problem.data, mesh) if per_replication
            else distributed.put_replicated(problem.data, mesh))
    chunk = make_chunk(problem, method, config, per_replication)
    val_batches = train.val_batches(problem, data, jax.random.PRNGKey(config.seed + 7919),
                                    per_replication=per_replication)
    store = CheckpointStore(checkpoint_dir)
    try:
        start, states, history = _starting_point(problem, method, config, store, resume, mesh)
        progress, last_checkpoint = _Progress(method.name, config, start), start or None
        for begin in range(start, config.steps, config.log_every):
            tic = time.perf_counter()
            states, metrics = chunk(states, np.int32(begin), data)
            metrics = distributed.gather_seeds(metrics, num_seeds)
            if begin > start:  # the first chunk pays the compilation
                progress.time(config.log_every, time.perf_counter() - tic)
            _check_finite(metrics, method.name, begin, task_names, last_checkpoint, store.directory)
            end = begin + config.log_every
            val_losses = train.held_out_losses(problem, method, train.eval_params(states, config), val_batches,
                                               per_replication)
            history.add_chunk(begin, metrics, end, distributed.gather_seeds(val_losses, num_seeds))
            if end % config.checkpoint_every == 0 or end == config.steps:
                store.save(end, distributed.put_unpadded(states, mesh, num_seeds), history)
                last_checkpoint = end
            progress.update(config.log_every, metrics)
            if stop_after_step is not None and last_checkpoint == stop_after_step:
                break
        progress.close()
    finally:
        store.close()
    return distributed.gather_seeds(states, num_seeds), history.arrays(), progress.steps_per_second


def _starting_point(problem: MultiTaskProblem, method: Method, config: TrainConfig, store: CheckpointStore,
                    resume: bool, mesh: Mesh):
    """(start step, states (P, …) on the mesh, history): fresh, or (resume) the newest checkpoint
    that restores."""
    states = init_train_states(problem, method, config)
    if not resume and store.steps():
        raise FileExistsError(f"{store.directory} already holds checkpoints: pass resume=True or clear it.")
    restored = store.restore_latest(distributed.put_unpadded(states, mesh, config.num_seeds)) if resume else None
    start, history = (0, History()) if restored is None else (restored[0], restored[2])
    return start, distributed.put_seeds(states if restored is None else restored[1], mesh), history
