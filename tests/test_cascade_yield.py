"""Yield of a two-level cascade (issue 29): one sample is a whole system of five OptINCs.

The fused system path is checked against the complex128 simulator of the whole cascade with the same
sampled errors, the sampled inputs' targets against the exact ⌊mean⌋ of their servers, and the
yield's per-system counts against decisions made from that simulator, on the shipped weights (whose
systems at this σ get some inputs right and some wrong, so the comparison can fail either way).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from optinc_pdk.circuit.cascade import build_cascade_description
from optinc_pdk.flows.build import load_design_weights
from optinc_pdk.simulate.fused import chip_path
from optinc_pdk.simulate.nonideal import ErrorModel, ErrorSites
from optinc_pdk.simulate.stages import compile_block
from optinc_pdk.simulate.yield_ import ChipOutcomes, cascade_yield_inputs, simulate_chips
from optinc_pdk.spec.scenario import load_scenario

MODEL = ErrorModel(0.002, sigma_split=0.001)


@pytest.fixture(scope="module")
def system():
    s = load_scenario("cascade16")
    description = build_cascade_description(s, *load_design_weights(s, None, None))
    return description, ErrorSites(description), cascade_yield_inputs(description, 600, seed=3)


def _simulator_levels(description, leaves: dict | None, fields: np.ndarray) -> np.ndarray:
    """The whole cascade's complex128 simulation (the reference), read at every server's receiver."""
    east = compile_block(description.top, leaf_matrices=leaves).apply(fields.astype(np.complex128))
    return np.real(east[:, description.server_output_channels().ravel()]) * description.receiver_gain


def _one_system(sites: ErrorSites, seed: int, system_index: int) -> dict:
    leaves = sites.leaf_matrices(MODEL, sites.draw(seed, np.array([system_index])))
    return {name: matrices[0] for name, matrices in leaves.items()}


def test_every_optinc_of_the_system_gets_its_own_errors(system):
    description, sites, _ = system
    leaves = _one_system(sites, 5, 0)
    level1 = [leaves[f"level1.{q}/L2/B0/U"] for q in range(description.per_optinc)]
    assert all(not np.allclose(level1[0], other) for other in level1[1:])  # same phases, different chips
    assert any(name.startswith("level2/") for name in leaves)


@pytest.mark.parametrize("errors", [False, True])
def test_fused_system_path_equals_the_cascade_simulator(system, errors):
    description, sites, inputs = system
    leaves = _one_system(sites, 5, 1) if errors else None
    fused = chip_path(description, leaves, np.float64).levels(inputs.fields)
    reference = _simulator_levels(description, leaves, inputs.fields)
    assert np.abs(fused - reference).max() <= 1e-9 * max(1.0, np.abs(reference).max())


def test_sampled_vectors_target_the_exact_floor_average_of_their_servers(system):
    description, _, inputs = system
    digits = inputs.digits.astype(np.int64)  # (servers, B, D), LSB first
    gradients = (digits * 4 ** np.arange(description.digits)).sum(axis=2)
    exact = gradients.sum(axis=0) // description.servers
    rebuilt = (inputs.codes.astype(np.int64) * 4 ** np.arange(description.digits)).sum(axis=1)
    np.testing.assert_array_equal(rebuilt, exact)
    assert inputs.fields.shape == (600, description.servers * description.digits)


def test_system_yield_counts_equal_decisions_from_the_simulator(system):
    description, sites, inputs = system
    seed, systems = 7, 3
    out = ChipOutcomes.empty(systems, description.digits)
    simulate_chips(description, sites, MODEL, inputs, seed, range(systems), out, dtype=np.float64)
    expected = []
    for index in range(systems):
        levels = _simulator_levels(description, _one_system(sites, seed, index), inputs.fields)
        decided = np.clip(np.rint(levels), 0, 3).reshape(inputs.size, description.servers, description.digits)
        expected.append(int(np.all(decided == inputs.codes[:, None, :], axis=(1, 2)).sum()))
    np.testing.assert_array_equal(out.correct, expected)
    assert 0 < min(expected) < inputs.size  # neither all wrong nor all right: the counts mean something


def test_optinc_yield_takes_a_cascade_and_counts_systems(run_cli):
    code, out, _ = run_cli(["yield", "cascade16", "--sigma-phase", "0", "--samples", "2", "--inputs", "300", "--json"])
    report = json.loads(out)
    assert code == 0 and report["unit"] == "system" and report["inputs"]["count"] == 300
    assert report["design"]["accuracy"] == 1.0 and report["design"]["decisions_differing_from_complex128"] == 0
    assert report["results"][0]["yield"] == 1.0  # the ideal systems are exact
    assert report["weights"] == "weights/cascade16/level1.npz, weights/cascade16/level2.npz"


def test_a_cascade_build_reports_the_system_tolerance_only_when_both_levels_hold_it():
    from optinc_pdk.core.weights import load_for_scenario
    from optinc_pdk.report.build_report import cascade_manufacturability, manufacturability_lines

    s = load_scenario("cascade16")
    levels = {f"level{level}": load_for_scenario(s, level=level) for level in (1, 2)}
    weights = {name: {"sha256": w.digest(), "provenance": w.provenance} for name, w in levels.items()} | {"random": False}
    entry = cascade_manufacturability(weights, "cascade16")
    recorded = levels["level1"].provenance["tolerance"]
    assert entry["measured"] and entry["tolerable_sigma_phase"] == recorded["tolerable_sigma_phase"]
    assert "sampled systems decide every input right" in "\n".join(manufacturability_lines(entry))
    other = {**weights, "level2": {**weights["level2"], "sha256": "0" * 64}}  # level 2 rebuilt from other weights
    assert not cascade_manufacturability(other, "cascade16")["measured"]
    assert not cascade_manufacturability(weights | {"random": True}, "cascade16")["measured"]
