"""Circuit description: trees for any n, structure and naming, counts equal to the analytic area report."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_circuit_helpers import identity_mapper, tiny_scenario

from optinc_pdk.circuit import build_description, naming
from optinc_pdk.circuit.builder import averager_block, broadcast_block
from optinc_pdk.circuit.model import Composite, NonlinearArray, TreeArray
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.circuit.summary import area_mismatches, block_counts, summary
from optinc_pdk.core import area
from optinc_pdk.core.topology import input_channels, output_channels, tree_leaf_amplitudes, tree_leaf_depths, tree_plan
from optinc_pdk.core.weights import OnnWeights
from optinc_pdk.errors import OptincError
from optinc_pdk.simulate.stages import compile_block, tree_matrix
from optinc_pdk.spec.scenario import load_scenario, scenario_names

PLAIN_SCENARIOS = [name for name in scenario_names() if load_scenario(name).cascade is None]


@pytest.mark.parametrize("n", range(1, 41))
def test_tree_of_any_size_gives_every_leaf_one_over_root_n(n):
    plan = tree_plan(n)
    assert plan.n_elements == n - 1
    amplitudes = tree_leaf_amplitudes(n)
    np.testing.assert_allclose(amplitudes, np.full(n, 1 / math.sqrt(n)), rtol=0, atol=1e-15)
    if n > 1:
        assert plan.levels == math.ceil(math.log2(n))
        # a full binary tree: leaves at the two deepest levels, and Kraft's sum of 2^-depth is exactly 1
        depths = tree_leaf_depths(n)
        assert set(depths.tolist()) <= {plan.levels - 1, plan.levels}
        assert math.isclose(float(np.sum(2.0 ** -depths)), 1.0, rel_tol=0, abs_tol=1e-12)


def test_tree_matrices_split_and_combine_through_their_leaf_channels():
    leaves = np.array([[4, 0, 2], [1, 5, 3]])
    splitter = TreeArray("s", 2, 6, n_trees=2, n_leaves=3, leaf_channels=leaves, splitting=True)
    combiner = TreeArray("c", 6, 2, n_trees=2, n_leaves=3, leaf_channels=leaves, splitting=False)
    expected = np.zeros((6, 2))
    expected[leaves[0], 0] = expected[leaves[1], 1] = 1 / math.sqrt(3)
    np.testing.assert_allclose(tree_matrix(splitter), expected, atol=1e-15)
    np.testing.assert_allclose(tree_matrix(combiner), expected.T, atol=1e-15)


@pytest.mark.parametrize("servers, bits, inputs", [(4, 8, 4), (3, 8, 4), (4, 16, 4), (2, 12, 2)])
def test_averager_outputs_alpha0_times_the_server_mean_of_each_group(servers, bits, inputs):
    digits = bits // 2
    group = digits // inputs
    block = averager_block(servers, digits, inputs)
    matrix = compile_block(block).matrix
    alpha0 = servers / (4 ** (group - 1) * math.sqrt(servers * group))
    expected = np.zeros((inputs, servers * digits))
    channels = input_channels(servers, digits, inputs)
    for i in range(servers):
        for k in range(digits):
            expected[k // group, channels[i, k]] = alpha0 * 4 ** (k % group) / servers
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-14)
    assert sorted(channels.ravel().tolist()) == list(range(servers * digits))


def test_broadcast_sends_every_digit_to_every_server_at_one_over_root_n():
    block = broadcast_block(5, 4)
    matrix = compile_block(block).matrix
    expected = np.zeros((20, 4))
    channels = output_channels(5, 4)
    for i in range(5):
        for k in range(4):
            expected[channels[i, k], k] = 1 / math.sqrt(5)
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", PLAIN_SCENARIOS)
def test_description_counts_equal_the_area_report(name):
    scenario = load_scenario(name)
    description = build_description(scenario, _zero_weights(scenario), mapper=identity_mapper)
    assert area_mismatches(description) == []
    counts = block_counts(description.top)
    analytic = area.onn_area(scenario)
    assert counts[naming.TOP]["mzis"] == analytic.approx_mzis + analytic.periphery.mzis
    assert counts[naming.TOP]["splitters"] + counts[naming.TOP]["combiners"] == analytic.periphery.passives


def test_decomposed_description_counts_equal_the_area_report():
    scenario = load_scenario("b8n4")
    description = build_description(scenario, random_weights(scenario, 1))
    report = summary(description)
    assert report["matches_area_report"], report["area_mismatches"]
    assert report["weight_matrix_mzis"] == area.onn_area(scenario).approx_mzis


def test_blocks_are_named_deterministically():
    scenario = tiny_scenario()
    first = build_description(scenario, random_weights(scenario, 0))
    second = build_description(scenario, random_weights(scenario, 0))
    names = [block.name for block in first.walk()]
    assert names == [block.name for block in second.walk()]
    assert len(names) == len(set(names))
    for expected in ("optinc", "averager", "averager/sum", "L1", "L1/matrix", "L1/fanout", "L1/B0", "L1/B0/U",
                     "L1/B1/D", "L1/bias", "L1/bias/source", "L1/bias/split", "L1/bias/amplitude", "L1/bias/merge",
                     "L1/relu", "L3/sum", "L3/B2/U", "broadcast"):
        assert expected in names
    assert "L3/relu" not in names  # no nonlinear unit after the last layer
    relu = first.block("L2/relu")
    assert isinstance(relu, NonlinearArray) and relu.n_in == 12


def test_full_layers_are_vh_sigma_u_in_optical_order():
    scenario = load_scenario("b8n8")  # layers 1 and 8 are full SVD layers
    small = tiny_scenario(servers=8, widths=(4, 6, 4), approx=(), name="svd")
    description = build_description(small, random_weights(small, 2))
    matrix = description.block("L1/matrix")
    assert [child.name for child in matrix.children] == ["L1/VH", "L1/S", "L1/U"]
    assert (matrix.children[0].n_in, matrix.children[1].n_in, matrix.children[1].n_out, matrix.children[2].n_out) == (4, 4, 6, 6)
    assert 1 not in scenario.approx_layers


def test_padding_rows_and_columns_stay_unconnected():
    scenario = tiny_scenario(widths=(4, 6, 10, 4))
    description = build_description(scenario, _zero_weights(scenario), mapper=identity_mapper)
    tall = description.block("L1/matrix")  # 6x4: two 4x4 blocks, rows 6 and 7 of the stack are padding
    assert tall.outputs.tolist() == [[1, 0], [1, 1], [1, 2], [1, 3], [2, 0], [2, 1]]
    wide = description.block("L3/matrix")  # 4x10: three 4x4 blocks, columns 10 and 11 receive no light
    assert wide.inputs.tolist()[-2:] == [[2, 0], [2, 1]]
    assert description.block("L3/sum").n_leaves == 3


def test_bias_source_keeps_every_attenuator_passive():
    scenario = tiny_scenario()
    description = build_description(scenario, random_weights(scenario, 4))
    for info in description.layers:
        assert np.abs(info.bias_amplitudes).max() == pytest.approx(1.0, abs=1e-12)
        assert info.bias_source > 0


def _zero_weights(scenario) -> OnnWeights:
    shapes = scenario.layer_shapes()
    return OnnWeights(tuple(np.zeros(shape) for shape in shapes), tuple(np.zeros(shape[0]) for shape in shapes), {})


def test_cascade_is_refused_with_one_line():
    scenario = load_scenario("cascade16")
    with pytest.raises(OptincError, match="cascade: not yet") as caught:
        build_description(scenario, _zero_weights(scenario))
    assert "\n" not in str(caught.value)


def test_composites_refuse_backward_links_and_double_drives():
    leaf = NonlinearArray("a", 2, 2)
    with pytest.raises(ValueError, match="earlier child"):
        Composite("c", 2, 2, children=(leaf, leaf), inputs=[[0, 0], [0, 1]], links=[[1, 0, 0, 0]], outputs=[[1, 0], [1, 1]])
    with pytest.raises(ValueError, match="driven twice"):
        Composite("c", 2, 2, children=(leaf, leaf), inputs=[[0, 0], [0, 1]], links=[[0, 0, 1, 0], [0, 1, 1, 0]],
                  outputs=[[1, 0], [1, 1]])
    with pytest.raises(ValueError, match="feeds two places"):  # east port (0, 1) read by a link and an output
        Composite("c", 2, 2, children=(leaf, leaf), inputs=[[0, 0], [0, 1]], links=[[0, 0, 1, 0], [0, 1, 1, 1]],
                  outputs=[[0, 1], [1, 1]])
    Composite("c", 2, 2, children=(leaf, leaf), inputs=[[0, 0], [0, 1]], links=[[0, 0, 1, 0], [0, 1, 1, 1]],
              outputs=[[1, 0], [1, 1]])  # the same ports, each used once: accepted
