"""The tree keeps its shape: import contracts, no import cycles, long modules say why.

The contracts live in pyproject.toml ([tool.importlinter]); docs/architecture.md explains
them. The mutation test proves that a forbidden import really breaks them, so a contract
that could never fail would be noticed here.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from tests.support.paths import REPO

PACKAGES = ("protocol", "audio", "appliance", "central")
LONG_MODULE_LINES = 420


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    script = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300,
                          # A wide terminal: contract names are not wrapped, so a BROKEN line names its contract.
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "COLUMNS": "250"})


def test_import_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout and " KEPT" in result.stdout


@pytest.mark.parametrize(("module", "bad_import", "contract"), [
    ("central/app.py", "import appliance.state.store", "central never imports the station"),
    ("appliance/broadcast/planner.py", "import sqlite3", "pure core does no I/O"),
    ("appliance/panel/web.py", "import appliance.daemon.onair", "only through the control channel"),
    ("appliance/state/store.py", "import appliance.sync.syncer", "layers"),
    ("protocol/items.py", "import audio.tts", "imports nothing of the audio pipeline"),
    ("audio/normalize.py", "import appliance.state.config", "depends on neither"),
    ("central/monitoring.py", "import central.store", "pure rules do no I/O"),
    ("central/store/items.py", "import central.catalog", "knows nothing of HTTP"),
    ("central/catalog.py", "import sqlalchemy", "Only central's storage layer talks SQL"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, bad_import: str, contract: str) -> None:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    source = target.read_text(encoding="utf-8")
    target.write_text(source.replace("from __future__ import annotations\n",
                                     f"from __future__ import annotations\n\n{bad_import}  # noqa\n", 1),
                      encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout[-3000:]
    broken = [line for line in result.stdout.splitlines() if "BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout[-3000:]


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
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
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert not cycles, cycles


def test_long_modules_say_why_in_their_docstring() -> None:
    silent = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if text.count("\n") <= LONG_MODULE_LINES:
                continue
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "why" not in doc.lower():
                silent.append(f"{path.relative_to(REPO)} ({text.count(chr(10))} lines)")
    assert not silent, "modules over ~400 lines without a reason in their docstring: " + ", ".join(silent)
