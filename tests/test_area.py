"""Area: `optinc area --paper --json` against MZI counts computed here from the paper's formulas.

The ONN structures, approximated layers and published ratios below are typed in from the paper
(Table I, Table II, Sec. IV), not read from circuits/, so a wrong scenario file fails too.
"""

from __future__ import annotations

import contextlib
import io
import json
import math

import pytest

from optinc_pdk.cli.main import main
from optinc_pdk.core import area
from optinc_pdk.spec.scenario import load_scenario

B8N4 = [4, 64, 128, 256, 128, 64, 4]
B8N8 = [4, 64, 128, 256, 512, 256, 128, 64, 4]
B8N16 = [4, 64, 128, 256, 512, 1024, 512, 256, 128, 64, 4]
B16N4 = [4, 64, 128, 256, 512, 256, 128, 64, 8]
CASCADE = [4, 64, 64, 128, 256, 128, 64, 64, 4]  # Sec. III-C: b8n4 with a 64x64 layer after the first and before the last


def layers(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


# scenario -> (widths, approximated layers, published area ratio)
PAPER = {
    "b8n4": (B8N4, layers(1, 6), 0.393),
    "b8n8": (B8N8, layers(2, 7), 0.409),
    "b8n16": (B8N16, layers(2, 9), 0.404),
    "b16n4": (B16N4, layers(4, 6), 0.493),
    "b8n4_full": (B8N4, [], 1.0),
    "b8n8_full": (B8N8, [], 1.0),
    "b8n16_full": (B8N16, [], 1.0),
    "b16n4_full": (B16N4, [], 1.0),
    "b16n4_l4-7": (B16N4, layers(4, 7), 0.479),
    "b16n4_l4-8": (B16N4, layers(4, 8), 0.474),
    "b16n4_l3-6": (B16N4, layers(3, 6), 0.437),
    "b16n4_l3-7": (B16N4, layers(3, 7), 0.422),
}
PAPER_CASCADE_OVERHEAD = 0.105  # "about 10.5% hardware overhead"


def full_mzis(out_dim: int, in_dim: int) -> int:
    """Two unitary meshes and a diagonal: M(M-1)/2 + N(N-1)/2 + min(M, N)."""
    return out_dim * (out_dim - 1) // 2 + in_dim * (in_dim - 1) // 2 + min(out_dim, in_dim)


def approx_mzis(out_dim: int, in_dim: int) -> int:
    """ceil(long / k) blocks of k x k, each one unitary mesh plus a diagonal."""
    k = min(out_dim, in_dim)
    return math.ceil(max(out_dim, in_dim) / k) * (k * (k - 1) // 2 + k)


def count(widths: list[int], approximated: list[int]) -> tuple[int, int]:
    shapes = [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]
    full = sum(full_mzis(o, i) for o, i in shapes)
    realised = sum(approx_mzis(o, i) if n + 1 in approximated else full_mzis(o, i) for n, (o, i) in enumerate(shapes))
    return full, realised


def test_counting_formulas_reproduce_known_anchors():
    assert count(B8N4, layers(1, 6)) == (106_260, 41_664)
    assert count(B8N16, [])[0] == 1_743_892
    assert approx_mzis(64, 4) == 16 * (6 + 4)  # sixteen 4x4 blocks
    assert approx_mzis(100, 30) == 4 * (435 + 30)  # 3.33 -> 4 blocks, the last zero-padded


@pytest.fixture(scope="module")
def paper_report():
    # module scope cannot use capsys: capture by redirecting stdout around one in-process call
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["area", "--paper", "--json"])
    assert code == 0
    return json.loads(out.getvalue())


def test_paper_report_has_every_table_row(paper_report):
    assert sorted(row["scenario"] for row in paper_report["rows"]) == sorted(PAPER)


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_row_counts_and_ratio(paper_report, name):
    widths, approximated, published = PAPER[name]
    row = next(r for r in paper_report["rows"] if r["scenario"] == name)
    full, realised = count(widths, approximated)
    assert (row["full_mzis"], row["approx_mzis"]) == (full, realised)
    assert row["ratio"] == pytest.approx(realised / full, rel=1e-12)
    assert row["paper_ratio"] == published
    assert abs(row["ratio"] - published) <= 0.002, "more than 0.2 percentage points from the paper"
    assert row["delta_pp"] == pytest.approx(100 * (row["ratio"] - published), abs=1e-9)


def test_cascade_overhead_against_b8n4(paper_report):
    cascade = paper_report["cascade"]
    expanded = count(CASCADE, layers(1, 8))[1]
    basic = count(B8N4, layers(1, 6))[1]
    assert (cascade["optinc_mzis"], cascade["base_optinc_mzis"]) == (expanded, basic)
    assert cascade["overhead"] == pytest.approx(expanded / basic - 1, rel=1e-12)
    assert round(100 * cascade["overhead"], 1) == 10.0  # ours; the paper reports "about 10.5%"
    assert cascade["paper_overhead"] == PAPER_CASCADE_OVERHEAD
    assert abs(cascade["overhead"] - PAPER_CASCADE_OVERHEAD) < 0.01
    # five expanded OptINCs against one flat 16-server OptINC
    assert cascade["cascade_mzis"] == 5 * expanded
    assert cascade["flat_mzis"] == count(B8N16, layers(2, 9))[1]


def test_paper_table_text_names_every_row(run_cli):
    code, out, err = run_cli(["area", "--paper"])
    assert code == 0, err
    for name, (widths, approximated, _) in PAPER.items():
        full, realised = count(widths, approximated)
        line = next((ln for ln in out.splitlines() if f" {name} " in ln), None)
        assert line is not None, f"{name} missing from the table"
        assert str(full) in line and str(realised) in line
    assert "overhead 10.0%" in out and "10.5%" in out


def test_shipped_scenarios_match_the_paper_structures():
    for name, (widths, approximated, published) in PAPER.items():
        s = load_scenario(name)
        assert (s.widths, sorted(s.approx_layers)) == (widths, approximated), name
        assert s.paper.area_ratio == published
    cascade = load_scenario("cascade16")
    assert cascade.widths == CASCADE and cascade.approx_layers == layers(1, 8)


# --- per-layer detail ----------------------------------------------------------------------


def test_per_layer_json_for_b8n4(run_cli):
    code, out, err = run_cli(["area", "b8n4", "--json"])
    assert code == 0, err
    (report,) = json.loads(out)
    shapes = [(B8N4[i + 1], B8N4[i]) for i in range(len(B8N4) - 1)]
    assert [(l["out_dim"], l["in_dim"]) for l in report["layers"]] == shapes
    assert [l["full_mzis"] for l in report["layers"]] == [full_mzis(o, i) for o, i in shapes]
    assert [l["approx_mzis"] for l in report["layers"]] == [approx_mzis(o, i) for o, i in shapes]
    assert [l["blocks"] for l in report["layers"]] == [16, 2, 2, 2, 2, 16]
    # mesh + diagonal MZIs of the realised form add up to the count
    assert all(l["mesh_mzis"] + l["sigma_mzis"] == l["approx_mzis"] for l in report["layers"])


@pytest.mark.parametrize(
    "out_dim,in_dim,k,blocks,orientation,padding",
    [(64, 4, 4, 16, "tall", 0), (4, 64, 4, 16, "wide", 0), (64, 64, 64, 1, "square", 0), (100, 30, 30, 4, "tall", 20)],
)
def test_block_partition(out_dim, in_dim, k, blocks, orientation, padding):
    part = area.block_partition(out_dim, in_dim)
    assert (part.k, part.blocks, part.orientation, part.padding) == (k, blocks, orientation, padding)


def test_tall_blocks_fan_out_and_wide_blocks_sum():
    tall = area.layer_area(1, 64, 4, approximated=True)
    wide = area.layer_area(6, 4, 64, approximated=True)
    # each of the k inputs (outputs) needs a tree with `blocks` leaves: k * (blocks - 1) 2-port elements
    assert (tall.tree_splitters, tall.tree_combiners) == (4 * 15, 0)
    assert (wide.tree_splitters, wide.tree_combiners) == (0, 4 * 15)
    plain = area.layer_area(2, 128, 64, approximated=False)
    assert plain.approx_mzis == plain.full_mzis == full_mzis(128, 64)


def test_with_updates_sweeps_table_two():
    base = load_scenario("b16n4")
    for name in ("b16n4_l4-7", "b16n4_l3-7"):
        widths, approximated, _ = PAPER[name]
        swept = area.scenario_area(base.with_updates(approx_layers=approximated))
        assert swept.approx_mzis == count(widths, approximated)[1]
