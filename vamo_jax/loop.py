"""The training loop of one method: jitted chunks, NaN/Inf detection, checkpoints, resume, progress.

Checkpoints (orbax) hold the seed-stacked `TrainState` (parameters, optimiser and weighting
state, keys) every `checkpoint_every` steps, beside the metric history up to that step. A run
killed at any point resumes from its last checkpoint and, because every batch is drawn from
fold_in(key, step), reaches the same final state as an uninterrupted run. A checkpoint that does
not restore (a truncated file, a missing metadata file) is moved to `damaged/` with a warning and
the run resumes from the newest one that does; a checkpoint that cannot be written (disk full,
read-only folder) stops the run with an `OSError` naming the path and the cause.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterator

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


class CheckpointStore:
    """One method's checkpoint folder: orbax `TrainState`s, each beside its metric history.

    Saving is synchronous (the loop waits for every checkpoint anyway), so a failed write raises
    here, in the training thread, as one `OSError`.
    """

    def __init__(self, directory: Path, max_to_keep: int = 2):
        self.directory = Path(directory).absolute()
        _drop_repeated_reports(self.directory)
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, enable_async_checkpointing=False)
        with _writing(self.directory):
            self.manager = ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def history_path(self, step: int) -> Path:
        return self.directory / f"history_{step}.npz"

    def save(self, step: int, states, history: "_History") -> None:
        """Writes `states` and `history` as checkpoint `step`; drops histories of removed steps."""
        with _writing(self.directory / str(step)):
            history.save(self.history_path(step))
            self.manager.save(step, args=ocp.args.StandardSave(states))
            self.manager.wait_until_finished()
        for old in self.directory.glob("history_*.npz"):
            if int(old.stem.split("_")[1]) not in self.manager.all_steps():
                old.unlink()

    def restore_latest(self, template) -> tuple[int, Any, "_History"] | None:
        """(step, states, history) of the newest checkpoint that restores into `template`'s
        structure, or None. Each one that does not is moved to `damaged/`, with a warning."""
        steps = self.steps()
        for i in reversed(range(len(steps))):
            try:
                states = self.manager.restore(steps[i], args=ocp.args.StandardRestore(template))
                return steps[i], states, _History.load(self.history_path(steps[i]))
            except Exception as err:  # orbax and tensorstore raise many types for a damaged file
                aside = self._set_aside(steps[i])
                then = f"trying checkpoint {steps[i - 1]}" if i else "no earlier checkpoint: training from step 0"
                warnings.warn(f"checkpoint {self.directory / str(steps[i])} does not restore "
                              f"({type(err).__name__}: {_first_line(err)}); moved to {aside}; {then}.", stacklevel=3)
        return None

    def _set_aside(self, step: int) -> Path:
        aside = self.directory / "damaged" / str(step)
        if aside.exists():
            shutil.rmtree(aside)
        aside.parent.mkdir(exist_ok=True)
        os.replace(self.directory / str(step), aside)
        self.manager.reload()
        return aside

    def close(self) -> None:
        self.manager.close()


_WRITE_FAILURES = {"No space left on device": errno.ENOSPC, "Read-only file system": errno.EROFS,
                   "Permission denied": errno.EACCES}
"""Tensorstore reports a failed write as a ValueError whose message holds the OS's words."""


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turns a failed write under `path` (an `OSError` anywhere in the exception's chain, or
    tensorstore's message for one) into one `OSError(errno, strerror, path)`; other errors pass."""
    try:
        yield
    except Exception as err:
        cause = err
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None and cause.errno is not None:
            raise OSError(cause.errno, cause.strerror, str(path)) from None
        code = next((c for text, c in _WRITE_FAILURES.items() if text in str(err)), None)
        if code is None:
            raise
        raise OSError(code, os.strerror(code), str(path)) from None


class _DropReports(logging.Filter):
    """Drops log records that mention `text` or carry a failed write (disk full, read-only)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        err = record.exc_info[1] if record.exc_info else None
        failed_write = isinstance(err, OSError) and err.errno in _WRITE_FAILURES.values()
        return not (failed_write or self.text in record.getMessage())


def _drop_repeated_reports(directory: Path) -> None:
    """Orbax's worker threads and its never-awaited futures report a failed save or restore again,
    as tracebacks logged to `absl` and `asyncio` and as unraisable "Event loop is closed" errors
    (hundreds of lines), after the store has raised it as one error: drop those about `directory`."""
    for name in ("absl", "asyncio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropReports) and f.text == str(directory) for f in logger.filters):
            logger.addFilter(_DropReports(str(directory)))
    if not getattr(sys.unraisablehook, "drops_closed_loops", False):
        previous = sys.unraisablehook

        def hook(unraisable) -> None:
            if not (isinstance(unraisable.exc_value, RuntimeError) and str(unraisable.exc_value) == "Event loop is closed"):
                previous(unraisable)

        hook.drops_closed_loops = True
        sys.unraisablehook = hook


def _first_line(err: BaseException, limit: int = 160) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return text if len(text) <= limit else text[:limit] + "…"


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
      resume: continue from the newest checkpoint in `checkpoint_dir` that restores, if any.
      stop_after_step: stop (as if killed) right after the checkpoint at this step; for tests.

    Returns:
      (states: TrainState stacked over seeds, history: dict of numpy arrays, steps_per_second).
    """
    store = CheckpointStore(checkpoint_dir)
    try:
        start, states, history = _starting_point(problem, method, config, store, resume)
        states, steps_per_second = _train(problem, method, config, store, task_names, start, states, history,
                                          stop_after_step)
    finally:
        store.close()
    return states, history.arrays(), steps_per_second


def _starting_point(problem: MultiTaskProblem, method: str, config: TrainConfig, store: CheckpointStore,
                    resume: bool):
    """(start step, states, history): fresh, or (resume) the newest checkpoint that restores."""
    states = init_train_states(problem, method, config)
    if not resume and store.steps():
        raise FileExistsError(f"{store.directory} already holds checkpoints: pass resume=True or clear it.")
    restored = store.restore_latest(states) if resume else None
    if restored is None:
        return 0, states, _History()
    return restored


def _train(problem: MultiTaskProblem, method: str, config: TrainConfig, store: CheckpointStore,
           task_names: tuple[str, ...], start: int, states, history: _History, stop_after_step: int | None):
    """Runs the chunks from step `start` to `config.steps`, checking each for NaN/Inf and saving
    checkpoints; returns (states, steps per second)."""
    chunk = make_chunk(problem, method, config)
    val_losses_fn = make_val_losses(problem, method, config)
    val_key = jax.random.PRNGKey(config.seed + 7919)
    progress = _Progress(method, config, start)
    last_checkpoint = start or None
    for begin in range(start, config.steps, config.log_every):
        tic = time.perf_counter()
        states, metrics = chunk(states, np.int32(begin), problem.data)
        metrics = jax.device_get(metrics)
        if begin > start:  # the first chunk pays the compilation
            progress.time(config.log_every, time.perf_counter() - tic)
        _check_finite(metrics, method, begin, task_names, last_checkpoint, store.directory)
        end = begin + config.log_every
        history.add_chunk(begin, metrics, end, val_losses_fn(states, problem.data, val_key))
        if end % config.checkpoint_every == 0 or end == config.steps:
            store.save(end, states, history)
            last_checkpoint = end
        progress.update(config.log_every, metrics)
        if stop_after_step is not None and last_checkpoint == stop_after_step:
            break
    progress.close()
    return states, progress.steps_per_second
