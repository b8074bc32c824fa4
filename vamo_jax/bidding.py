"""The bidding problem: the offline logs and the generative policy as a `MultiTaskProblem`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from vamo_jax.config import ConfigError
from vamo_jax.data import Dataset, relabel_for_every_task, sample_batch, sample_cross_batch, sample_task_batch
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


def make_problem(dataset: Dataset, model_config: ModelConfig, batch_size: int) -> MultiTaskProblem:
    """The multi-task problem of `dataset`: train on days 1–8, validation batches from day 9;
    for cross-task methods the training split is relabeled for every task (`data["cross"]`)."""
    check_compatible(dataset, model_config)
    model = make_policy(model_config)
    env, stats, context = dataset.config.env, dataset.stats, model_config.context_len
    data = {"train": jax.tree.map(jnp.asarray, dataset.train), "val": jax.tree.map(jnp.asarray, dataset.val),
            "cross": jax.tree.map(jnp.asarray, relabel_for_every_task(dataset.train, env, model_config.num_tasks))}
    example = sample_batch(jax.random.PRNGKey(0), dataset.train, 2, context, stats, env)

    return MultiTaskProblem(
        num_tasks=model_config.num_tasks,
        init_params=lambda key: model.init(key, example),
        per_example_loss=lambda params, batch: per_example_loss(model, params, batch),
        task_of=lambda batch: batch.task,
        sample_train=lambda key, d: sample_batch(key, d["train"], batch_size, context, stats, env),
        sample_val=lambda key, d: sample_batch(key, d["val"], batch_size, context, stats, env),
        sample_task=lambda key, d, k: sample_task_batch(key, d["train"], k, batch_size, context, stats, env),
        data=data,
        sample_cross=lambda key, d: sample_cross_batch(key, d["train"], d["cross"], batch_size, context, stats, env),
    )
