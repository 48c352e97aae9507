"""No nested Qt event loop anywhere in the desktop, except inside ``ui/dialogs.py``.

A nested loop (``exec()``, ``QMessageBox.question`` and the other static helpers, the
static file and input dialogs) re-enters the qasync loop from inside a running task and
stops every task of the app for good. Dialogs open through ``batchmon.ui.dialogs``,
which awaits them; this test finds any other way in, by reading the source.
"""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "batchmon" / "ui"
HELPER = UI / "dialogs.py"

#: Classes whose static methods each open a modal dialog with its own event loop.
STATIC_DIALOGS: dict[str, frozenset[str]] = {
    "QMessageBox": frozenset(
        {"question", "warning", "critical", "information", "about", "aboutQt"}
    ),
    "QFileDialog": frozenset(
        {
            "getOpenFileName",
            "getOpenFileNames",
            "getSaveFileName",
            "getExistingDirectory",
            "getOpenFileUrl",
            "getOpenFileUrls",
            "getSaveFileUrl",
            "getExistingDirectoryUrl",
        }
    ),
    "QInputDialog": frozenset({"getText", "getInt", "getDouble", "getItem", "getMultiLineText"}),
    "QColorDialog": frozenset({"getColor"}),
    "QFontDialog": frozenset({"getFont"}),
}


def nested_loop_calls(source: str, filename: str = "<source>") -> list[str]:
    """Every ``x.exec()``/``x.exec_()`` and static dialog call in ``source``, as text."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        owner = node.func.value
        if name in ("exec", "exec_"):
            found.append(f"{node.lineno}: .{name}()")
        elif isinstance(owner, ast.Name) and name in STATIC_DIALOGS.get(owner.id, ()):
            found.append(f"{node.lineno}: {owner.id}.{name}()")
    return found


def test_no_nested_event_loop_outside_the_dialog_helper() -> None:
    offenders = []
    for path in sorted(UI.rglob("*.py")):
        if path == HELPER:
            continue
        for call in nested_loop_calls(path.read_text(encoding="utf-8"), str(path)):
            offenders.append(f"{path.relative_to(UI.parent.parent)}:{call}")
    assert not offenders, "open dialogs through batchmon.ui.dialogs instead:\n" + "\n".join(
        offenders
    )


def test_the_helper_itself_starts_no_nested_loop() -> None:
    """The helper opens dialogs with open() and awaits them: no exec() even there."""
    assert nested_loop_calls(HELPER.read_text(encoding="utf-8")) == []


def test_the_check_sees_each_way_in() -> None:
    """The scanner is not vacuous: each banned form is found, the allowed ones are not."""
    source = (
        "menu.exec(pos)\n"
        "dialog.exec_()\n"
        "QMessageBox.question(None, 't', 'q')\n"
        "QFileDialog.getSaveFileName(None)\n"
        "QInputDialog.getText(None, 't', 'l')\n"
        "menu.popup(pos)\n"
        "dialog.open()\n"
        "box.button(QMessageBox.StandardButton.Yes)\n"
    )
    assert nested_loop_calls(source) == [
        "1: .exec()",
        "2: .exec_()",
        "3: QMessageBox.question()",
        "4: QFileDialog.getSaveFileName()",
        "5: QInputDialog.getText()",
    ]
