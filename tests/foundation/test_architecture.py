"""The layout rules of docs/architecture.md that import-linter cannot say by itself:

- no import cycle anywhere in ``campus`` (imports inside functions count too);
- every domain package is registered in ``campus.domains.DOMAINS`` (and only those);
- ``campus.http`` imports no domain;
- a domain's service reaches another domain through that domain's service, never its
  repository (a repository may reuse another domain's statement builders).
"""

from __future__ import annotations

import pkgutil
from functools import cache
from pathlib import Path

import grimp

import campus
from campus.domains import DOMAINS

# Packages under campus/ that are shared plumbing or the app itself, not domains.
NOT_DOMAINS = frozenset({"http", "kit", "models", "migrations", "email", "operations"})
DOMAIN_MODULE_KINDS = ("api", "pages", "service", "repository", "schemas", "demo")


@cache
def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("campus")


def _packages() -> set[str]:
    root = Path(campus.__file__).parent
    return {info.name for info in pkgutil.iter_modules([str(root)]) if info.ispkg}


def _strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm over the module graph; components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0

    for root in sorted(graph.modules):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, sorted(graph.find_modules_directly_imported_by(root))))
        while work:
            node, todo = work[-1]
            if todo:
                child = todo.pop()
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph.find_modules_directly_imported_by(child))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_in_campus() -> None:
    cycles = _strongly_connected(_graph())
    assert cycles == [], f"import cycles: {cycles}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c", "d"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    graph.add_import(importer="c", imported="d")
    assert _strongly_connected(graph) == [["a", "b", "c"]]


def test_every_domain_package_is_registered() -> None:
    graph = _graph()
    domains = {
        name
        for name in _packages() - NOT_DOMAINS
        if any(f"campus.{name}.{kind}" in graph.modules for kind in DOMAIN_MODULE_KINDS)
    }
    assert domains == set(DOMAINS), "register each domain once in campus.domains.DOMAINS"


def test_http_imports_no_domain() -> None:
    graph = _graph()
    offenders = {
        (module, imported)
        for module in graph.find_children("campus.http")
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.split(".")[1] in DOMAINS or imported in ("campus.main", "campus.domains")
    }
    assert offenders == set()


def test_services_use_only_their_own_repository() -> None:
    graph = _graph()
    offenders = set()
    for domain in DOMAINS:
        service = f"campus.{domain}.service"
        if service not in graph.modules:
            continue
        for imported in graph.find_modules_directly_imported_by(service):
            parts = imported.split(".")
            if len(parts) == 3 and parts[2] == "repository" and parts[1] != domain:
                offenders.add((service, imported))
    assert offenders == set(), "call the other domain's service instead"
