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
SIMULATOR = PACKAGE / "sim"
ALLOWED_OPENAI = ("openai.types",)
SDK_EXEMPT_MODULES = {
    # Verifies webhook signatures with the SDK's offline `webhooks.unwrap`; sends nothing.
    PACKAGE / "webhooks" / "verify.py",
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _sdk_users() -> dict[Path, list[str]]:
    """Every module importing the SDK beyond its types, with ``line: name`` of each."""
    users: dict[Path, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, name in _imports(path):
            if name == "openai" or (
                name.startswith("openai.") and not name.startswith(ALLOWED_OPENAI)
            ):
                users.setdefault(path, []).append(f"{line}: {name}")
    return users


def test_only_openai_batches_uses_the_openai_client() -> None:
    """The simulator serves the SDK's types; beyond it, single named modules are exempt."""
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{where}"
        for path, found in _sdk_users().items()
        if not path.is_relative_to(SDK_OWNER)
        and not path.is_relative_to(SIMULATOR)
        and path not in SDK_EXEMPT_MODULES
        for where in found
    ]
    assert offenders == [], "\n".join(offenders)


def test_every_exemption_names_a_module_that_still_needs_it() -> None:
    """An exemption outliving its reason would silently cover the next SDK user there."""
    users = _sdk_users()
    for path in SDK_EXEMPT_MODULES:
        assert path in users, path


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
