"""No output file of a build names a folder of the machine it was built on.

Paths inside the build's own files are relative to the build folder; weights are named
``weights/NAME.npz`` when shipped, by their path below the working folder, or else by file name
(their sha256 beside it identifies them). Checked on every byte of every written file, binary
layouts included, for a build whose weights and output both lie outside the working folder.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.core.weights import portable_source, save_npz
from optinc_pdk.paths import WEIGHTS_DIR
from optinc_pdk.spec.scenario import scenario_from_dict

REPO = Path(__file__).resolve().parents[1]
TINY = {"name": "tiny", "bits": 4, "servers": 3, "widths": [2, 6, 5, 2], "approx_layers": [1, 3]}


def test_build_outputs_hold_no_machine_path(run_cli, tmp_path, monkeypatch):
    elsewhere, work, out = tmp_path / "elsewhere", tmp_path / "work", tmp_path / "out"
    elsewhere.mkdir()
    work.mkdir()
    scenario = elsewhere / "tiny.yml"
    scenario.write_text(yaml.safe_dump(TINY))
    weights = random_weights(scenario_from_dict(TINY), 4)
    save_npz(elsewhere / "w.npz", weights, weights.provenance)
    monkeypatch.chdir(work)
    code, _, err = run_cli(["build", scenario, "--weights", elsewhere / "w.npz", "--format", "gds,oas", "-o", out])
    assert code == 0, err
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".gds" for p in files) and any(p.name == "report.json" for p in files)
    for path in files:
        data = path.read_bytes()
        for folder in (str(tmp_path), str(REPO), str(Path.home())):
            assert folder.encode() not in data, f"{path.name} names {folder}"


def test_portable_source_names():
    assert portable_source(WEIGHTS_DIR / "b8n4.npz") == "weights/b8n4.npz"
    assert portable_source(WEIGHTS_DIR / "cascade16" / "level1.npz") == "weights/cascade16/level1.npz"
    assert portable_source("/nowhere/else/w.npz") == "w.npz"
    assert portable_source(Path.cwd() / "sub" / "w.npz") == "sub/w.npz"
    assert portable_source("random(seed=1)") == "random(seed=1)"
