"""Parts of the desktop that are plain asyncio on purpose import no Qt, not even indirectly.

The push follower is driven as-is by the push-loss tests on a plain asyncio loop, and
the task set is shared by Qt and non-Qt code; a PySide6 import creeping in (directly, or
through another ``batchmon.ui`` module that imports Qt) would end that.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "batchmon" / "ui"
QT_FREE = ("push_follower", "tasks", "batch_list", "actions")


def _imports(module: str) -> set[str]:
    tree = ast.parse((UI / f"{module}.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _reaches_qt(module: str, seen: set[str]) -> list[str]:
    """The import chain from ``module`` to Qt, or [] when there is none."""
    seen.add(module)
    for name in sorted(_imports(module)):
        if name.split(".")[0] in ("PySide6", "qasync", "shiboken6"):
            return [module, name]
        if name.startswith("batchmon.ui."):
            inner = name.removeprefix("batchmon.ui.")
            if inner not in seen and (UI / f"{inner}.py").exists():
                chain = _reaches_qt(inner, seen)
                if chain:
                    return [module, *chain]
    return []


@pytest.mark.parametrize("module", QT_FREE)
def test_imports_no_qt(module: str) -> None:
    chain = _reaches_qt(module, set())
    assert not chain, " -> ".join(chain)


def test_the_check_sees_qt_through_another_module() -> None:
    """Not vacuous: the window reaches Qt, and so does a module importing only ui parts."""
    assert _reaches_qt("main_window", set())[-1].startswith("PySide6")
    assert len(_reaches_qt("action_runner", set())) >= 2
