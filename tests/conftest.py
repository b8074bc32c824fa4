import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from vamo_jax import _compilation_cache  # noqa: E402

# A rerun of the suite reads its compiled programs back instead of compiling them (about 4× faster).
_compilation_cache.enable(Path(__file__).resolve().parents[1] / "runs" / "jax_cache")
