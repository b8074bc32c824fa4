"""Replications over markets in the run (`run.replications`): replication r trains and is scored on
market r // S, its data equal bit for bit to a stand-alone generation from that market's key;
every method of a replication sees the same market; nothing recompiles for other markets.

Small shapes: the tiny config with a 6-advertiser market of 8 ticks a day, 2 markets × 2 seeds.
"""

import dataclasses

import jax
import numpy as np
import pytest

from tests.data.test_markets import count_compilations, lowered
from vamo_jax import bidding, run
from vamo_jax.config import load_config
from vamo_jax.data import markets as mk
from vamo_jax.data.config import DataConfig
from vamo_jax.evaluate import market_task_targets, replay_of, scored_day, task_targets, traffic_keys
from vamo_jax.methods import get
from vamo_jax.premise import dataset_batches
from vamo_jax.sim.params import EnvParams
from vamo_jax.train import init_train_states, make_chunk

M, S = 2, 2


def small_config(seed: int = 3, markets: int = M):
    base = load_config("tiny")
    env = EnvParams(num_advertisers=6, num_categories=2, ticks_per_day=8, impressions_per_day=64, history_len=8,
                    block_len=4)
    data = DataConfig(seed=seed, num_days=4, train_days=(1, 2), val_day=3, test_day=4, train_per_task=(3, 3, 3),
                      env=env, markets=markets)
    model = dataclasses.replace(base.model, history_len=8, max_timestep=8, context_len=2, periods=(4,),
                                kernel_sizes=(1,))
    train = dataclasses.replace(base.train, num_seeds=S, steps=2, log_every=2, checkpoint_every=2, batch_size=4,
                                methods=("stl", "equal"))
    return dataclasses.replace(base, data=data, model=model, train=train,
                               eval=dataclasses.replace(base.eval, draws=2, hindsight_grid=0))


@pytest.fixture(scope="module")
def config():
    return small_config()


@pytest.fixture(scope="module")
def reps(config):
    return run.replications(config)


def assert_trees_equal(got, want, where: str):
    lg, lw = jax.tree_util.tree_leaves_with_path(got), jax.tree_util.tree_leaves_with_path(want)
    assert [p for p, _ in lg] == [p for p, _ in lw], where
    for (path, x), (_, y) in zip(lg, lw):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=f"{where}{jax.tree_util.keystr(path)}")


