"""The main job's methods end to end on a small AuctionNet-format data set generated here.

The simulator writes raw periods (`python -m vamo_jax.data --format auctionnet-raw`); the
`auctionnet` config, sized down, reads them; every method of the main job trains on them
(`bidding.make_problem`, `loop.fit_method`) and is scored on the test period's logged traffic
(`offline_eval.make_logged_evaluator`), the composition the run makes with the simulator's evaluator.
"""

import dataclasses

import numpy as np
import pytest

from configs import tiny
from vamo_jax.bidding import make_problem
from vamo_jax.config import load_config
from vamo_jax.data import make_dataset
from vamo_jax.data.__main__ import main as data_main
from vamo_jax.data.auctionnet_raw import period_files
from vamo_jax.evaluate import per_task_params, task_targets
from vamo_jax.loop import fit_method
from vamo_jax.methods import Kind, get
from vamo_jax.offline_eval import logged_metrics, make_logged_evaluator
from vamo_jax.train import eval_params

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
    dataset = make_dataset(config.data)  # dispatches to the raw reader
    k, n = config.data.num_tasks, config.data.env.num_advertisers
    assert dataset.train.size == 2 * n and dataset.test.size == n
    problem = make_problem(dataset, config.model, config.train.batch_size)
    evaluate = make_logged_evaluator(dataset, config.model, config.eval)
    targets = task_targets(dataset, config.eval.target_quantile)
    budget = np.asarray(dataset.test.budget)[np.argsort(np.asarray(dataset.test.advertiser))]  # (N,) by advertiser
    for method in METHODS:
        states, history, _ = fit_method(problem, method, config.train, tmp_path / method,
                                        tuple(f"category {c}" for c in range(k)))
        assert np.all(np.isfinite(history["losses"]))
        params = eval_params(states, config.train)
        single = get(method).kind is Kind.SINGLE_TASK
        values, costs = evaluate(params if single else per_task_params(params, k), targets)
        values, costs = np.asarray(values), np.asarray(costs)
        assert values.shape == costs.shape == (1, config.eval.draws, n)
        assert np.all(values >= 0) and np.all(np.isfinite(costs))
        assert np.all(costs <= budget)
        assert costs.sum() > 0, method  # the trained policies bid and win
        metrics = logged_metrics(dataset, values, costs, config.eval.beta)
        assert all(m.shape == (1, config.eval.draws, k) for m in metrics.values())
        assert np.all(metrics["return"] <= metrics["value"] + 1e-9)  # the score never exceeds the value
