import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Compilation is most of the suite's time and its shapes are tiny: XLA's CPU backend without LLVM's
# optimisation passes compiles about a third faster (measured: the suite's CPU time 870 s -> 586 s)
# and every test passes unchanged, the pinned numbers included. Subprocesses inherit it.
if "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()

from vamo_jax import _compilation_cache  # noqa: E402

# A rerun of the suite reads its compiled programs back instead of compiling them (about 4× faster).
_compilation_cache.enable(Path(__file__).resolve().parents[1] / "runs" / "jax_cache")
