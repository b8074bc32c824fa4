"""Seeds on a device mesh (`vamo_jax.distributed`): the padding helpers, and the tiny main job on
4 forced CPU devices and on two processes (`jax.distributed`) against the same job on one device.

Tolerances. A sharded run computes each seed as one device does up to the order of
floating-point sums: XLA's CPU kernels for a block of 1 or 2 seeds per device sum in another
order than for 3 seeds on one device. Measured: the first step's losses (before any update)
differ by ≤ 8e-7 relative (on two processes, not at all). Training amplifies that (Adam divides
by √v, so a gradient entry near 0 turns a rounding difference into a step of the learning
rate's size) and the test-day auctions are discontinuous (a bid a hair lower loses the
impression), so the final per-seed numbers differ by up to 4.1e-3 relative on 4 devices and
7.7e-4 on two processes. The first step is tested at rtol 1e-5, the final per-seed results at
rtol 2e-2: 5× the largest difference seen, and well below the spread between seeds (tens of
percent). A run resumed on other devices (two processes from a one-device checkpoint, one device
from the two processes' checkpoints) is held to the same tolerance.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vamo_jax import distributed
from vamo_jax.config import ConfigError
from vamo_jax.main import main
from vamo_jax.train_config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "runs" / "jax_cache"
RUN = ["--config", "tiny", "--set", "train.num_seeds=3", "--set", "eval.hindsight_grid=0", "--compilation-cache", str(CACHE)]
"""3 seeds: padded to 4 on 4 devices (one each) and on 2 processes (two each)."""
METHODS = ["--set", "train.methods=equal"]
"""One method: each run compiles every program cold (in CI), and JAX writes its compilation cache
from process 0 only while process 1's cache keys differ from process 0's, so process 1 compiles
every program in every run. The single-task state (a task axis behind the seed axis) is sharded
by the same `put_seeds` (`test_padding_and_sharding_on_two_and_four_devices`). The suite runs two
processes once, resuming the one-device run from step 4."""
MARKETS = ["--set", "data.markets=3", "--set", "train.num_seeds=1"]
"""3 replications over markets (one seed each): on 4 devices, 3 does not divide the device count."""
WRITTEN_BY_PROCESS_0 = ("config.json", "results.json", "results.md", "scores.png", "losses.png")

# Runs `python -m vamo_jax.main ARGS…`, logging every file it opens for writing to LOG (argv[1]).
_AUDITED_MAIN = textwrap.dedent("""
    import atexit, os, runpy, sys
    log, written = sys.argv.pop(1), []
    def hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            mode, flags = args[1], args[2]
            if (any(c in mode for c in "wax+") if isinstance(mode, str)
                    else flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)):
                written.append(os.fsdecode(args[0]))
    sys.addaudithook(hook)
    atexit.register(lambda: open(log, "w").write("\\n".join(written)))
    runpy.run_module("vamo_jax.main", run_name="__main__")
""")


def _env(devices: int | None = None) -> dict:
    """The suite's environment (its XLA flags included: the runs compared must compile alike), with
    `devices` forced CPU devices in place of any inherited device count."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
    if devices:
        flags.append(f"--xla_force_host_platform_device_count={devices}")
    env["XLA_FLAGS"] = " ".join(flags)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_processes(workdir: Path, args: list[str]) -> list[str]:
    """Runs the job as processes 0 and 1 of one `jax.distributed` run; each one's written files."""
    address = f"127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen([sys.executable, "-c", _AUDITED_MAIN, str(workdir.parent / f"written_{i}"), *args,
                               "--workdir", str(workdir), "--coordinator", address, "--num-processes", "2",
                               "--process-id", str(i)],
                              env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for i, (p, out) in enumerate(zip(procs, outputs)):
        assert p.returncode == 0, f"process {i}:\n{out[-3000:]}"
    return [(workdir.parent / f"written_{i}").read_text() for i in range(2)]


@pytest.fixture(scope="module")
def run_args(tmp_path_factory) -> list[str]:
    """Every run's arguments, with one data cache: the one-device run generates the logs, the others read them."""
    return [*RUN, *METHODS, "--set", f"data.cache_dir={tmp_path_factory.mktemp('data')}"]


