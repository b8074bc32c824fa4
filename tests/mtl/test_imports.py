"""The import graph of `vamo_jax.mtl`, read from the source (every import, at any depth)."""

import ast
from pathlib import Path

import vamo_jax.mtl

ROOT = Path(vamo_jax.mtl.__file__).parent
PACKAGE = "vamo_jax.mtl"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The mtl modules `path` imports anywhere: top level, in a function, under TYPE_CHECKING."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from pkg import sub` depends on pkg.sub when sub is a module, else on pkg itself.
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                     for a in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def _graph():
    paths = sorted(ROOT.rglob("*.py"))
    modules = {_module_name(p) for p in paths}
    return {_module_name(p): _imports(p, modules) - {_module_name(p)} for p in paths}


def _reaches(graph, start, goal, seen=None):
    seen = set() if seen is None else seen
    for nxt in graph[start]:
        if nxt == goal:
            return True
        if nxt not in seen and not nxt.startswith(goal + "."):
            seen.add(nxt)
            if _reaches(graph, nxt, goal, seen):
                return True
    return False


def test_the_graph_is_read():
    graph = _graph()
    assert f"{PACKAGE}.temperature" in graph[f"{PACKAGE}.vamo"]
    assert f"{PACKAGE}.weighting._common" in graph[f"{PACKAGE}.weighting.mgda"]


def test_no_module_imports_itself_back():
    """No cycle between modules; a package's own __init__ re-exporting its children is not one."""
    graph = _graph()
    cycles = [
        m for m in graph
        if not m.endswith((".mtl", ".weighting")) and _reaches(graph, m, m)
    ]
    assert not cycles, f"import cycles through {cycles}"


def test_the_zoo_base_depends_on_no_member():
    graph = _graph()
    members = {m for m in graph if m.startswith(f"{PACKAGE}.weighting.") and not m.endswith("_common")}
    members |= {f"{PACKAGE}.vamo", f"{PACKAGE}.weighting"}
    seen, todo = set(), [f"{PACKAGE}.weighting._common"]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    assert not seen & members, f"weighting/_common reaches zoo members {sorted(seen & members)}"
