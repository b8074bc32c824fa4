"""Seeds on a device mesh: the seed axis sharded over a 1-D `Mesh`, the data replicated.

Training and evaluation vmap over seeds, so seeds are the data-parallel axis: device d holds a
contiguous block of the seed-stacked state, and the jitted chunk, validation losses and evaluator
follow their inputs' shardings (nothing in them changes). Across processes
(`jax.distributed.initialize`), the mesh spans every process's devices and each process holds
the shards of its own devices; results come back to every process with `process_allgather`.

Remainder: with S seeds on n devices, S not a multiple of n, the seed axis is padded to the next
multiple P by repeating the real seeds (padded seed i is seed i mod S, its key too), and the
padding is dropped on the way back to the host. A padded seed computes exactly what its original
computes, and every seed's computation is independent of the others (`vmap`), so the real seeds'
numbers do not depend on the padding. Checkpoints hold the S real seeds only
(`put_unpadded`), so a run resumes on any number of devices.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from vamo_jax.config import ConfigError

SEEDS = "seeds"
"""The mesh's one axis: the seed axis of the training state, of the params and of the results."""


def seed_mesh(devices: int | None = None) -> Mesh:
    """The 1-D mesh (axis `SEEDS`) over `jax.devices()` (every process's), or the first `devices` of them.

    Raises:
      ConfigError: `devices` is more than are visible, or leaves a process without a device.
    """
    visible = jax.devices()
    if devices is not None and not 1 <= devices <= len(visible):
        raise ConfigError(f"train.devices: {devices} devices asked for, {len(visible)} visible (jax.devices()); "
                         f"set train.devices to at most {len(visible)}, or to none for all of them.")
    chosen = visible if devices is None else visible[:devices]
    idle = sorted(set(range(jax.process_count())) - {d.process_index for d in chosen})
    if idle:
        raise ConfigError(f"train.devices: the first {devices} devices leave process(es) {idle} without one; every "
                         "process must hold a device: set train.devices to none (all devices) or run fewer processes.")
    return Mesh(np.asarray(chosen), (SEEDS,))


def seed_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (seed) axis split over the mesh, the other axes whole."""
    return NamedSharding(mesh, PartitionSpec(SEEDS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A whole copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def padded_size(num_seeds: int, mesh: Mesh) -> int:
    """P: `num_seeds` rounded up to a multiple of the mesh's device count."""
    n = mesh.devices.size
    return -(-num_seeds // n) * n


def pad_seeds(tree: Any, size: int) -> Any:
    """Seed-stacked leaves (S, …) -> (size, …): seed i of the result is seed i mod S."""
    return jax.tree.map(lambda x: x[np.arange(size) % x.shape[0]] if size != x.shape[0] else x, tree)


def put_seeds(tree: Any, mesh: Mesh) -> Any:
    """Seed-stacked leaves (S, …), whole on this process (numpy, local or global arrays), -> global
    arrays (P, …) padded (`pad_seeds`) and sharded over the seeds."""
    def put(x):
        size = padded_size(x.shape[0], mesh)
        return _put(x if size == x.shape[0] else pad_seeds(_whole(x), size), seed_sharding(mesh))

    return jax.tree.map(put, tree)


def put_unpadded(tree: Any, mesh: Mesh, num_seeds: int) -> Any:
    """Seed-stacked leaves (S or P, …; whole on this process, or global) -> global arrays of the
    real seeds (S, …): sharded over the seeds where the device count divides S, else replicated.
    The layout of a checkpoint."""
    def put(x):
        real = x if x.shape[0] == num_seeds else _host(x)[:num_seeds]
        return _put(real, seed_sharding(mesh) if num_seeds % mesh.devices.size == 0 else replicated(mesh))

    return jax.tree.map(put, tree)


def put_replicated(tree: Any, mesh: Mesh) -> Any:
    """Leaves of any shape, the same on every process -> global arrays replicated over the mesh."""
    return jax.tree.map(lambda x: _put(x, replicated(mesh)), tree)


def gather_seeds(tree: Any, num_seeds: int) -> Any:
    """Global (P, …) leaves -> numpy (num_seeds, …) on every process: gathered, padding dropped."""
    return jax.tree.map(lambda x: _host(x)[:num_seeds], tree)


def barrier(name: str) -> None:
    """Every process waits here until all have arrived (`sync_global_devices`); nothing with one process."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)


def _whole(x) -> Any:
    """`x` whole on this process: as it is where it is addressable here, else gathered to numpy."""
    return x if not isinstance(x, jax.Array) or x.is_fully_addressable else _host(x)


def _host(x) -> np.ndarray:
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(jax.device_get(x))


def _put(x, sharding: NamedSharding) -> jax.Array:
    """`x` as a global array of `sharding`: as it is where it has that layout already; a
    device-to-device copy where everything is this process's; else each process fills its own
    shards from its whole copy (gathered first where `x` is global)."""
    if isinstance(x, jax.Array) and x.sharding.is_equivalent_to(sharding, x.ndim):
        return x
    if sharding.is_fully_addressable and _whole(x) is x:
        return jax.device_put(x, sharding)
    host = _host(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
