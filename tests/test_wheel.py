"""The package as a user installs it: a built wheel, not the source checkout.

The wheel is built from this checkout and installed (no dependencies: the test environment's are
reused through a path file) into a temporary venv. From an unrelated folder its console script
lists the shipped scenarios and builds b8n4 from the shipped weights, proving that scenarios,
weights and layer views travel inside the wheel. The main job must not import torch or jax.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A temporary venv holding the wheel built from this checkout; returns its bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, REPO], cwd=root)
    (wheel,) = dist.glob("optinc_pdk-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).stdout.strip()
    # the test environment's packages (gdsfactory, numpy, ...), but not its editable optinc_pdk:
    # paths in a .pth file are added plainly, the other environment's own .pth files stay unread
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], cwd=root)
    return env_dir / "bin"


def test_wheel_carries_scenarios_weights_and_layer_views(tmp_path):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, REPO], cwd=tmp_path)
    (wheel,) = dist.glob("optinc_pdk-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for scenario in (REPO / "circuits").glob("*.yml"):
        assert f"optinc_pdk/shipped/circuits/{scenario.name}" in names
    for weights in (REPO / "weights").rglob("*.npz"):
        relative = weights.relative_to(REPO / "weights").as_posix()
        assert f"optinc_pdk/shipped/weights/{relative}" in names
        assert f"optinc_pdk/shipped/weights/{relative[:-4]}.json" in names
    assert "optinc_pdk/shipped/layouts/optinc.lyp" in names


def test_installed_package_lists_scenarios_from_another_folder(installed, tmp_path):
    done = _run([installed / "optinc", "scenarios", "--json"], cwd=tmp_path)
    names = {row["name"] for row in json.loads(done.stdout)}
    assert names == {p.stem for p in (REPO / "circuits").glob("*.yml")}
    where = _run([installed / "python", "-c", "import optinc_pdk; print(optinc_pdk.__file__)"], cwd=tmp_path).stdout
    assert Path(where.strip()).is_relative_to(installed.parent), "the test must run the installed copy"


def test_installed_package_builds_b8n4_without_torch_or_jax(installed, tmp_path):
    # block torch, jax and the CORNERSTONE PDK (an extra): the main job must not import them
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(
        "import sys\nfor m in ('torch', 'jax', 'sax', 'cspdk'):\n    sys.modules[m] = None\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(blocker)
    work = tmp_path / "elsewhere"
    work.mkdir()
    done = subprocess.run([installed / "optinc", "build", "b8n4", "--format", "gds", "--no-verify"], cwd=work,
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    out = work / "layouts" / "b8n4"
    assert (out / "b8n4.gds").stat().st_size > 0
    assert (out / "optinc.lyp").read_text() == (REPO / "layouts" / "optinc.lyp").read_text()
    report = json.loads((out / "report.json").read_text())
    assert report["layout"]["mzis"] == report["layout"]["expected_mzis"]
