"""The import graph of `vamo_jax.mtl` (`tests.test_layering.import_graph`: every import, at any
depth; the package-wide test there finds no cycle): the zoo's shared code depends on no member."""

from tests.test_layering import import_graph

PACKAGE = "vamo_jax.mtl"


def test_the_graph_is_read():
    graph = import_graph()
    assert f"{PACKAGE}.temperature" in graph[f"{PACKAGE}.vamo"]
    assert f"{PACKAGE}.weighting._common" in graph[f"{PACKAGE}.weighting.mgda"]


def test_the_zoo_base_depends_on_no_member():
    graph = import_graph()
    members = {m for m in graph if m.startswith(f"{PACKAGE}.weighting.") and not m.endswith("_common")}
    members |= {f"{PACKAGE}.vamo", f"{PACKAGE}.weighting"}
    seen, todo = set(), [f"{PACKAGE}.weighting._common"]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    assert not seen & members, f"weighting/_common reaches zoo members {sorted(seen & members)}"
