"""The code's shape, checked: one direction of imports between subpackages, ruff clean, no loose modules.

The layers (pyproject.toml, ``[tool.importlinter]``) run spec → core → decompose → pdk → circuit →
simulate | layout | training → analysis → report → flows → cli: a module imports only from layers
below its own (lazy imports inside functions count too), so no import cycle between subpackages.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "optinc_pdk"
# the only modules allowed at the package's top level: leaves every layer may use
TOP_LEVEL = {"__init__.py", "errors.py", "paths.py"}


def _tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    if found.is_file():
        return str(found)
    if shutil.which(name) is None:
        pytest.fail(f"{name} is not installed (pip install -e .[dev])")
    return name


def test_imports_flow_one_way():
    done = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 kept, 0 broken" in done.stdout


def test_ruff_is_clean():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "optinc_pdk", "tests", "benchmarks"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]


def test_package_top_level_holds_only_subpackages_and_leaves():
    loose = {p.name for p in PACKAGE.glob("*.py")} - TOP_LEVEL
    assert not loose, f"modules belong in a subpackage by role: {sorted(loose)}"


def test_every_layer_is_a_package_in_the_contract():
    text = (REPO / "pyproject.toml").read_text()
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    for name in packages:
        assert f'"optinc_pdk.{name}' in text or f"| optinc_pdk.{name}" in text, f"{name} is not in a layer"


def test_no_module_imports_a_deleted_duplicate():
    """One mesh → matrix path, one MZI formula, one topology, one build pipeline."""
    gone = {"optinc_pdk.build_cascade", "optinc_pdk.pdk.topology", "optinc_pdk.circuit.trees",
            "optinc_pdk.circuit.channels"}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in gone:
                pytest.fail(f"{path.relative_to(REPO)} imports {node.module}")
