"""The bidding problem: the offline logs and the generative policy as a `MultiTaskProblem`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.config import ConfigError
from vamo_jax.data import Dataset, relabel_for_every_task, sample_batch, sample_cross_batch, sample_task_batch
from vamo_jax.data.config import DataConfig
from vamo_jax.data.markets import Market
from vamo_jax.models.config import ModelConfig
from vamo_jax.models.losses import per_example_loss
from vamo_jax.models.policy import make_policy
from vamo_jax.mtl import check_task_ids
from vamo_jax.train import MultiTaskProblem


def check_compatible(dataset: Dataset, model: ModelConfig) -> None:
    """The model's shapes must be the data's; raises naming the field to change."""
    env = dataset.config.env
    pairs = [
        ("model.history_len", model.history_len, "data.env.history_len", env.history_len),
        ("model.num_tasks", model.num_tasks, "data.num_tasks", dataset.config.num_tasks),
        ("model.max_timestep", model.max_timestep, "data.env.ticks_per_day", env.ticks_per_day),
    ]
    for name, value, other, expected in pairs:
        if value != expected:
            raise ConfigError(f"{name}={value} must equal {other}={expected}; set {name}={expected}.")
    for split_name in ("train", "val", "test"):
        split = dataset.split(split_name)
        check_task_ids(np.asarray(split.task), model.num_tasks, where=f"data split {split_name!r}: task")
        for field in ("states", "actions", "rewards", "returns_to_go", "budget", "constraint"):
            values = np.asarray(getattr(split, field))
            bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(1)  # (M,) any non-finite entry
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                which = ", ".join(f"{name} {int(np.asarray(getattr(split, name))[row])}"
                                  for name in ("episode", "day", "advertiser"))
                raise ValueError(
                    f"data split {split_name!r}: {field} holds NaN/Inf ({int(bad.sum())} trajectory(ies); the first "
                    f"is trajectory {row}: {which}); fix or drop those rows before training."
                )


def problem_data(dataset: Dataset, model_config: ModelConfig) -> dict:
    """The arrays the bidding problem's samplers read as their traced `data` argument: {"train":
    days 1–8, "val": day 9, "cross": the training split relabeled for every task (K, M, …)}. One
    market's normalisation stays in the problem's functions (compile-time constants, as the main
    job's pinned numbers were made); markets carry theirs as data (`market_problem_data`)."""
    env = dataset.config.env
    return {"train": jax.tree.map(jnp.asarray, dataset.train), "val": jax.tree.map(jnp.asarray, dataset.val),
            "cross": jax.tree.map(jnp.asarray, relabel_for_every_task(dataset.train, env, model_config.num_tasks))}


def market_problem_data(markets: Market, config: DataConfig, model_config: ModelConfig) -> dict:
    """`problem_data` of R stacked markets (`vamo_jax.data.markets.Market`, leaves (R, …)), with
    each market's training `NormStats` as data ("stats"), every leaf (R, …): entry r equals
    `problem_data(market_dataset(market_at(markets, r), config), …)` and that market's stats.

    The relabeling (`relabel_for_every_task`, numpy) is row by row, so it runs once on the R
    markets' training rows end to end, (R · M, …), and is cut back into markets.
    """
    train = jax.device_get(markets.train)
    r, m = train.task.shape[:2]
    rows = jax.tree.map(lambda x: np.reshape(x, (r * m,) + x.shape[2:]), train.replace(market=np.zeros((r, m))))
    rows = rows.replace(market=train.market[0])  # the relabeling never reads the market series
    cross = relabel_for_every_task(rows, config.env, model_config.num_tasks)  # (K, R · M, …), market (K, E, D, T, F)
    k = cross.task.shape[0]
    cross = jax.tree.map(lambda x: np.moveaxis(np.reshape(x, (k, r, m) + x.shape[2:]), 1, 0),
                         cross.replace(market=np.zeros((k, r * m), np.float32)))
    cross = cross.replace(market=np.broadcast_to(train.market[:, None], (r, k) + train.market.shape[1:]))
    return {"train": jax.tree.map(jnp.asarray, markets.train), "val": jax.tree.map(jnp.asarray, markets.val),
            "cross": jax.tree.map(jnp.asarray, cross), "stats": jax.tree.map(jnp.asarray, markets.stats)}


def make_problem(dataset: Dataset, model_config: ModelConfig, batch_size: int) -> MultiTaskProblem:
    """The multi-task problem of `dataset`: train on days 1–8, validation batches from day 9;
    for cross-task methods the training split is relabeled for every task (`data["cross"]`).

    The samplers read the arrays from their `data` argument (`problem_data`), and the
    normalisation from `data["stats"]` where the data carries it (`market_problem_data`), else
    `dataset.stats` as constants: for markets the functions close over shapes and static settings
    alone, so one problem (one compilation) serves every market of a shape; the example batch
    that `init_params` traces is `dataset`'s.
    """
    check_compatible(dataset, model_config)
    model = make_policy(model_config)
    env, context = dataset.config.env, model_config.context_len
    example = sample_batch(jax.random.PRNGKey(0), dataset.train, 2, context, dataset.stats, env)

    def norm(d):  # the markets' statistics (traced), or this data set's (constants)
        return d["stats"] if "stats" in d else dataset.stats

    return MultiTaskProblem(
        num_tasks=model_config.num_tasks,
        init_params=lambda key: model.init(key, example),
        per_example_loss=lambda params, batch: per_example_loss(model, params, batch),
        task_of=lambda batch: batch.task,
        sample_train=lambda key, d: sample_batch(key, d["train"], batch_size, context, norm(d), env),
        sample_val=lambda key, d: sample_batch(key, d["val"], batch_size, context, norm(d), env),
        sample_task=lambda key, d, k: sample_task_batch(key, d["train"], k, batch_size, context, norm(d), env),
        data=problem_data(dataset, model_config),
        sample_cross=lambda key, d: sample_cross_batch(key, d["train"], d["cross"], batch_size, context, norm(d),
                                                       env),
    )
