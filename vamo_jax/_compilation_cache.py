"""JAX's persistent compilation cache: compiled XLA programs kept on disk across processes.

A process that compiles the same programs as an earlier one (a rerun of a config, the test
suite) reads them back instead of compiling; a cold run pays compilation once and fills it.
"""

from __future__ import annotations

import os

import jax


def enable(path: str | os.PathLike, min_compile_seconds: float = 0.0) -> None:
    """Caches every program whose compilation takes at least `min_compile_seconds` under `path`.

    Call it before the first compilation (at the start of a process). JAX keys entries by the
    program, the JAX/XLA versions and the device, so a stale entry is never read.
    """
    jax.config.update("jax_compilation_cache_dir", os.fspath(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
