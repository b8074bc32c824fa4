"""Checkpoints of one method's training: orbax `TrainState`s, each beside its metric history.

A checkpoint that does not restore (a truncated file, a missing metadata file) is moved to
`damaged/` with a one-line warning, and the newest one that restores is used; a checkpoint that
cannot be written (disk full, read-only folder) raises one `OSError` naming its path and the
cause, and orbax's repeated reports of the same failure are dropped.

Several processes (`jax.distributed`): every process calls save and restore (orbax writes and
reads each process's shards of the global arrays, into one shared folder); process 0 alone
writes the histories and moves a damaged checkpoint aside, the others wait for it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Iterator

import jax
import numpy as np
import orbax.checkpoint as ocp

from vamo_jax import distributed


class History:
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
    def load(cls, path: Path) -> "History":
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

    def save(self, step: int, states, history: "History") -> None:
        """Writes `states` and `history` as checkpoint `step`; drops histories of removed steps."""
        with _writing(self.directory / str(step)):
            if jax.process_index() == 0:
                history.save(self.history_path(step))
            self.manager.save(step, args=ocp.args.StandardSave(states))
            self.manager.wait_until_finished()
        if jax.process_index() == 0:
            for old in self.directory.glob("history_*.npz"):
                if int(old.stem.split("_")[1]) not in self.manager.all_steps():
                    old.unlink()

    def restore_latest(self, template) -> tuple[int, Any, "History"] | None:
        """(step, states, history) of the newest checkpoint that restores into `template`'s
        structure and shardings, or None. Each one that does not is moved to `damaged/`, with a warning."""
        steps = self.steps()
        for i in reversed(range(len(steps))):
            try:
                states = self.manager.restore(steps[i], args=ocp.args.StandardRestore(template))
                return steps[i], states, History.load(self.history_path(steps[i]))
            except Exception as err:  # orbax and tensorstore raise many types for a damaged file
                aside = self._set_aside(steps[i])
                then = f"trying checkpoint {steps[i - 1]}" if i else "no earlier checkpoint: training from step 0"
                warnings.warn(f"checkpoint {self.directory / str(steps[i])} does not restore "
                              f"({type(err).__name__}: {_first_line(err)}); moved to {aside}; {then}.", stacklevel=3)
        return None

    def _set_aside(self, step: int) -> Path:
        aside = self.directory / "damaged" / str(step)
        if jax.process_index() == 0:
            if aside.exists():
                shutil.rmtree(aside)
            aside.parent.mkdir(exist_ok=True)
            os.replace(self.directory / str(step), aside)
        distributed.barrier(f"checkpoint set aside {self.directory}/{step}")
        self.manager.reload()
        return aside

    def close(self) -> None:
        self.manager.close()


_WRITE_FAILURES = {"No space left on device": errno.ENOSPC, "Read-only file system": errno.EROFS,
                   "Permission denied": errno.EACCES}
"""Tensorstore reports a failed write as a ValueError whose message holds the OS's words."""


@contextlib.contextmanager
def _writing(path: Path, wait_seconds: float = 60.0) -> Iterator[None]:
    """Turns a failed write under `path` (an `OSError` anywhere in the exception's chain, or
    tensorstore's message for one) into one `OSError(errno, strerror, path)`; other errors pass.

    On a failed write, the worker threads started meanwhile (orbax's serialisers) are given
    `wait_seconds` to finish first, so that none is left to fail again at interpreter exit.
    """
    before = set(threading.enumerate())
    try:
        yield
    except Exception as err:
        cause = err
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        code = cause.errno if cause is not None and cause.errno is not None else next(
            (c for text, c in _WRITE_FAILURES.items() if text in str(err)), None)
        if code is None:
            raise
        for thread in set(threading.enumerate()) - before:
            thread.join(wait_seconds)
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
            err = unraisable.exc_value
            if not (isinstance(err, RuntimeError) and str(err) == "Event loop is closed"):
                previous(unraisable)

        hook.drops_closed_loops = True
        sys.unraisablehook = hook


def _first_line(err: BaseException, limit: int = 160) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return text if len(text) <= limit else text[:limit] + "…"
