"""The engine's house stays as built: one wing per domain noun, imports only downward.

Walks every module of ``engine/`` with ``ast`` (function-level and ``TYPE_CHECKING`` imports
included) and fails on an import of a higher wing, a module outside the wings, a cycle among
modules, or a web or channel import inside the engine.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "engine"
#: Each wing and the wings it may import (the table in README's "Where things are").
ALLOWED = {
    "calendar": set(),
    "store": {"calendar"},
    "people": {"store", "calendar"},
    "audit": {"store", "calendar"},
    "workflow": {"audit", "people", "store", "calendar"},
    "plans": {"workflow", "audit", "people", "store", "calendar"},
    "schedule": {"plans", "workflow", "audit", "people", "store", "calendar"},
    "scoring": {"schedule", "plans", "workflow", "audit", "people", "store", "calendar"},
    "bpmn": {"workflow", "audit", "people", "store", "calendar"},
}
FOREIGN = ("fastapi", "starlette", "uvicorn", "api", "notifications")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool = False) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
            # `from engine.workflow import rules` names a module too
            found += [(f"{node.module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _sources() -> list[Path]:
    return sorted(p for p in ENGINE.rglob("*.py") if "versions" not in p.parts)


def _wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "engine" else None


def test_every_module_lives_in_a_wing():
    loose = [p.name for p in ENGINE.glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"modules outside a wing: {loose}"
    wings = sorted(p.name for p in ENGINE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert wings == sorted(ALLOWED)
    for wing in wings:
        doc = ast.get_docstring(ast.parse((ENGINE / wing / "__init__.py").read_text("utf-8")))
        assert doc and "Imports" in doc, f"engine/{wing}/__init__.py must say what lives there and what it may import"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ENGINE)))
def test_imports_go_only_downward(path):
    own = _wing(_module_name(path))
    upward = []
    for module, line in _imports(path):
        if module.split(".")[0] in FOREIGN:
            upward.append(f"{path.name}:{line}: the engine imports {module}")
        wing = _wing(module)
        if wing and own and wing != own and wing not in ALLOWED[own]:
            upward.append(f"{path.name}:{line}: {own} imports {module} (may import: {sorted(ALLOWED[own]) or 'nothing of engine'})")
    assert upward == []


def test_no_import_cycle_among_modules():
    modules = {_module_name(p): p for p in _sources()}
    graph = {m: {i for i, _ in _imports(p, top_level_only=True) if i in modules and i != m} for m, p in modules.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        state[m] = 2
        path.pop()
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            pytest.fail("import cycle: " + " → ".join(cycle))


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    """The rule itself can fail: a store module importing the workflow wing is reported."""
    fake = tmp_path / "engine"
    (fake / "store").mkdir(parents=True)
    bad = fake / "store" / "bad.py"
    bad.write_text("from engine.workflow import commands\n", "utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["ENGINE"]), "ENGINE", fake)
    with pytest.raises(AssertionError, match="store imports engine.workflow"):
        test_imports_go_only_downward(bad)
