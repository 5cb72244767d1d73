"""The layer rule, enforced: workers → workflows → activities → connectors → domain.

A workflow imports activities only for their names, and nothing that does I/O (httpx, SQLAlchemy)
may reach the workflow sandbox.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
OURS = {"domain", "connectors", "activities", "workflows", "workers"}
ALLOWED = {
    "domain": {"domain"},
    "connectors": {"domain", "connectors"},
    "activities": {"domain", "connectors", "activities"},
    "workflows": {"domain", "workflows", "activities.names"},
    "workers": OURS,
}
IO_LIBRARIES = {"httpx", "sqlalchemy", "fastapi", "uvicorn", "psycopg", "pyodbc", "sqlite3"}
NO_IO = {"domain", "workflows"}


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def allowed(layer: str, module: str) -> bool:
    top = module.split(".")[0]
    if top not in OURS:
        return True
    if layer == "workflows" and top == "activities":
        return (
            module == "activities"
            or module == "activities.names"
            or module.startswith("activities.names.")
        )
    return top in ALLOWED[layer]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_down(layer):
    problems = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for module in imports(path):
            if not allowed(layer, module):
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
            if layer in NO_IO and module.split(".")[0] in IO_LIBRARIES:
                problems.append(f"{path.relative_to(ROOT)} imports I/O library {module}")
    assert problems == []


def test_the_rule_can_fail():
    assert not allowed("workflows", "activities.erp")
    assert not allowed("domain", "connectors.store")
    assert not allowed("connectors", "activities.names")
    assert allowed("workflows", "activities.names")
