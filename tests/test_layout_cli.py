"""`optinc layout`: files written, counts read back, one-line refusals."""

from __future__ import annotations

import json

import pytest

from optinc_pdk.cli.main import main
from optinc_pdk.layout import count_instances, read_layout
from optinc_pdk.layout.readback import top_info

TINY = """\
name: tiny
description: "4 servers, 8-bit gradients, a 4-8-4 ONN in blocks"
bits: 8
servers: 4
widths: [4, 8, 4]
approx_layers: [1, 2]
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yml"
    path.write_text(TINY)
    return path


def test_layout_verb_writes_layout_phase_map_png_and_report(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["layout", str(tiny), "--random-weights", "3", "-o", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    names = sorted(p.name for p in out.iterdir())
    # the hidden marker says the folder is a complete optinc output, so a later build may replace it
    assert names == [".optinc-build", "tiny.footprint.json", "tiny.gds", "tiny.oas", "tiny.phases.json",
                     "tiny.phases.npz", "tiny.png"]
    # 2 blocks of 4 modes per layer: 2·2·(6 + 4) weight MZIs, plus 8 + 4 bias attenuators
    assert result["mzis"] == result["expected_mzis"] == 2 * 2 * 10 + 12
    layout = read_layout(out / "tiny.gds")
    assert count_instances(layout, "mzi") == 52
    info = top_info(layout)
    assert info["phase_map"] == "tiny.phases.npz" and info["weights_source"] == "random(seed=3)"


def test_layout_verb_gds_only_without_png(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["layout", str(tiny), "--random-weights", "1", "-o", str(out), "--format", "gds", "--no-png"]) == 0
    assert "MZIs read back" in capsys.readouterr().out
    assert not (out / "tiny.oas").exists() and not (out / "tiny.png").exists() and (out / "tiny.gds").exists()


@pytest.mark.parametrize("args, message", [
    (["--random-weights", "1", "--weights", "w.npz"], "--weights and --random-weights: give one or the other"),
    (["--random-weights", "1", "--format", "svg"], "--format: expected gds, oas or gds,oas"),
])
def test_layout_verb_refusals_are_one_line(tiny, tmp_path, capsys, args, message):
    assert main(["layout", str(tiny), "-o", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_layout_verb_refuses_a_file_as_folder(tiny, tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("")
    assert main(["layout", str(tiny), "--random-weights", "1", "-o", str(blocker)]) == 2
    assert "output folder is a file" in capsys.readouterr().err
