"""The domain imports only the standard library and never reads the wall clock itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).parents[2] / "src" / "domain"


def imported_modules(tree: ast.AST) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def foreign(module: str) -> bool:
    """Neither the standard library nor the domain itself."""
    standard = module.split(".")[0] in sys.stdlib_module_names
    return not standard and not (module + ".").startswith("revocation.domain.")


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    files = sorted(DOMAIN.rglob("*.py"))
    assert len(files) > 5
    for path in files:
        outside = {m for m in imported_modules(ast.parse(path.read_text())) if foreign(m)}
        assert outside == set(), f"{path.name} imports {outside}"


def test_the_check_sees_an_import_from_another_layer() -> None:
    tree = ast.parse("from revocation.adapters.clock import SystemClock\nimport redis")
    assert {m for m in imported_modules(tree) if foreign(m)} == {
        "revocation.adapters.clock",
        "redis",
    }


def test_domain_never_reads_the_clock_itself() -> None:
    for path in DOMAIN.rglob("*.py"):
        source = path.read_text()
        for forbidden in ("time.time(", "datetime.now(", "time.monotonic("):
            assert forbidden not in source, f"{path.name} calls {forbidden}"
