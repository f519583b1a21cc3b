"""`optinc build` end to end on the shipped default, `optinc compare`, and misuse."""

from __future__ import annotations

import csv
import json
import math

import pytest
import yaml

from optinc_pdk.analysis import compare
from optinc_pdk.core import area
from optinc_pdk.spec.scenario import load_scenario, scenario_from_dict


@pytest.fixture(scope="module")
def b8n4_build(tmp_path_factory):
    from optinc_pdk.flows.build import BuildRequest, build

    out = tmp_path_factory.mktemp("b8n4")
    return build(BuildRequest(scenario=load_scenario("b8n4"), out_dir=out))


def test_default_build_writes_every_file_and_verifies(b8n4_build):
    out = b8n4_build.out_dir
    for name in ("b8n4.gds", "b8n4.oas", "b8n4.png", "phases.npz", "phases.json", "circuit.json", "summary.json",
                 "report.md", "report.json", "plots/mzis_per_layer.png", "plots/phase_maps.png",
                 "plots/area_ratio.png", "plots/communication.png"):
        assert (out / name).is_file(), name
    assert list((out / "netlists").glob("*.yml"))
    report = json.loads((out / "report.json").read_text())
    assert report["verified"] is True
    ports = report["connectivity"]["ports"]  # port to port, every distinct block cell against its netlist
    assert ports["covered"] and ports["ok"] and ports["mismatches"] == ports["wiring_mismatches"] == 0
    assert ports["connections"] > 0 and ports["wiring"] > 0
    assert report["verification"]["optical_accuracy"] == 1.0 and report["verification"]["samples"] == 28561
    assert report["verification"]["max_layer_relative_error"] <= 1e-9
    # 41 664 weight-matrix MZIs plus the MZIs outside the weight matrices that the area report lists
    outside = area.onn_area(load_scenario("b8n4")).periphery.mzis
    assert report["layout"]["mzis"] == 41664 + outside
    assert "RANDOM" not in (out / "report.md").read_text()


def test_footprint_from_cell_geometry_equals_the_built_layout(b8n4_build, tmp_path):
    from optinc_pdk.flows.build import BuildRequest, build

    total = b8n4_build.report["layout"]["footprint"]["total"]
    width, height = compare.footprint_um(load_scenario("b8n4"))
    assert width / 1000 == pytest.approx(total["width_mm"], abs=1e-6)
    assert height / 1000 == pytest.approx(total["height_mm"], abs=1e-6)
    # a second, different scenario (odd widths, a padded tall layer, 3 servers), built with random weights
    small = scenario_from_dict({"name": "small", "bits": 4, "servers": 3, "widths": [2, 6, 5, 2],
                                "approx_layers": [1, 3]})
    built = build(BuildRequest(scenario=small, out_dir=tmp_path / "small", random_seed=1, png=False))
    total = built.report["layout"]["footprint"]["total"]
    width, height = compare.footprint_um(small)
    assert width / 1000 == pytest.approx(total["width_mm"], abs=1e-6)
    assert height / 1000 == pytest.approx(total["height_mm"], abs=1e-6)
    assert built.report["weights"]["random"] is True
    assert "RANDOM WEIGHTS" in (tmp_path / "small" / "report.md").read_text()
    assert built.verified is True  # the optics reproduce the random weights' decisions


def test_compare_gives_paper_ratios_and_csv(run_cli, tmp_path):
    out = tmp_path / "out.csv"
    code, _, err = run_cli(["compare", "b8n4", "b8n8", "b16n4", "--csv", out])
    assert code == 0, err
    rows = {r["scenario"]: r for r in csv.DictReader(out.open())}
    for name in ("b8n4", "b8n8", "b16n4"):
        ratio, paper = float(rows[name]["ratio"]), float(rows[name]["paper_ratio"])
        assert abs(ratio - paper) * 100 <= 0.2
        width, height = compare.footprint_um(load_scenario(name))
        assert float(rows[name]["footprint_mm2"]) == pytest.approx(width * height / 1e6)


def test_compare_sweeps_with_set(run_cli):
    code, out, err = run_cli(["compare", "b16n4", "--set", "approx_layers=3-7", "--no-footprint", "--json"])
    assert code == 0, err
    assert json.loads(out)[0]["approx_mzis"] == 183054


@pytest.mark.parametrize("args, needle", [
    (["build", "nope"], "unknown scenario 'nope'"),
    (["compare", "b8n4", "--set", "approx_layers"], "KEY=VALUE"),
    (["compare", "b8n4", "--set", "approx_layers=x"], "integers"),
    (["compare", "b8n4", "--set", "bogus=1"], "unknown setting"),
])
def test_misuse_is_one_clear_line(run_cli, args, needle):
    code, out, err = run_cli(args)
    assert code != 0
    assert needle in err and len(err.strip().splitlines()) == 1


def test_missing_weights_hint_and_output_folder_that_is_a_file(run_cli, tmp_path):
    scenario = tmp_path / "b8n8copy.yml"
    data = yaml.safe_load(load_scenario("b8n4").model_dump_json())
    data.update(name="untrained", weights="does-not-exist")
    scenario.write_text(yaml.safe_dump(data))
    code, _, err = run_cli(["build", scenario, "-o", tmp_path / "x"])
    assert code != 0 and "--random-weights" in err and "optinc train" in err
    assert not (tmp_path / "x").exists()
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run_cli(["build", "b8n4", "-o", blocker])
    assert code != 0 and "output folder is a file" in err


