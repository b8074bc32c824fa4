"""The package's import structure: no cycles (every import counted: module level, inside functions,
under TYPE_CHECKING), and reading a config loads no model or trainer."""

import ast
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "vamo_jax"


def import_graph() -> dict[str, set[str]]:
    """module -> the vamo_jax modules it imports anywhere in its source (module level, in functions,
    under TYPE_CHECKING); `from pkg import sub` is an edge to pkg.sub when sub is a module."""
    modules = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("vamo_jax"):
                deps |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                         for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("vamo_jax")}
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def test_import_graph_has_no_cycle():
    graph, state, cycles = import_graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for dep in graph[node]:
            if state.get(dep) == "open":
                cycles.append(path[path.index(dep):] + [dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
    # A package's __init__ re-exporting its own submodules is not a cycle of concepts.
    packages = {p for p in graph if (PACKAGE.parent / p.replace(".", "/") / "__init__.py").exists()}
    real = [c for c in cycles if not any(p in c and all(m.startswith(p) for m in c) for p in packages)]
    assert not real, f"import cycles: {real}"


def test_mtl_and_sim_import_nothing_of_the_layers_above():
    for name, deps in import_graph().items():
        if name.startswith("vamo_jax.mtl"):
            assert all(d.startswith("vamo_jax.mtl") for d in deps), (name, deps)
        if name.startswith("vamo_jax.sim"):
            assert all(d.startswith("vamo_jax.sim") for d in deps), (name, deps)


def test_reading_a_config_loads_no_model_trainer_or_evaluator():
    code = """
import sys
from vamo_jax.config import load_config
load_config("sim")
compute = ("vamo_jax.train", "vamo_jax.evaluate", "vamo_jax.loop", "vamo_jax.bidding", "vamo_jax.models.policy")
print(sorted(m for m in sys.modules if m in compute or m.startswith(("flax", "vamo_jax.experiments."))))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]", out
