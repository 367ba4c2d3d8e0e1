"""The import direction of ARCHITECTURE.md: engine is the core, and nothing leans on api or pipelines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "api", "pipelines", "dashboard", "migrations", "bench")


def test_importing_engine_pulls_in_no_framework() -> None:
    code = (
        "import sys, pkgutil, importlib, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "forbidden = {'fastapi', 'dagster', 'streamlit', 'api', 'pipelines', 'dashboard'}\n"
        "print(sorted({n.split('.')[0] for n in sys.modules} & forbidden))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_nothing_imports_api_or_pipelines_but_themselves(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_top_levels(path) & ({"api", "pipelines"} - {package}))
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_engine_and_dashboard_stay_out_of_each_others_way() -> None:
    engine_imports = set().union(*(_imported_top_levels(p) for p in (ROOT / "engine").rglob("*.py")))
    assert not engine_imports & {"api", "pipelines", "dashboard", "fastapi", "dagster", "streamlit"}
