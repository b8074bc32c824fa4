"""Command line: `python -m vamo_jax.main --config sim [--set train.steps=200 …] [--workdir DIR] [--resume]`.

Loads `configs/<NAME>.py`, applies the overrides, and runs the config's experiment in the
workdir (default `runs/<NAME>`), which receives the config, checkpoints, results and plots.
A workdir that holds a run of another config is refused unless `--force`; one that holds
checkpoints of this config needs `--resume` (continue) or `--force` (start over).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from vamo_jax import config as config_lib

IGNORED_FOR_RESUME = ("train.progress",)


def prepare_workdir(workdir: Path, config, *, resume: bool, force: bool) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    saved = workdir / "config.json"
    fingerprint = config_lib.fingerprint(config, ignore=IGNORED_FOR_RESUME)
    checkpoints = workdir / "checkpoints"
    if saved.exists():
        previous = json.loads(saved.read_text())
        if previous.get("fingerprint") != fingerprint and not force:
            raise config_lib.ConfigError(
                f"{workdir} holds a run of a different config ({previous.get('name')!r}); use another "
                "--workdir, or --force to discard that run."
            )
    if checkpoints.exists() and any(checkpoints.iterdir()):
        if force and not resume:
            shutil.rmtree(checkpoints)
        elif not resume:
            raise config_lib.ConfigError(
                f"{workdir} already holds checkpoints of this config: pass --resume to continue the run, "
                "or --force to start over."
            )
    saved.write_text(json.dumps({"name": config.name, "fingerprint": fingerprint,
                                 "config": config_lib.to_dict(config)}, indent=2, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vamo_jax.main", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="sim", help="config name in configs/ (default: sim)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field, e.g. --set train.steps=200 (repeatable)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the run writes (default: runs/<config>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --workdir from its checkpoints")
    parser.add_argument("--force", action="store_true", help="overwrite a workdir that holds another run")
    args = parser.parse_args(argv)

    from vamo_jax import experiments
    from vamo_jax.loop import TrainingDiverged

    try:
        config = config_lib.load_config(args.config, args.overrides)
        workdir = args.workdir or Path("runs") / config.name
        prepare_workdir(workdir, config, resume=args.resume, force=args.force)
        print(f"config {config.name!r} → {workdir}")
        experiments.run(config, workdir, resume=args.resume)
    except (config_lib.ConfigError, TrainingDiverged) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if isinstance(err, config_lib.ConfigError) else 1
    print(f"results in {workdir}/results.json, results.md and plots (*.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