def test_replication_r_is_market_r_over_s_generated_alone_bit_for_bit(config, reps):
    assert reps.per_replication and reps.train.num_seeds == M * S
    assert reps.replications == [{"market": r // S, "seed": r} for r in range(M * S)]
    day = scored_day(config.data, config.eval)
    key = jax.random.PRNGKey(config.train.seed + 104729)
    for m in range(M):
        alone = mk.market_dataset(jax.device_get(mk.generate_market(mk.market_key(config.data.seed, m), config.data)),
                                  config.data)
        data = {**bidding.problem_data(alone, config.model), "stats": alone.stats}
        replay = replay_of(alone, day, run.market_length(config.model))
        for r in (m * S, m * S + S - 1):  # each seed of market m
            at = lambda tree: jax.tree.map(lambda x: x[r], tree)  # noqa: E731
            assert_trees_equal(at(reps.problem.data), data, f"replication {r} data")
            assert_trees_equal(at(reps.replay), replay, f"replication {r} replay")
            np.testing.assert_array_equal(reps.keys[r], traffic_keys(alone, day, config.eval.draws))
            np.testing.assert_array_equal(reps.targets[r], task_targets(alone, config.eval.target_quantile))
            np.testing.assert_array_equal(reps.advertisers[0][r, 0], alone.world.constraint)
            for i, name in ((1, "val"), (2, "test")):
                want = dataset_batches(alone, name, jax.random.fold_in(key, i), run.HELD_OUT_BATCHES,
                                       config.train.batch_size, config.model.context_len)
                assert_trees_equal(at(reps.held_out[name]), want, f"replication {r} {name} batches")
    # Not vacuous: the two markets differ.
    assert not np.array_equal(reps.problem.data["train"].actions[0], reps.problem.data["train"].actions[S])
    assert not np.array_equal(reps.targets[0], reps.targets[S])


def test_market_targets_are_each_markets_task_targets():
    returns = np.array([[[1.0], [3.0], [10.0], [20.0]], [[2.0], [6.0], [30.0], [50.0]]])
    split = type("Split", (), {"returns_to_go": returns, "task": np.array([[0, 0, 1, 2], [0, 0, 1, 2]])})
    got = market_task_targets(split, 0.5, 3)
    np.testing.assert_allclose(got, [[2.0, 10.0, 20.0], [4.0, 30.0, 50.0]])
    split.task = np.array([[0, 0, 1, 2], [0, 1, 1, 2]])
    with pytest.raises(ValueError, match="different task rows"):
        market_task_targets(split, 0.5, 3)


def test_every_method_of_a_replication_sees_its_market(config, monkeypatch, tmp_path):
    """Both methods are trained and scored on the same per-replication data, replay, draws and targets."""
    seen, current = {}, []

    def fit(problem, method, train_config, checkpoint_dir, tasks, **options):
        current.append(method.name)
        seen[method.name] = {"data": problem.data}
        assert options["per_replication"] and train_config.num_seeds == M * S
        states = init_train_states(problem._replace(data=jax.tree.map(lambda x: x[0], problem.data)), method,
                                   train_config)
        return jax.device_get(states), {}, 1.0

    def evaluator(shape, model, rollouts):
        assert shape == mk.shape_config(config.data)

        def evaluate(params, targets, replay, keys):
            seen[current[-1]].update(targets=targets, replay=replay, keys=keys)
            shape_out = (M * S, config.eval.draws, config.data.env.num_advertisers)
            return np.ones(shape_out), np.ones(shape_out)

        return evaluate

    monkeypatch.setattr(run, "fit_method", fit)
    monkeypatch.setattr(run, "market_evaluator", evaluator)
    for name in ("stl", "equal"):
        measured = run.measure(config, get(name), tmp_path, {})
        assert measured.metrics["score"].shape == (M * S, config.data.num_tasks, config.eval.draws)
        assert measured.metrics["val_loss"].shape == (M * S, config.data.num_tasks)
    for field in ("data", "targets", "replay", "keys"):
        assert_trees_equal(jax.device_get(seen["stl"][field]), jax.device_get(seen["equal"][field]), field)


def test_other_markets_of_the_same_shape_do_not_recompile(config, reps):
    """Training chunk and evaluator compiled on the markets of seed 3 serve the markets of seed 8."""
    method = get("equal")
    other = run.replications(small_config(seed=8))
    chunk = make_chunk(reps.problem, method, reps.train, per_replication=True)
    evaluate = run.market_evaluator(mk.shape_config(config.data), config.model, run.rollouts_of(config.eval))

    def train_and_score(r):
        states = init_train_states(r.problem._replace(data=jax.tree.map(lambda x: x[0], r.problem.data)), method,
                                   r.train)
        states, _ = chunk(states, np.int32(0), r.problem.data)
        params = method.task_models(states.params, config.data.num_tasks)
        return jax.block_until_ready(evaluate(params, r.targets, r.replay, r.keys))

    first = train_and_score(reps)
    with count_compilations() as events:
        second = train_and_score(other)
    assert lowered(events) == 0, events
    assert not np.array_equal(first[0], second[0])  # other markets, other scores


def test_initial_params_read_the_example_batchs_shapes_alone(reps):
    """One problem serves every market of a shape, its example batch from the first market: the
    initial parameters must not depend on that batch's values (here markets 0 and 1's problems)."""
    config = small_config()
    stacked = run.markets(config.data)
    problems = [bidding.make_problem(mk.market_dataset(mk.market_at(stacked, m), config.data), config.model,
                                     config.train.batch_size) for m in range(M)]
    key = jax.random.PRNGKey(5)
    assert_trees_equal(*(jax.jit(p.init_params)(key) for p in problems), "initial params")