def test_the_build_writes_every_level_and_each_kind_round_trips_through_gdsfactory(b8n4_build):
    """The whole design's netlists: the top file, one file per block; the smallest block of every kind and
    composite role below the top is rebuilt by gf.read.from_yaml and gives back its instances, settings and nets."""
    from test_design_netlists import assert_round_trip

    from optinc_pdk.layout.netlists import SUFFIX, registered_netlists

    out = b8n4_build.out_dir
    blocks = json.loads((out / "circuit.json").read_text())["blocks"]
    folder = out / "netlists"
    written = {p.name[: -len(SUFFIX)] for p in folder.glob(f"*{SUFFIX}")}
    assert written == {"b8n4_" + b["name"].replace("/", "_") for b in blocks} | {"b8n4"}
    top = yaml.safe_load((folder / f"b8n4{SUFFIX}").read_text())
    assert top["instances"] == {"optinc": {"component": "b8n4_optinc"}}
    smallest: dict[str, dict] = {}
    for block in blocks:
        kind = f"{block['kind']}:{block.get('role', '')}"
        if kind not in smallest or block["n_in"] + block["n_out"] < smallest[kind]["n_in"] + smallest[kind]["n_out"]:
            smallest[kind] = block
    assert {"mesh:Uhat", "attenuators:diag", "attenuators:bias", "splitter_trees:", "combiner_trees:", "source:",
            "nonlinear:", "composite:block", "composite:bias", "composite:matrix", "composite:layer"} <= set(smallest)
    del smallest["composite:optinc"]  # the whole chip: its round trip is the tiny scenario's (test_design_netlists)
    with registered_netlists(folder):
        for block in smallest.values():
            name = "b8n4_" + block["name"].replace("/", "_")
            assert_round_trip(folder, name, yaml.safe_load((folder / f"{name}{SUFFIX}").read_text()))


def test_the_report_states_the_heater_power_of_every_phase_in_the_phase_map(b8n4_build):
    """Independent of the description: every θ, φ and output phase of phases.npz, wrapped, times P_π/π."""
    import numpy as np

    from optinc_pdk.analysis.power import P_PI_MW

    out = b8n4_build.out_dir
    report = json.loads((out / "report.json").read_text())
    with np.load(out / "phases.npz", allow_pickle=False) as arrays:
        phases = np.concatenate([arrays[k] for k in arrays.files if k.rsplit("/", 1)[-1] in ("theta", "phi", "output_phase")])
    expected_w = np.sum(np.mod(phases, 2 * np.pi)) / np.pi * P_PI_MW / 1000
    power = report["heater_power"]
    assert power["heaters"] == phases.size
    assert power["total_w"] == pytest.approx(expected_w, rel=1e-9)
    assert sum(r["power_w"] for r in power["stages"]) == pytest.approx(power["total_w"])
    assert "## Heater power" in (out / "report.md").read_text() and (out / "plots" / "heater_power.png").is_file()
    # issue 28: heaters on their cheaper arms, the same matrices, at least 30 % less
    least = power["least"]
    assert least["max_matrix_error"] <= 1e-9 and least["heaters"] == power["heaters"]
    assert least["total_w"] <= 0.7 * power["total_w"]
    assert sum(r["power_w"] for r in least["stages"]) == pytest.approx(least["total_w"])


def test_the_report_states_the_recorded_tolerance_of_these_weights(b8n4_build):
    from optinc_pdk.core.weights import load_for_scenario

    out = b8n4_build.out_dir
    report = json.loads((out / "report.json").read_text())
    recorded = load_for_scenario(load_scenario("b8n4")).provenance["tolerance"]
    entry = report["manufacturability"]
    assert entry["measured"] is True
    assert entry["tolerable_sigma_phase"] == recorded["tolerable_sigma_phase"]
    assert entry["manufacturable"] == recorded["manufacturable"]
    text = (out / "report.md").read_text()
    assert "## Manufacturability" in text and ("NOT manufacturable" in text) != recorded["manufacturable"]
def test_the_b8n4_build_is_drc_clean_and_reports_crossings_and_its_link_budget(b8n4_build):
    """Issue 28 points 4-5 on the default build: 0 design-rule violations with markers and deck beside the
    layout; every drawn crossing counted per stage; the laser power adds up from its parts."""
    import klayout.rdb as rdb

    out = b8n4_build.out_dir
    report = json.loads((out / "report.json").read_text())
    drc = report["drc"]
    assert drc["violations"] == 0 and set(drc["per_rule"]) and not any(drc["per_rule"].values())
    db = rdb.ReportDatabase()
    db.load(str(out / "b8n4.lyrdb"))
    assert db.num_items() == 0 and (out / "optinc.lydrc").is_file()
    budget = report["link_budget"]
    assert sum(budget["crossings"].values()) == report["layout"]["crossings"] == 75390
    assert 0 < budget["worst_route"]["crossings"] <= max(budget["crossings"].values())
    assert budget["laser_dbm_per_server"] == pytest.approx(
        budget["receiver"]["sensitivity_dbm"] + budget["design_db"] + budget["worst_excess_db"])
    # the simulation's receiver gain (verification) is the gain chain's end
    assert budget["design_db"] == pytest.approx(20 * math.log10(report["verification"]["receiver_gain"]))
    assert (out / "plots" / "worst_route_loss.png").is_file()
    assert "## Signoff" in (out / "report.md").read_text()
    # the system verdict is the link budget's: the laser a server needs against what it launches
    system = report["signoff"]["system"]
    assert system["works_passively"] == (budget["laser_dbm_per_server"] <= budget["max_launch_dbm"]) is False
    assert f"{budget['laser_dbm_per_server']:.1f} dBm of laser per server" in system["why_not"]
    assert "System: **does not work passively**" in (out / "report.md").read_text()
