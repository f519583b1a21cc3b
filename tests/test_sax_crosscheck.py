"""Block netlists (every level, placed as drawn) simulated by sax with the PDK's models agree with our simulator to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import unitary_group

sax = pytest.importorskip("sax")

from optinc_pdk.circuit.builder import averager_block, broadcast_block  # noqa: E402
from optinc_pdk.circuit.model import AttenuatorColumn, Composite, MeshBlock, TreeArray  # noqa: E402
from optinc_pdk.decompose import decompose_unitary, map_layer_svd  # noqa: E402
from optinc_pdk.layout.netlists import design_netlists, netlist_name  # noqa: E402
from optinc_pdk.pdk import models as pdk_models  # noqa: E402
from optinc_pdk.pdk.netlists import sax_flat  # noqa: E402
from optinc_pdk.pdk.ports import east_port, west_port  # noqa: E402
from optinc_pdk.simulate.stages import compile_block  # noqa: E402

TOLERANCE = 1e-9


def sax_matrix(block, extra_ports=()) -> np.ndarray:
    """(n_out, n_in) transfer matrix of the block's netlists (every level, as drawn) evaluated by sax
    (missing ports read as 0)."""
    netlist, models = sax_flat(design_netlists(block), netlist_name(block))
    circuit, _ = sax.circuit(netlist, models=models, backend="klu")
    s = circuit()
    west = [west_port(i, block.n_in) for i in range(block.n_in)] + list(extra_ports)
    east = [east_port(j, block.n_in, block.n_out) for j in range(block.n_out)]
    return np.array([[complex(s.get((w, e), 0.0)) for w in west] for e in east])


def ours(block) -> np.ndarray:
    return compile_block(block).matrix


@pytest.mark.parametrize("n", [4, 8])
def test_mesh(n):
    block = MeshBlock("L1/B0/U", n, n, phases=decompose_unitary(unitary_group.rvs(n, random_state=10 + n)))
    np.testing.assert_allclose(sax_matrix(block), ours(block), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("out_dim, in_dim", [(4, 4), (4, 6), (6, 4)])
def test_sigma_column(out_dim, in_dim):
    mapping = map_layer_svd(np.random.default_rng(out_dim * in_dim).normal(size=(out_dim, in_dim)))
    block = AttenuatorColumn("L1/S", in_dim, out_dim, column=mapping.sigma, role="sigma")
    expected = ours(block)
    got = sax_matrix(block)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
    assert np.count_nonzero(np.abs(expected) > 0) == min(out_dim, in_dim)  # extra channels end / stay dark


@pytest.mark.parametrize("servers, digits", [(4, 1), (2, 2)])  # 4 inputs: plain, and G = 2 with 4^t weights
def test_four_input_averager_and_the_pdk_averager_model(servers, digits):
    block = averager_block(servers, digits, 1)
    assert block.n_in == 4
    got = sax_matrix(block)
    np.testing.assert_allclose(got, ours(block), rtol=0, atol=TOLERANCE)
    # the PDK's own composite model of the same averager: same channels, same amplitudes
    pdk = pdk_models.averager(n_servers=servers, bits=2 * digits, n_outputs=1)
    reference = np.array([[complex(pdk[(west_port(i, 4), east_port(0, 4, 1))]) for i in range(4)]])
    np.testing.assert_allclose(got, reference, rtol=0, atol=TOLERANCE)


def test_one_to_four_splitter_and_the_pdk_splitter_array_model():
    block = broadcast_block(4, 1)
    got = sax_matrix(block)
    np.testing.assert_allclose(got, ours(block), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(got, np.full((4, 1), 0.5), rtol=0, atol=TOLERANCE)
    pdk = pdk_models.splitter_array(n_inputs=1, n_servers=4)
    reference = np.array([[complex(pdk[(west_port(0, 1), east_port(s, 1, 4))])] for s in range(4)])
    np.testing.assert_allclose(got, reference, rtol=0, atol=TOLERANCE)


def test_block_chain_of_mesh_then_diagonal():
    from optinc_pdk.circuit.builder import block_chain
    from optinc_pdk.decompose import map_layer_blocks

    mapping = map_layer_blocks(np.random.default_rng(1).normal(size=(8, 4)))
    block = block_chain(1, 1, mapping.blocks[1])
    assert isinstance(block, Composite)
    np.testing.assert_allclose(sax_matrix(block), ours(block), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("leaves", [3, 5, 6])
def test_ratio_weighted_trees_of_any_size(leaves):
    """The PDK's own splitter_1x2/combiner_2x1 models take the trees' ``ratio``: exact for any leaf count."""
    channels = np.arange(leaves)[None, :]
    for splitting in (True, False):
        block = TreeArray("t", 1 if splitting else leaves, leaves if splitting else 1, n_trees=1, n_leaves=leaves,
                          leaf_channels=channels, splitting=splitting)
        got = sax_matrix(block)
        np.testing.assert_allclose(got, ours(block), rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(np.abs(got), 1 / np.sqrt(leaves), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("servers", [3, 5])
def test_averager_of_a_non_power_of_two_server_count_is_exact_in_sax(servers):
    """3 servers: combiner trees of 3 leaves (ratios 2/3 and 1/2); sax with the PDK's models agrees with
    the simulator, and with the PDK's averager model, to 1e-9 (it used to be off by 0.13)."""
    block = averager_block(servers, 1, 1)
    got = sax_matrix(block)
    np.testing.assert_allclose(got, ours(block), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(np.abs(got), 1 / np.sqrt(servers), rtol=0, atol=TOLERANCE)
    pdk = pdk_models.averager(n_servers=servers, bits=2, n_outputs=1)
    reference = np.array([[complex(pdk[(west_port(i, servers), east_port(0, servers, 1))]) for i in range(servers)]])
    np.testing.assert_allclose(got, reference, rtol=0, atol=TOLERANCE)
