"""Command line: `python -m vamo_jax.main --config sim [--set train.steps=200 …] [--workdir DIR] [--resume]`.

Loads `configs/<NAME>.py`, applies the overrides, and runs the config's experiment in the
workdir (default `runs/<NAME>`), which receives the config, checkpoints, results and plots.
A workdir that holds a run of another config is refused unless `--force`; one that holds
checkpoints of this config needs `--resume` (continue) or `--force` (start over). `--force`
removes the previous run's checkpoints and results first, so a failed run never leaves them
beside its own config.

Several processes (`--coordinator HOST:PORT --num-processes N --process-id I`, or
`--distributed` where JAX detects the cluster itself, e.g. SLURM): each process runs this same
command; `jax.distributed.initialize` comes before anything else touches JAX, the seeds are
sharded over every process's devices (`train.devices`), and process 0 alone writes the config,
results and plots (checkpoints are written by all, into the one shared --workdir).

Exit status: 0 done, 2 a config that cannot be used, 1 a run that failed (training diverged,
a file that cannot be written); each with one line on stderr saying why.
"""

from __future__ import annotations

import argparse
import errno
import json
import shutil
import sys
import warnings
from pathlib import Path

import jax

from vamo_jax import _compilation_cache
from vamo_jax import config as config_lib
from vamo_jax import distributed
from vamo_jax.report import RESULT_FILES, config_record, write_atomic

_HINTS = {
    errno.ENOSPC: "free some space, then rerun with --resume",
    errno.EROFS: "choose a writable --workdir",
    errno.EACCES: "choose a writable --workdir",
    errno.EPERM: "choose a writable --workdir",
}


def _checkpoint_dirs(workdir: Path) -> list[Path]:
    """The run's checkpoint folders: `checkpoints/`, and a sweep's `<variant>/checkpoints/`."""
    return [p for p in (workdir / "checkpoints", *workdir.glob("*/checkpoints")) if p.is_dir() and any(p.iterdir())]


def _remove_previous_run(workdir: Path) -> None:
    for path in _checkpoint_dirs(workdir):
        shutil.rmtree(path)
    for pattern in RESULT_FILES:
        for path in workdir.glob(pattern):
            path.unlink()


def prepare_workdir(workdir: Path, config, *, resume: bool, force: bool) -> None:
    """Checks that `workdir` may receive this run (see the module docstring) and writes its
    config.json; every process checks, process 0 alone writes (`--force` removals too), the
    others wait for it."""
    saved = workdir / "config.json"
    record = config_record(config)
    if saved.exists():
        previous = json.loads(saved.read_text())
        if previous.get("fingerprint") != record["fingerprint"]:
            if not force:
                raise config_lib.ConfigError(
                    f"{workdir} holds a run of a different config ({previous.get('name')!r}); use another "
                    "--workdir, or --force to discard that run."
                )
            if resume:
                raise config_lib.ConfigError(
                    f"{workdir} holds a run of a different config ({previous.get('name')!r}): it cannot be "
                    "resumed with this one; drop --resume to start over (--force discards that run)."
                )
    if _checkpoint_dirs(workdir) and not resume and not force:
        raise config_lib.ConfigError(
            f"{workdir} already holds checkpoints of this config: pass --resume to continue the run, "
            "or --force to start over."
        )
    distributed.barrier("workdir checked")
    if jax.process_index() == 0:
        workdir.mkdir(parents=True, exist_ok=True)
        if force and not resume:
            _remove_previous_run(workdir)
        write_atomic(saved, json.dumps(record, indent=2, default=str))
    distributed.barrier("workdir prepared")


def _one_line_warnings(message, category, filename, lineno, file=None, line=None) -> str:
    return f"warning: {message}\n"


def _initialize_distributed(args: argparse.Namespace) -> str | None:
    """Joins the processes of a multi-process run (`jax.distributed.initialize`); None when this
    process runs alone or joined, else the error (the flags that are missing)."""
    given = {"--coordinator": args.coordinator, "--num-processes": args.num_processes,
             "--process-id": args.process_id}
    if not args.distributed and all(v is None for v in given.values()):
        return None
    missing = [flag for flag, value in given.items() if value is None]
    if not args.distributed and missing:
        return (f"{', '.join(missing)} missing: a multi-process run names all of --coordinator, --num-processes "
                "and --process-id, or passes --distributed for JAX to detect the cluster.")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU devices' collectives across processes
    jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vamo_jax.main", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="sim", help="config name in configs/ (default: sim)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set train.steps=200 (repeatable)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the run writes (default: runs/<config>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --workdir from its checkpoints")
    parser.add_argument("--force", action="store_true", help="discard the run in --workdir (checkpoints, results)")
    parser.add_argument("--compilation-cache", default="runs/jax_cache", metavar="DIR",
                        help="JAX's persistent compilation cache: a rerun reads its compiled programs back "
                             "(default: runs/jax_cache; '' for none, e.g. to time a cold start)")
    parser.add_argument("--coordinator", metavar="HOST:PORT", default=None,
                        help="multi-process run: process 0's address (with --num-processes, --process-id)")
    parser.add_argument("--num-processes", type=int, default=None, metavar="N", help="multi-process run: N processes")
    parser.add_argument("--process-id", type=int, default=None, metavar="I", help="multi-process run: this is process I")
    parser.add_argument("--distributed", action="store_true",
                        help="multi-process run, the cluster (coordinator, processes) detected by JAX (e.g. SLURM)")
    args = parser.parse_args(argv)
    problem = _initialize_distributed(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.compilation_cache and jax.config.jax_compilation_cache_dir is None:
        _compilation_cache.enable(args.compilation_cache)

    from vamo_jax import experiments
    from vamo_jax.loop import TrainingDiverged

    formatwarning, warnings.formatwarning = warnings.formatwarning, _one_line_warnings
    try:
        config = config_lib.load_config(args.config, args.overrides)
        workdir = args.workdir or Path("runs") / config.name
        distributed.seed_mesh(config.train.devices)  # a device count that cannot be used fails here, before any write
        prepare_workdir(workdir, config, resume=args.resume, force=args.force)
        print(f"config {config.name!r} → {workdir}"
              + (f" (process {jax.process_index()} of {jax.process_count()})" if jax.process_count() > 1 else ""))
        experiments.run(config, workdir, resume=args.resume)
    except (config_lib.ConfigError, TrainingDiverged) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, config_lib.ConfigError) else 1
    except OSError as err:  # disk full, read-only or missing folder: the path and the cause
        where = f"{err.filename}: " if err.filename else ""
        hint = f"; {_HINTS[err.errno]}" if err.errno in _HINTS else ""
        print(f"error: {where}{err.strerror or err}{hint}.", file=sys.stderr)
        return 1
    finally:
        warnings.formatwarning = formatwarning
    print(f"results in {workdir}/results.json, results.md and plots (*.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
