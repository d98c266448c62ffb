"""The shape of the house, checked: domain boundaries (import-linter's contracts in pyproject.toml) and no
import circle anywhere in ``app`` (an import inside a function counts: it is a circle put off, not removed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def import_circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return groups


def test_no_import_circle() -> None:
    assert import_circles(grimp.build_graph("app", cache_dir=None)) == []


def test_circle_finder_finds_a_circle(tmp_path, monkeypatch) -> None:
    package = tmp_path / "circles"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circles import b\n")
    (package / "b.py").write_text("def f():\n    from circles import a\n")
    (package / "c.py").write_text("from circles import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_circles(grimp.build_graph("circles", cache_dir=None)) == [["circles.a", "circles.b"]]


def test_domain_contracts_kept() -> None:
    result = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
