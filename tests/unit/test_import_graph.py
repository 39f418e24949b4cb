"""The import graph of asset_tracker: no circle between modules, and the core knows no capability.

Every import statement counts, including those inside functions (grimp reads them all): a circle
hidden inside a function is still a circle.
"""
from __future__ import annotations

import grimp

# The shared bottom layer: imports nothing of the capabilities.
BASE = ("asset_tracker.core", "asset_tracker.lifecycle", "asset_tracker.tags", "asset_tracker.db",
        "asset_tracker.idempotency")
# The device's domain: plugs wiping, labels and intake in through extension points, never imports them.
DEVICE_DOMAIN = ("asset_tracker.devices.services", "asset_tracker.devices.models",
                 "asset_tracker.devices.extension_points", "asset_tracker.custody.services",
                 "asset_tracker.custody.models")
CAPABILITIES_ABOVE_DEVICES = ("intake", "labels", "wiping", "distribution", "workshop", "reminders", "reports",
                              "audit", "admin", "web")


def _graph():
    return grimp.build_graph("asset_tracker", exclude_type_checking_imports=True)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_asset_tracker_is_part_of_an_import_circle():
    graph = _graph()
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    cycles = _cycles(edges)
    detail = ["  " + " , ".join(f"{a} -> {b}" for a in c for b in sorted(edges[a] & set(c))) for c in cycles]
    assert cycles == [], "import circles:\n" + "\n".join(detail)


def _imports_of(graph, importer: str, prefix: str) -> list[str]:
    return sorted(m for m in graph.find_modules_directly_imported_by(importer)
                  if m == prefix or m.startswith(prefix + "."))


def test_the_base_layer_imports_no_capability():
    graph = _graph()
    capabilities = [m for m in graph.find_children("asset_tracker") if graph.find_children(m)]
    upward = {base: _imports_of(graph, base, cap) for base in BASE for cap in capabilities}
    assert {k: v for k, v in upward.items() if v} == {}


def test_devices_and_custody_know_nothing_of_the_capabilities_above_them():
    graph = _graph()
    upward = {(low, high): _imports_of(graph, low, f"asset_tracker.{high}")
              for low in DEVICE_DOMAIN for high in CAPABILITIES_ABOVE_DEVICES}
    assert {k: v for k, v in upward.items() if v} == {}
