"""The import rules of the README's architecture section, checked on every module's imports.

Imports point inward: the pure core (allocation, domain) knows nothing of the loop, FIX, files or
the schema library; the manager knows the core, the configuration and the journal, never QuickFIX;
the FIX edge implements the manager's ports; the operator's edges (metrics, the ops channel) see
the manager only through its published view and its operations; nothing in engine depends on the
simulator."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "engine"
IO_AND_FRAMEWORKS = {"asyncio", "quickfix", "yaml", "pydantic", "pydantic_core", "sqlite3", "structlog"}

# package -> (engine packages it may import besides itself, external modules it must not import)
RULES: dict[str, tuple[set[str], set[str]]] = {
    "allocation": (set(), IO_AND_FRAMEWORKS),
    "domain": ({"allocation"}, IO_AND_FRAMEWORKS),
    "config": ({"allocation", "domain"}, {"asyncio", "quickfix", "sqlite3"}),
    "journal": ({"domain"}, {"asyncio", "quickfix", "pydantic"}),
    "manager": ({"allocation", "domain", "config", "journal"}, {"quickfix", "pydantic", "yaml"}),
    "fix": ({"domain", "config", "manager.ports", "security"}, {"pydantic", "sqlite3"}),
    "study": ({"allocation", "config"}, {"asyncio", "quickfix", "sqlite3"}),
    "process": (set(), {"quickfix", "pydantic"}),
    # after-the-fact analyses of a journal: its tables module to read, the study's colours to plot,
    # the learner's sweep attribution and the child ids' sweep key to attribute markouts
    "analysis": ({"journal.tables", "study.plots", "domain.ids", "allocation.attribution"},
                 {"asyncio", "quickfix", "pydantic", "yaml", "sqlite3"}),
    # the operator's edges: metrics read only the engine's published view; the ops channel hands
    # commands to the manager's operations on the loop
    "observability": ({"manager.ports", "manager.view"}, {"asyncio", "quickfix", "pydantic", "sqlite3"}),
    "ops": ({"domain", "config", "manager.view", "manager.operations"}, {"quickfix", "pydantic", "sqlite3"}),
    # logon secrets: the standard library's scrypt and a YAML file, nothing of the engine's
    "security": ({"domain"}, {"asyncio", "quickfix", "pydantic", "pydantic_core", "sqlite3", "structlog"}),
}


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def package_modules(package: str) -> list[Path]:
    return sorted((ENGINE / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(RULES))
def test_a_package_imports_only_what_its_rule_allows(package):
    allowed, forbidden = RULES[package]
    assert package_modules(package), f"engine/{package}/ is gone: update RULES and the README"
    broken = []
    for path in package_modules(package):
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] in forbidden:
                broken.append(f"{path.relative_to(ENGINE.parent)} imports {name}")
            elif parts[0] == "engine" and len(parts) > 1 and parts[1] != package:
                inner = ".".join(parts[1:])
                if not any(inner == rule or inner.startswith(rule + ".") for rule in allowed):
                    broken.append(f"{path.relative_to(ENGINE.parent)} imports {name}")
    assert broken == []


def test_every_engine_package_has_a_rule_or_is_an_outer_layer():
    packages = {p.name for p in ENGINE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - set(RULES) == {"commands"}  # the commands may use everything


def test_nothing_in_engine_imports_the_simulator():
    offenders = [str(path.relative_to(ENGINE.parent)) for path in ENGINE.rglob("*.py")
                 if any(name.split(".")[0] == "sim_venues" for name in imports_of(path))]
    assert offenders == []


def test_the_rules_can_fail():
    """The checker sees a forbidden import (guards against a rule that can never trip)."""
    assert "asyncio" in imports_of(ENGINE / "manager" / "order_manager.py")
    assert "numpy" in imports_of(ENGINE / "allocation" / "liquidity.py")


def test_the_assembly_does_not_depend_on_the_commands():
    assert not any(name.startswith("engine.commands") for name in imports_of(ENGINE / "app.py"))
