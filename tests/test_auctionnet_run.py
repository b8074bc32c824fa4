"""The main job's methods end to end on a small AuctionNet-format data set generated here.

The simulator writes raw periods (`python -m vamo_jax.data --format auctionnet-raw`); the
`auctionnet` config, sized down, reads them; every method of the main job trains on them
through the one run (`vamo_jax.run.run`) and is scored on the test period's logged traffic
(`offline_eval.make_logged_evaluator`).
"""

import dataclasses

import numpy as np
import pytest

from configs import tiny
from vamo_jax import run
from vamo_jax.config import load_config
from vamo_jax.data import make_dataset
from vamo_jax.data.__main__ import main as data_main
from vamo_jax.data.auctionnet_raw import period_files

SMALL = tiny.get_config()
METHODS = ("stl", "equal", "vamo", "share", "vao")


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    out = tmp_path_factory.mktemp("auctionnet")
    data_main(["--config", "tiny", "--format", "auctionnet-raw", "--out", str(out)])
    base = load_config("auctionnet", [f"data.path={out}"])
    env = dataclasses.replace(SMALL.data.env, campaign_mix=(0.0, 0.0, 1.0), unit_value=(1.0, 1.0, 1.0))
    k = env.num_categories
    return dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, env=env, num_days=10, train_days=(7, 8), val_day=9, test_day=10,
                                 num_tasks=k),
        model=dataclasses.replace(SMALL.model, num_tasks=k),
        train=dataclasses.replace(SMALL.train, methods=METHODS, num_seeds=1, steps=2, log_every=2,
                                  checkpoint_every=2),
        eval=dataclasses.replace(base.eval, draws=2),
    )


def test_the_cli_writes_every_period(config):
    assert sorted(period_files(config.data.path)) == list(range(11))


def test_main_job_methods_on_auctionnet_format(config, tmp_path):
    """`run.run` end to end on the generated periods: every method trains and is scored on the test
    period's logged traffic (`offline_eval.make_logged_evaluator`), beside the logged behaviour."""
    dataset = make_dataset(config.data)  # dispatches to the raw reader
    n = config.data.env.num_advertisers
    assert dataset.train.size == 2 * n and dataset.test.size == n
    results = run.run(config, tmp_path)
    assert list(results["methods"]) == list(METHODS)
    budget = float(np.asarray(dataset.test.budget).mean())
    for method, entry in results["methods"].items():
        metrics = entry["metrics"]
        for task in results["tasks"]:
            score, value = np.asarray(entry["per_task"][task]["draws"]), np.asarray(metrics["value"][task]["draws"])
            assert np.all(np.isfinite(score)) and np.all(score <= value + 1e-9), method  # the score never exceeds the value
            assert np.all(np.asarray(metrics["cost"][task]["draws"]) <= budget * n), method
            assert np.isfinite(metrics["test_loss"][task]["mean"])
        assert sum(metrics["cost"][t]["mean"] for t in results["tasks"]) > 0, method  # the policies bid and win
    assert set(results["logged_behaviour"]) == {"score", "value", "cost", "online_ratio", "violation_rate"}
    assert (tmp_path / "results.json").exists()
