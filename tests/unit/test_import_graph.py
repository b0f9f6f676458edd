"""The package's modules import one another in one direction: no cycle, not even one that
only type checkers see (an import under ``if TYPE_CHECKING:``) (#17)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import claude_orchestra

PACKAGE = Path(claude_orchestra.__file__).parent
NAME = "claude_orchestra"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """The module's own imports: at its top level and under a top-level ``if`` (such as
    ``if TYPE_CHECKING:``); an import inside a function is a deliberate deferral."""
    for node in tree.body:
        for statement in node.body if isinstance(node, ast.If) else [node]:
            if isinstance(statement, ast.Import | ast.ImportFrom):
                yield statement


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for statement in top_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(statement, ast.Import):
                targets = [alias.name for alias in statement.names]
            elif statement.level == 0 and statement.module:
                base = statement.module
                # ``from package import module`` imports the module
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in statement.names
                ]
            else:
                targets = []
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_whole() -> None:
    graph = import_graph()
    assert len(graph) > 100
    assert "claude_orchestra.loop.recovery" in graph["claude_orchestra.loop.watchdog"]
    assert "claude_orchestra.web.app" in graph["claude_orchestra.web.dashboard"]


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(import_graph()) == []


def test_a_cycle_is_found_when_there_is_one() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_a_run_without_remote_hosts_or_a_broker_loads_neither() -> None:
    # asyncssh (with cryptography) and aiohttp are tens of MB: imported by the remote
    # runtime and the broker when a run asks for them, never by the package or its CLI
    probe = (
        "import sys, claude_orchestra.cli;"
        " print(sorted({'asyncssh', 'aiohttp', 'httpx'} & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
