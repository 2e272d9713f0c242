"""Static import graph of the project's source, read with ``ast`` (nothing is imported), and the checks run on it:
cycles between modules, imports that cross a layer the wrong way, and cycles between apps.

Every ``import`` counts wherever it stands (a function-level import is still a dependency), except under
``if TYPE_CHECKING:``, which never runs. Migrations are left out: they name models by string."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path

Graph = dict[str, set[str]]


def module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(base: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` file under the given top-level packages, migrations excluded."""
    files: dict[str, Path] = {}
    for package in packages:
        for path in sorted((base / package).rglob("*.py")):
            if "migrations" not in path.relative_to(base).parts:
                files[module_name(path, base)] = path
    return files


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterable[tuple[str, str | None]]:
    """(module named by the import, imported attribute or None) for every import that can run."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                origin = ".".join(package + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            for alias in node.names:
                yield origin, alias.name
        pending.extend(ast.iter_child_nodes(node))


def _known_prefix(name: str, modules: Mapping[str, Path]) -> str | None:
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph(base: Path, packages: Iterable[str]) -> Graph:
    """Module -> project modules it imports. ``from package import name`` points at ``package.name`` when that is
    a module, else at ``package``; imports of anything outside the project are dropped."""
    modules = source_files(base, packages)
    graph: Graph = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for origin, attribute in _imported_names(tree, name, path.name == "__init__.py"):
            target = None
            if attribute is not None and f"{origin}.{attribute}" in modules:
                target = f"{origin}.{attribute}"
            else:
                target = _known_prefix(origin, modules)
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one node, each sorted (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
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
                    components.append(sorted(component))
    return sorted(components)


def _shortest_cycle_through(start: str, graph: Mapping[str, set[str]], members: set[str]) -> list[str]:
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & members):
            if child == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return [*reversed(chain), start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is on no cycle of its component")


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Cycles as chains ``[a, b, ..., a]``: for every node on a loop, the shortest loop through it (each loop
    listed once). Empty when the graph has no cycle."""
    cycles: set[tuple[str, ...]] = set()
    for component in strongly_connected(graph):
        members = set(component)
        for start in component:
            chain = _shortest_cycle_through(start, graph, members)[:-1]
            first = chain.index(min(chain))
            rotated = chain[first:] + chain[:first]
            cycles.add((*rotated, rotated[0]))
    return sorted(list(cycle) for cycle in cycles)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layering_violations(
    graph: Mapping[str, set[str]], lower: Iterable[str], upper: Iterable[str]
) -> list[tuple[str, str]]:
    """Imports from a module of a ``lower`` package into a module of an ``upper`` package, as (importer, imported)."""
    lower, upper = list(lower), list(upper)
    return sorted(
        (module, target)
        for module, targets in graph.items()
        if any(_within(module, package) for package in lower)
        for target in targets
        if any(_within(target, package) for package in upper)
    )


def app_of(module: str, apps: Iterable[str]) -> str | None:
    """The most specific app containing the module (``optimizer.solver`` before ``optimizer``), or None."""
    owners = [app for app in apps if _within(module, app)]
    return max(owners, key=len) if owners else None


def app_graph(graph: Mapping[str, set[str]], apps: Iterable[str]) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """App-level edges (importer app, imported app) with the module imports behind each. Modules outside the
    apps (settings, root URLconf) are left out."""
    apps = list(apps)
    edges: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for module, targets in graph.items():
        source = app_of(module, apps)
        for target in targets:
            destination = app_of(target, apps)
            if source is not None and destination is not None and source != destination:
                edges.setdefault((source, destination), []).append((module, target))
    return {edge: sorted(imports) for edge, imports in sorted(edges.items())}
