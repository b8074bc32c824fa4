"""The training loop of one method: jitted chunks, NaN/Inf detection, checkpoints, resume, progress.

Checkpoints (orbax) hold the seed-stacked `TrainState` (parameters, optimiser and weighting
state, keys) every `checkpoint_every` steps, beside the metric history up to that step. A run
killed at any point resumes from its last checkpoint and, because every batch is drawn from
fold_in(key, step), reaches the same final state as an uninterrupted run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp
from tqdm.auto import tqdm

from vamo_jax.train import MultiTaskProblem, TrainConfig, init_train_states, make_chunk, make_val_losses


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


class _History:
    """Host-side metric history of one method, saved next to each checkpoint."""

    KEYS = ("steps", "losses", "weights", "grad_norm", "val_steps", "val_losses")

    def __init__(self):
        self.parts = {k: [] for k in self.KEYS}

    def add_chunk(self, start, metrics, val_step, val_losses):
        n = metrics.losses.shape[1]
        self.parts["steps"].append(np.arange(start, start + n))
        self.parts["losses"].append(np.asarray(metrics.losses))
        self.parts["weights"].append(np.asarray(metrics.weights))
        self.parts["grad_norm"].append(np.asarray(metrics.grad_norm))
        self.parts["val_steps"].append(np.array([val_step]))
        self.parts["val_losses"].append(np.asarray(val_losses)[:, None])

    def arrays(self) -> dict:
        axis = {"steps": 0, "val_steps": 0}
        return {k: np.concatenate(v, axis=axis.get(k, 1)) for k, v in self.parts.items() if v}

    def save(self, path: Path):
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **self.arrays())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "_History":
        history = cls()
        with np.load(path) as data:
            for k in cls.KEYS:
                if k in data:
                    history.parts[k] = [data[k]]
        return history


def fit_method(
    problem: MultiTaskProblem,
    method: str,
    config: TrainConfig,
    checkpoint_dir: Path,
    task_names: tuple[str, ...],
    *,
    resume: bool = False,
    stop_after_step: int | None = None,
):
    """Trains `method` for `config.steps` steps on every seed at once.

    Args:
      checkpoint_dir: this method's checkpoint folder.
      resume: continue from the latest checkpoint in `checkpoint_dir` if there is one.
      stop_after_step: stop (as if killed) right after the checkpoint at this step; for tests.

    Returns:
      (states: TrainState stacked over seeds, history: dict of numpy arrays, steps_per_second).
    """
    checkpoint_dir = Path(checkpoint_dir).absolute()
    manager = ocp.CheckpointManager(checkpoint_dir, options=ocp.CheckpointManagerOptions(max_to_keep=2))
    states = init_train_states(problem, method, config)
    history, start = _History(), 0
    latest = manager.latest_step() if resume else None
    if latest is not None:
        states = manager.restore(latest, args=ocp.args.StandardRestore(states))
        history, start = _History.load(checkpoint_dir / f"history_{latest}.npz"), latest
    elif manager.latest_step() is not None:
        raise FileExistsError(f"{checkpoint_dir} already holds checkpoints: pass resume=True or clear it.")

    chunk = make_chunk(problem, method, config)
    val_losses_fn = make_val_losses(problem, method)
    val_key = jax.random.PRNGKey(config.seed + 7919)
    bar = tqdm(total=config.steps, initial=start, desc=method, disable=not config.progress, unit="step",
               dynamic_ncols=True, leave=True)
    last_checkpoint, timed_steps, timed_seconds = latest, 0, 0.0
    for begin in range(start, config.steps, config.log_every):
        tic = time.perf_counter()
        states, metrics = chunk(states, np.int32(begin), problem.data)
        metrics = jax.device_get(metrics)
        if begin > start:  # the first chunk pays the compilation
            timed_steps, timed_seconds = timed_steps + config.log_every, timed_seconds + time.perf_counter() - tic
        _check_finite(metrics, method, begin, task_names, last_checkpoint, checkpoint_dir)
        end = begin + config.log_every
        history.add_chunk(begin, metrics, end, val_losses_fn(states, problem.data, val_key))
        if end % config.checkpoint_every == 0 or end == config.steps:
            history.save(checkpoint_dir / f"history_{end}.npz")
            manager.save(end, args=ocp.args.StandardSave(states))
            manager.wait_until_finished()
            last_checkpoint = end
            for old in checkpoint_dir.glob("history_*.npz"):
                if int(old.stem.split("_")[1]) not in manager.all_steps():
                    old.unlink()
        bar.update(config.log_every)
        bar.set_postfix(loss=f"{float(np.mean(metrics.losses[:, -1])):.4f}",
                        steps_per_s=f"{timed_steps / max(timed_seconds, 1e-9):.1f}" if timed_steps else "…")
        if stop_after_step is not None and last_checkpoint == stop_after_step:
            break
    bar.close()
    manager.close()
    return states, history.arrays(), timed_steps / timed_seconds if timed_seconds else float("nan")
