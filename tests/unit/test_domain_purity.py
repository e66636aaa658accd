"""The domain imports only the standard library and never reads the wall clock itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).parents[2] / "src" / "domain"


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    files = sorted(DOMAIN.rglob("*.py"))
    assert len(files) > 5
    for path in files:
        foreign = imported_roots(ast.parse(path.read_text())) - set(sys.stdlib_module_names)
        assert foreign <= {"domain"}, f"{path.name} imports {foreign - {'domain'}}"


def test_domain_never_reads_the_clock_itself() -> None:
    for path in DOMAIN.rglob("*.py"):
        source = path.read_text()
        for forbidden in ("time.time(", "datetime.now(", "time.monotonic("):
            assert forbidden not in source, f"{path.name} calls {forbidden}"
