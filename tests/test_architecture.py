"""The domains under ``bot/`` depend on each other in one direction only: no two top-level packages (or modules)
import each other, directly or through a longer loop. Imports under ``if TYPE_CHECKING:`` do not count."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"


def _unit(module: str) -> str | None:
    """``bot.conversations.service`` -> ``conversations``; None for ``bot`` itself or outside ``bot``."""
    parts = module.split(".")
    return parts[1] if parts[0] == "bot" and len(parts) > 1 else None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "bot":  # from bot import i18n
                found.extend(f"bot.{alias.name}" for alias in node.names)
            else:
                found.append(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def dependency_graph(root: Path = BOT) -> dict[str, set[str]]:
    """Top-level unit (package or module of ``bot/``) -> the units it imports."""
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "__init__.py":
            continue
        unit = rel.parts[0].removesuffix(".py")
        deps = graph.setdefault(unit, set())
        for module in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            target = _unit(module)
            if target is not None and target != unit and target != "__version__":
                deps.add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_no_two_packages_of_bot_import_each_other() -> None:
    graph = dependency_graph()
    assert {"conversations", "handoff", "editor", "events"} <= set(graph)
    loops = cycles(graph)
    assert loops == [], "import cycles between packages of bot/: " + "; ".join(
        " <-> ".join(c) + " (" + ", ".join(f"{a}->{b}" for a in c for b in sorted(graph[a]) if b in c) + ")"
        for c in loops)


def test_events_is_neutral_ground() -> None:
    assert dependency_graph()["events"] == set()


def test_the_checker_finds_a_cycle(tmp_path: Path) -> None:
    """The check itself can fail: a two-package loop (and one through TYPE_CHECKING, ignored) in a fake tree."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    (tmp_path / "a" / "x.py").write_text("from bot.b.y import f\n")
    (tmp_path / "b" / "y.py").write_text("def f():\n    import bot.a.x\n")
    (tmp_path / "c" / "z.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.a import x\nfrom bot import b\n")
    graph = dependency_graph(tmp_path)
    assert graph == {"a": {"b"}, "b": {"a"}, "c": {"b"}}
    assert cycles(graph) == [["a", "b"]]
