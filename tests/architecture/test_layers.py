"""Layer rules that import-linter cannot express, plus running import-linter itself.

import-linter cannot forbid a sub-package of an external package, so the rule "only
batchmon.openai_batches talks to the OpenAI SDK (others may use its pydantic types)" is
checked here by reading every module's imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "batchmon"
SDK_OWNER = PACKAGE / "openai_batches"
ALLOWED_OPENAI = ("openai.types",)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def test_only_openai_batches_uses_the_openai_client() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(SDK_OWNER) or path.is_relative_to(PACKAGE / "sim"):
            continue  # the simulator serves the SDK's types; webhooks verify below
        for line, name in _imports(path):
            if name == "openai" or (
                name.startswith("openai.") and not name.startswith(ALLOWED_OPENAI)
            ):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name}")
    allowed_webhook_verifier = [o for o in offenders if "/webhooks/" not in o]
    assert allowed_webhook_verifier == [], "\n".join(allowed_webhook_verifier)


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout
