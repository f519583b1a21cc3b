"""Every verifier is shown to fail (issue 31, point 5): faults injected into a small design must be reported.

Four faults are injected into the circuit description of a 2-server, 8-bit scenario (2 401 samples):
a perturbed MZI phase, two links of a composite swapped, a wrong bias attenuator, a missing mesh
column. For each, the per-layer check names the faulty layer, the end-to-end check finds decisions
that differ from the trained model's, and `optinc simulate` / `optinc build` exit 1 with
``verified: false``. A fault written into an exported phase map is caught the same way. If any
verifier is made to always pass (the per-layer error always 0, the non-zero exit removed), a test
here goes red. The drawn-polygon check (a deleted waveguide segment) is in tests/test_connectivity.py.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from test_circuit_helpers import tiny_scenario

import optinc_pdk.circuit.builder as builder
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import AttenuatorColumn, Block, Composite, MeshBlock
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.decompose import DiagonalColumn, MeshPhases
from optinc_pdk.simulate.report import LAYER_TOLERANCE, simulate_description

SMALL = {"name": "small", "bits": 8, "servers": 2, "widths": [4, 6, 12, 4], "approx_layers": [1, 2, 3]}
SEED = 3


def small_scenario():
    return tiny_scenario(servers=SMALL["servers"], widths=SMALL["widths"], approx=SMALL["approx_layers"],
                         name=SMALL["name"])


# --- faults: each returns a copy of the description with one block replaced -----------------------


def _replace_block(block: Block, name: str, new: Block) -> Block:
    if block.name == name:
        return new
    if not isinstance(block, Composite):
        return block
    children = tuple(_replace_block(child, name, new) for child in block.children)
    if all(a is b for a, b in zip(children, block.children)):
        return block
    return dataclasses.replace(block, children=children)


def _with_block(description: CircuitDescription, name: str, new: Block) -> CircuitDescription:
    top = _replace_block(description.top, name, new)
    assert top is not description.top, f"no block named {name}"
    return dataclasses.replace(description, top=top)


def _mesh_copy(mesh: MeshPhases, keep: np.ndarray, theta: np.ndarray) -> MeshPhases:
    return MeshPhases(mesh.n_modes, theta[keep], mesh.phi[keep], mesh.top_mode[keep], mesh.column[keep],
                      mesh.output_phase, mesh.kind)


def perturbed_phase(description: CircuitDescription) -> CircuitDescription:
    """θ of MZI 2 of layer 2's second block mesh off by 0.3 rad (a heater driven wrong)."""
    mesh = description.block("L2/B1/U")
    theta = mesh.theta.copy()
    theta[2] += 0.3
    phases = _mesh_copy(mesh.phases, np.ones(theta.size, bool), theta)
    return _with_block(description, mesh.name, dataclasses.replace(mesh, phases=phases))


def swapped_ports(description: CircuitDescription) -> CircuitDescription:
    """Two links of layer 1's first block swapped: mesh outputs 0 and 1 reach the wrong attenuators."""
    block = description.block("L1/B0")
    links = block.links.copy()
    links[[0, 1], 3] = links[[1, 0], 3]
    return _with_block(description, block.name, dataclasses.replace(block, links=links))


def wrong_bias(description: CircuitDescription) -> CircuitDescription:
    """Layer 2's bias attenuator of neuron 3 set to half its amplitude."""
    block = description.block("L2/bias/amplitude")
    values = block.column.values().copy()
    values[3] *= 0.5
    column = DiagonalColumn.from_values(values)
    return _with_block(description, block.name, dataclasses.replace(block, column=column))


def missing_column(description: CircuitDescription) -> CircuitDescription:
    """Column 1 of layer 1's first block mesh left out (its MZIs never drawn or driven)."""
    mesh = description.block("L1/B0/U")
    keep = mesh.column != 1
    assert 0 < keep.sum() < keep.size
    return _with_block(description, mesh.name, dataclasses.replace(mesh, phases=_mesh_copy(mesh.phases, keep,
                                                                                          mesh.theta.copy())))


FAULTS = {  # fault → (its faulty layer, the error field that must name it)
    perturbed_phase: (2, "relative_error"),
    swapped_ports: (1, "relative_error"),
    wrong_bias: (2, "bias_relative_error"),
    missing_column: (1, "relative_error"),
}


@pytest.fixture(scope="module")
def small_design():
    scenario = small_scenario()
    weights = random_weights(scenario, SEED)
    return scenario, weights, builder.build_description(scenario, weights)


def test_the_fault_free_small_design_verifies(small_design):
    scenario, weights, description = small_design
    report = simulate_description(description, weights, scenario)
    assert report["verified"] and report["layers_within_tolerance"] and report["optical_equals_model"]
    assert report["max_layer_relative_error"] <= LAYER_TOLERANCE and report["max_bias_relative_error"] <= LAYER_TOLERANCE
    for fault in FAULTS:  # every fault really changes the design it is applied to
        assert fault(description) is not description


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
def test_per_layer_check_names_the_faulty_layer(small_design, fault):
    scenario, weights, description = small_design
    layer, field = FAULTS[fault]
    report = simulate_description(fault(description), weights, scenario)
    errors = {row["layer"]: row[field] for row in report["layers"]}
    assert errors[layer] > 1e3 * LAYER_TOLERANCE, errors
    others = [row for row in report["layers"] if row["layer"] != layer]
    assert all(max(row["relative_error"], row["bias_relative_error"]) <= LAYER_TOLERANCE for row in others)
    assert not report["layers_within_tolerance"]
    assert not report["verified"]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
def test_end_to_end_check_finds_decisions_differing_from_the_model(small_design, fault):
    scenario, weights, description = small_design
    report = simulate_description(fault(description), weights, scenario)
    assert report["decisions_differing_from_model"] > 0
    assert not report["optical_equals_model"]
    assert not report["verified"]


@pytest.fixture
def small_yml(tmp_path):
    import yaml

    path = tmp_path / "small.yml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


def _inject(monkeypatch, fault) -> None:
    """Every description the CLI builds (simulate and build import builder.build_description) gets ``fault``."""
    honest = builder.build_description
    monkeypatch.setattr(builder, "build_description", lambda *args, **kwargs: fault(honest(*args, **kwargs)))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
def test_simulate_exits_1_with_verified_false(run_cli, small_yml, monkeypatch, fault):
    code, out, _ = run_cli(["simulate", small_yml, "--random-weights", SEED, "--json"])
    assert code == 0 and json.loads(out)["verified"] is True  # the same command, before the fault
    _inject(monkeypatch, fault)
    code, out, _ = run_cli(["simulate", small_yml, "--random-weights", SEED, "--json"])
    report = json.loads(out)
    assert report["verified"] is False
    assert code == 1


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__)
def test_build_exits_1_with_verified_false_in_report(run_cli, small_yml, monkeypatch, tmp_path, fault):
    _inject(monkeypatch, fault)
    out_dir = tmp_path / "build"
    code, out, _ = run_cli(["build", small_yml, "--random-weights", SEED, "--format", "gds", "--no-png", "-o",
                            out_dir, "--json"])
    assert json.loads(out)["verified"] is False
    assert json.loads((out_dir / "report.json").read_text())["verified"] is False
    assert "FAIL" in (out_dir / "report.md").read_text()
    assert code == 1


def test_simulate_of_a_phase_map_with_a_perturbed_phase_exits_1(run_cli, small_yml, tmp_path):
    """The user's own path: `optinc describe`, a phase changed in phases.npz, `optinc simulate --phase-map`."""
    design = tmp_path / "design"
    assert run_cli(["describe", small_yml, "--random-weights", SEED, "-o", design])[0] == 0
    code, out, _ = run_cli(["simulate", small_yml, "--random-weights", SEED, "--phase-map", design / "phases", "--json"])
    assert code == 0 and json.loads(out)["verified"] is True
    with np.load(design / "phases.npz", allow_pickle=False) as archive:
        arrays = dict(archive)
    arrays["L2/B1/U/theta"][2] += 0.3
    np.savez(design / "phases.npz", **arrays)
    code, out, _ = run_cli(["simulate", small_yml, "--random-weights", SEED, "--phase-map", design / "phases", "--json"])
    report = json.loads(out)
    assert {row["layer"]: row["relative_error"] > 1e-6 for row in report["layers"]} == {1: False, 2: True, 3: False}
    assert report["verified"] is False
    assert code == 1


def test_faults_keep_the_blocks_they_do_not_touch():
    """The injection helpers replace exactly one block (so a test failure points at the check, not the helper)."""
    scenario = small_scenario()
    description = builder.build_description(scenario, random_weights(scenario, SEED))
    faulty = perturbed_phase(description)
    changed = [a.name for a, b in zip(description.walk(), faulty.walk()) if a is not b and not isinstance(a, Composite)]
    assert changed == ["L2/B1/U"]
    assert isinstance(faulty.block("L2/B1/U"), MeshBlock)
    assert isinstance(wrong_bias(description).block("L2/bias/amplitude"), AttenuatorColumn)
