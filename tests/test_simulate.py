"""Behavioural simulation: primitive models, mesh composition, per-layer matrices, end-to-end chain, all-reduce."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference_mesh import mesh_transfer_reference
from scipy.stats import unitary_group
from test_circuit_helpers import rectangular_mesh, tiny_scenario

from optinc_pdk.circuit import build_description
from optinc_pdk.circuit.model import AttenuatorColumn
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.signals import group_sums, pam4_encode
from optinc_pdk.core.weights import load_for_scenario, shipped_weights_path
from optinc_pdk.decompose import DiagonalColumn, decompose_unitary
from optinc_pdk.decompose.transfer import mesh_transfer
from optinc_pdk.simulate import (
    allreduce,
    compare,
    compile_chain,
    group_sums_to_digits,
    optical_allreduce,
    simulate_description,
)
from optinc_pdk.simulate.primitives import (
    combiner_2x1,
    dc_coupler,
    mzi2x2,
    mzi_attenuator,
    nonlinear_unit,
    phase_shifter,
    splitter_1x2,
)
from optinc_pdk.simulate.stages import attenuator_matrix
from optinc_pdk.spec.scenario import load_scenario


def test_mzi_model_composed_from_couplers_and_phase_shifters_is_the_pinned_formula():
    rng = np.random.default_rng(0)
    theta, phi = rng.uniform(0, 2 * np.pi, 50), rng.uniform(0, 2 * np.pi, 50)
    composed = np.stack([
        dc_coupler() @ np.diag([phase_shifter(t), 1]) @ dc_coupler() @ np.diag([phase_shifter(f), 1])
        for t, f in zip(theta, phi)
    ])
    np.testing.assert_allclose(mzi2x2(theta, phi), composed, rtol=0, atol=1e-15)
    s, c = np.sin(theta / 2), np.cos(theta / 2)  # docs/conventions.md's closed form
    written = 1j * np.exp(0.5j * theta)[:, None, None] * np.stack(
        [np.stack([np.exp(1j * phi) * s, c], -1), np.stack([np.exp(1j * phi) * c, -s], -1)], -2)
    np.testing.assert_allclose(composed, written, rtol=0, atol=1e-15)
    bar = mzi2x2(np.pi, np.pi)  # θ = π bar state; φ = π makes it the identity
    np.testing.assert_allclose(bar, np.eye(2), atol=1e-15)
    values = rng.uniform(-1, 1, 7) * np.exp(1j * rng.uniform(0, 2 * np.pi, 7))
    column = DiagonalColumn.from_values(values)
    np.testing.assert_allclose(mzi_attenuator(column.theta, column.phi), values, atol=1e-15)


def test_passive_two_ports_and_relu():
    upper, lower = combiner_2x1(0.5)
    assert upper * 2.0 + lower * 3.0 == pytest.approx(5.0 / math.sqrt(2))
    upper, lower = splitter_1x2(np.array([1 / 3, 2 / 3]))
    np.testing.assert_allclose(upper**2 + lower**2, 1.0)
    np.testing.assert_array_equal(nonlinear_unit(np.array([-1.0 + 0.5j, 2.0 - 1e-17j])), [0.0, 2.0])


def test_attenuator_column_terminates_and_darkens_channels_beyond_its_width():
    column = DiagonalColumn.from_values(np.array([0.5, -0.25]))
    wider_west = attenuator_matrix(AttenuatorColumn("s", 4, 2, column=column))
    np.testing.assert_allclose(wider_west, [[0.5, 0, 0, 0], [0, -0.25, 0, 0]], atol=1e-15)
    wider_east = attenuator_matrix(AttenuatorColumn("s", 2, 3, column=column))
    np.testing.assert_allclose(wider_east, [[0.5, 0], [0, -0.25], [0, 0]], atol=1e-15)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 17, 40])
@pytest.mark.parametrize("mesh", ["clements", "reck"])
def test_mesh_transfer_equals_decomposed_unitary_and_per_mzi_reference(n, mesh):
    target = unitary_group.rvs(n, random_state=n)
    phases = decompose_unitary(target, mesh)
    reference = mesh_transfer_reference(n, phases.theta, phases.phi, phases.top_mode, phases.column, phases.output_phase)
    for chunk, tile in ((64, 128), (3, 5), (1, 1)):  # band chunks and tiles of every size give the same product
        ours = mesh_transfer(n, phases.theta, phases.phi, phases.top_mode, phases.column, phases.output_phase, chunk, tile)
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-13)
    np.testing.assert_allclose(ours, target, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours, phases.matrix(), rtol=0, atol=1e-13)


def test_mesh_transfer_refuses_mzis_sharing_a_mode_in_one_column():
    with pytest.raises(ValueError, match="share a mode"):
        mesh_transfer(4, np.zeros(2), np.zeros(2), np.array([0, 1]), np.array([0, 0]))


def test_identity_mesh_of_bar_state_mzis():
    mesh = rectangular_mesh(33)
    matrix = mesh_transfer(33, mesh.theta, mesh.phi, mesh.top_mode, mesh.column, mesh.output_phase)
    np.testing.assert_allclose(matrix, np.eye(33), atol=1e-14)


def test_group_sums_split_into_valid_server_digits():
    rng = np.random.default_rng(3)
    for servers, group in ((4, 1), (3, 2), (8, 1)):
        top = (4**group - 1) * servers
        sums = rng.integers(0, top + 1, size=(200, 4))
        sums[0] = 0
        sums[1] = top
        digits = group_sums_to_digits(sums, servers, group)
        assert digits.max() <= 3
        np.testing.assert_array_equal(group_sums(digits, 4), sums)


@pytest.fixture(scope="module")
def tiny_case():
    scenario = tiny_scenario()
    weights = random_weights(scenario, 5)
    return scenario, weights, build_description(scenario, weights)


def test_tiny_design_simulates_to_the_trained_models_decisions(tiny_case):
    scenario, weights, description = tiny_case
    report = simulate_description(description, weights, scenario)
    assert report["max_layer_relative_error"] <= 1e-9
    assert all(row["bias_error"] <= 1e-9 for row in report["layers"])
    assert report["samples"] == exhaustive_dataset(scenario).size
    assert report["decisions_differing_from_model"] == 0
    assert report["optical_accuracy"] == report["model_accuracy"]
    assert report["max_imag_level"] < 1e-9


def test_tiny_design_allreduce_matches_the_models_decisions(tiny_case):
    scenario, weights, description = tiny_case
    chain = compile_chain(description)
    rng = np.random.default_rng(11)
    gradients = rng.integers(0, 2**scenario.bits, size=(scenario.servers, 500))
    decoded = allreduce(chain, gradients)
    assert decoded.shape == gradients.shape
    assert np.all(decoded == decoded[0])  # every server's receivers decide alike
    x = group_sums(pam4_encode(gradients, scenario.bits), scenario.onn_inputs) / scenario.servers
    data = exhaustive_dataset(scenario)
    model = data.decide(weights.forward(x)) @ (4 ** np.arange(scenario.digits))
    np.testing.assert_array_equal(decoded[0], model)


def _shipped(name: str):
    scenario = load_scenario(name)
    if not shipped_weights_path(scenario).is_file():
        pytest.skip(f"weights/{name}.npz not trained yet")
    return scenario, load_for_scenario(scenario)


@pytest.fixture(scope="module")
def b8n4_case():
    """The shipped b8n4 weights (trained to 100%), or seeded random ones where they are absent."""
    scenario = load_scenario("b8n4")
    shipped = shipped_weights_path(scenario).is_file()
    weights = load_for_scenario(scenario) if shipped else random_weights(scenario, 7)
    return scenario, weights, build_description(scenario, weights), shipped


def test_b8n4_layers_and_whole_dataset(b8n4_case):
    scenario, weights, description, shipped = b8n4_case
    report = simulate_description(description, weights, scenario)
    assert report["max_layer_relative_error"] <= 1e-9
    assert report["samples"] == 28561
    assert report["decisions_differing_from_model"] == 0
    if shipped:
        assert report["model_accuracy"] == 1.0
        assert report["optical_accuracy"] == 1.0


def test_b8n4_allreduce_of_random_gradients(b8n4_case):
    scenario, weights, description, shipped = b8n4_case
    gradients = np.random.default_rng(5).integers(0, 256, size=(4, 3000))
    decoded = allreduce(compile_chain(description), gradients)
    if shipped:
        assert compare(decoded, gradients).mismatched_values == 0
        np.testing.assert_array_equal(optical_allreduce("b8n4", gradients[:, :100]), decoded[:, :100])
    else:
        x = group_sums(pam4_encode(gradients, 8), 4) / 4
        model = exhaustive_dataset(scenario).decide(weights.forward(x)) @ (4 ** np.arange(4))
        np.testing.assert_array_equal(decoded, np.broadcast_to(model, decoded.shape))


def test_shipped_b8n8_layers_and_a_dataset_sample():
    """The whole 390 625-sample run is `optinc simulate b8n8` (benchmarks/README.md); here every 97th sample."""
    scenario, weights = _shipped("b8n8")
    chain = compile_chain(build_description(scenario, weights))
    from optinc_pdk.simulate.report import layer_errors

    assert max(row["relative_error"] for row in layer_errors(chain)) <= 1e-9
    data = exhaustive_dataset(scenario)
    index = np.arange(0, data.size, 97)
    decided, _ = chain.decide(group_sums_to_digits(data.numerators[index], scenario.servers, scenario.group))
    model = data.decide(weights.forward(data.inputs(index, dtype=np.float64)))
    np.testing.assert_array_equal(decided, np.broadcast_to(model, decided.shape))


def test_two_digit_groups_weighted_by_attenuators_end_to_end():
    """G = 2 (8 bits, M = 2 inputs): the averager attenuates digit t = 0 by 1/4 before summing."""
    scenario = tiny_scenario(servers=3, bits=8, widths=(2, 8, 4), approx=(2,), name="g2")
    assert scenario.group == 2
    weights = random_weights(scenario, 2)
    description = build_description(scenario, weights)
    assert description.block("averager/weights").n_mzis == 3 * 2  # digit 0 of each group, every server
    report = simulate_description(description, weights, scenario)
    assert report["samples"] == (15 * 3 + 1) ** 2
    assert report["max_layer_relative_error"] <= 1e-9
    assert report["decisions_differing_from_model"] == 0
