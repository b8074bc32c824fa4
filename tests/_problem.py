"""A small synthetic multi-task problem for trainer tests (the tiny Transformer, three tasks)."""

import jax
import jax.numpy as jnp

from tests._tiny_transformer import TinyCausalTransformer
from vamo_jax.train import MultiTaskProblem

MODEL = TinyCausalTransformer(width=8, depth=1, heads=1)
K, N, T, D, B = 3, 48, 6, 3, 12


def make_data(key, shift=0.0):
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (N, T, D))
    task = jnp.arange(N) % K
    w = jax.random.normal(jax.random.PRNGKey(42), (K, D)) + shift
    y_all = jnp.cumsum(jnp.einsum("ntd,kd->knt", x, w), axis=2) / T  # every example labelled by every task
    return {"x": x, "y": y_all[task, jnp.arange(N)], "task": task, "y_all": y_all}


def _sample(key, data, weights):
    idx = jax.random.choice(key, N, (B,), p=weights / weights.sum())
    return {"x": data["x"][idx], "y": data["y"][idx], "task": data["task"][idx]}


def _sample_cross(key, data):
    """The rows of a training batch, relabelled for every target k: (sources (B,), batches (K, B, …))."""
    data = data["train"]
    idx = jax.random.choice(key, N, (B,))
    batches = {"x": jnp.broadcast_to(data["x"][idx], (K, B, T, D)), "y": data["y_all"][:, idx],
               "task": jnp.broadcast_to(jnp.arange(K)[:, None], (K, B))}
    return data["task"][idx], batches


def make_problem() -> MultiTaskProblem:
    data = {"train": make_data(jax.random.PRNGKey(0)), "val": make_data(jax.random.PRNGKey(1), shift=0.3)}

    def per_example_loss(params, batch):
        return jnp.mean((MODEL.apply(params, batch["x"]) - batch["y"]) ** 2, axis=1)

    return MultiTaskProblem(
        num_tasks=K,
        init_params=lambda key: MODEL.init(key, jnp.zeros((1, T, D))),
        per_example_loss=per_example_loss,
        task_of=lambda batch: batch["task"],
        sample_train=lambda key, d: _sample(key, d["train"], jnp.ones(N)),
        sample_val=lambda key, d: _sample(key, d["val"], jnp.ones(N)),
        sample_task=lambda key, d, k: _sample(key, d["train"], (d["train"]["task"] == k).astype(jnp.float32)),
        data=data,
        sample_cross=_sample_cross,
    )