@pytest.fixture(scope="module")
def one_device(run_args, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("one") / "run"
    assert main(run_args + ["--workdir", str(workdir)]) == 0
    return workdir


@pytest.fixture(scope="module")
def four_devices(one_device, run_args, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("four") / "run"
    done = subprocess.run([sys.executable, "-m", "vamo_jax.main", *run_args, "--workdir", str(workdir)], env=_env(4),
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


@pytest.fixture(scope="module")
def markets_one_device(run_args, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("markets_one") / "run"
    assert main(run_args + MARKETS + ["--workdir", str(workdir)]) == 0
    return workdir


@pytest.fixture(scope="module")
def markets_four_devices(markets_one_device, run_args, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("markets_four") / "run"
    done = subprocess.run([sys.executable, "-m", "vamo_jax.main", *run_args, *MARKETS, "--workdir", str(workdir)],
                          env=_env(4), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


@pytest.fixture(scope="module")
def two_processes(one_device, run_args, tmp_path_factory) -> tuple[Path, list[str]]:
    """The one-device run resumed on two processes: its last checkpoint removed, so they restore
    step 4 and train steps 5–8."""
    workdir = tmp_path_factory.mktemp("two") / "run"
    shutil.copytree(one_device, workdir)
    shutil.rmtree(workdir / "checkpoints" / "equal" / "8")
    (workdir / "checkpoints" / "equal" / "history_8.npz").unlink()
    for name in ("results.json", "results.md"):
        (workdir / name).unlink()
    return workdir, _two_processes(workdir, run_args + ["--resume"])


def _per_seed(workdir: Path) -> dict[str, np.ndarray]:
    """Every per-seed number of results.json: (method, metric) -> (tasks, S)."""
    results = json.loads((workdir / "results.json").read_text())
    out = {}
    for method, entry in results["methods"].items():
        out[method, "return"] = np.array([entry["per_task"][t]["seeds"] for t in results["tasks"]])
        for name, per_task in entry["metrics"].items():
            out[method, name] = np.array([per_task[t]["seeds"] for t in results["tasks"]])
    return out


def _methods(workdir: Path) -> list[str]:
    return list(json.loads((workdir / "results.json").read_text())["methods"])


def _assert_same_run(got: Path, expected: Path) -> None:
    """`got`'s per-seed numbers are `expected`'s (see the module docstring for the tolerances)."""
    for method in _methods(got):
        first = [np.load(run / "checkpoints" / method / "history_8.npz")["losses"][:, 0] for run in (got, expected)]
        np.testing.assert_allclose(*first, rtol=1e-5, err_msg=f"{method}: first step's losses")
    want = _per_seed(expected)
    for key, value in _per_seed(got).items():
        assert value.shape == want[key].shape == (3, 3), key
        np.testing.assert_allclose(value, want[key], rtol=2e-2, atol=1e-6, err_msg=str(key))


def test_pad_seeds_repeats_the_real_seeds():
    tree = {"w": np.arange(6.0).reshape(3, 2), "key": np.arange(3, dtype=np.uint32)}
    padded = distributed.pad_seeds(tree, 4)
    np.testing.assert_array_equal(padded["w"], tree["w"][[0, 1, 2, 0]])
    np.testing.assert_array_equal(distributed.pad_seeds(tree, 6)["key"], [0, 1, 2, 0, 1, 2])
    assert distributed.pad_seeds(tree, 3)["w"] is tree["w"]


def test_on_one_device_the_mesh_changes_nothing():
    mesh = distributed.seed_mesh()
    tree = {"w": np.arange(6.0).reshape(3, 2)}
    on_mesh = distributed.put_seeds(tree, mesh)
    assert distributed.padded_size(3, mesh) == 3 and on_mesh["w"].shape == (3, 2)
    np.testing.assert_array_equal(distributed.gather_seeds(on_mesh, 3)["w"], tree["w"])


def test_padding_and_sharding_on_two_and_four_devices():
    """3 seeds on 2 and on 4 forced CPU devices: padded to 4, each device holds its block, the
    real seeds come back whole, and a jitted vmap over the padded seeds gives the real seeds'
    values (exactly: an elementwise function)."""
    script = textwrap.dedent("""
        import jax, numpy as np
        from vamo_jax import distributed
        seeds = {"w": np.arange(12.0, dtype=np.float32).reshape(3, 4)}
        for n, blocks in ((2, [[0, 1], [2, 0]]), (4, [[0], [1], [2], [0]])):
            mesh = distributed.seed_mesh(n)
            assert distributed.padded_size(3, mesh) == 4
            on_mesh = distributed.put_seeds(seeds, mesh)["w"]
            assert on_mesh.shape == (4, 4) and on_mesh.sharding.spec == jax.sharding.PartitionSpec("seeds")
            for shard in on_mesh.addressable_shards:
                np.testing.assert_array_equal(shard.data, seeds["w"][blocks[shard.device.id]])
            out = jax.jit(jax.vmap(lambda w: w * w + 1.0))(on_mesh)
            assert out.sharding.is_equivalent_to(on_mesh.sharding, 2)
            np.testing.assert_array_equal(distributed.gather_seeds(out, 3), seeds["w"] ** 2 + 1.0)
            for tree in (seeds, {"w": on_mesh}):
                kept = distributed.put_unpadded(tree, mesh, 3)["w"]
                assert kept.shape == (3, 4) and kept.sharding.is_fully_replicated
                np.testing.assert_array_equal(distributed.gather_seeds(kept, 3), seeds["w"])
        assert distributed.put_unpadded({"w": np.zeros((4, 1))}, mesh, 4)["w"].sharding.spec[0] == "seeds"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], env=_env(4), cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-3000:]


def test_device_count_errors_name_the_field_and_the_fix():
    with pytest.raises(ConfigError, match=r"train.devices: 2 devices asked for, 1 visible .*at most 1, or to none"):
        distributed.seed_mesh(2)
    with pytest.raises(ValueError, match=r"train.devices: none \(every visible device\) or a device count ≥ 1"):
        TrainConfig(devices=0)


def test_multi_process_flags_come_together(tmp_path, capsys):
    assert main(["--config", "tiny", "--workdir", str(tmp_path), "--coordinator", "127.0.0.1:1"]) == 2
    assert "--num-processes, --process-id missing" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_four_devices_match_one_device(four_devices, one_device):
    _assert_same_run(four_devices, one_device)


def test_two_processes_match_one_device(two_processes, one_device):
    _assert_same_run(two_processes[0], one_device)


def test_only_process_0_writes_results_config_and_histories(two_processes):
    workdir, written = two_processes
    # A file is written through a temporary `.NAME.tmp` or `NAME.tmp.EXT` beside it.
    names = [{Path(p).name.lstrip(".").replace(".tmp", "") for p in w.splitlines() if Path(p).is_relative_to(workdir)}
             for w in written]
    assert {n for n in names[1] if n in WRITTEN_BY_PROCESS_0 or n.startswith("history_")} == set()
    assert set(WRITTEN_BY_PROCESS_0) | {"history_8.npz"} <= names[0]  # equal trained steps 5–8 here


def test_two_processes_resume_a_run_and_one_process_resumes_theirs(two_processes, run_args, tmp_path):
    """The two processes restored step 4 of equal (the chunk after it is the only one trained, so
    none is timed) without moving anything aside, and wrote step 8; one process on one device
    then resumes from the checkpoints the two wrote (every method final: restore and evaluate)."""
    resumed = json.loads((two_processes[0] / "results.json").read_text())
    assert np.isnan(resumed["timing"]["equal"]["steps_per_s"])
    for method in _methods(two_processes[0]):
        assert not (two_processes[0] / "checkpoints" / method / "damaged").exists()
        assert (two_processes[0] / "checkpoints" / method / "8").exists()
    workdir = tmp_path / "run"
    shutil.copytree(two_processes[0], workdir)
    (workdir / "results.json").unlink()
    assert main(run_args + ["--workdir", str(workdir), "--resume"]) == 0
    assert not any((workdir / "checkpoints" / m / "damaged").exists() for m in _methods(workdir))
    _assert_same_run(workdir, two_processes[0])


def test_replications_over_markets_that_do_not_divide_the_devices_match_one_device(markets_four_devices,
                                                                                 markets_one_device):
    """3 markets × 1 seed on 4 devices: padded to 4 replications (the padding repeats market 0's
    data with its state), each sharded with its own market's data; the real 3 equal one device's."""
    _assert_same_run(markets_four_devices, markets_one_device)
    results = json.loads((markets_four_devices / "results.json").read_text())
    assert results["replications"] == [{"market": m, "seed": m} for m in range(3)]
    assert results["ci"]["num_markets"] == 3 and results["ci"]["num_seeds"] == 1
