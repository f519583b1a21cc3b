"""Layer mapping (SVD and block approximation) rebuilt independently from the exported phase map."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optinc_pdk.decompose import BlockLayout, block_approximation, map_layer_blocks, map_layer_svd
from optinc_pdk.decompose.phasemap import layer_entries, save_phase_map
from optinc_pdk.errors import OptincError

COUPLER = np.array([[1, 1j], [1j, 1]]) / np.sqrt(2)
TOL = 1e-10


def mzi(theta, phi):
    return COUPLER @ np.diag([np.exp(1j * theta), 1]) @ COUPLER @ np.diag([np.exp(1j * phi), 1])


def rebuild_mesh(arrays, name):
    n = int(arrays[f"{name}/n_modes"])
    matrix = np.eye(n, dtype=complex)
    for theta, phi, top in zip(arrays[f"{name}/theta"], arrays[f"{name}/phi"], arrays[f"{name}/top_mode"]):
        matrix[top : top + 2] = mzi(theta, phi) @ matrix[top : top + 2]
    return np.exp(1j * arrays[f"{name}/output_phase"])[:, None] * matrix


def rebuild_diagonal(arrays, name):
    values = np.ones(int(arrays[f"{name}/n_modes"]), dtype=complex)
    for theta, phi, mode in zip(arrays[f"{name}/theta"], arrays[f"{name}/phi"], arrays[f"{name}/mode"]):
        values[mode] = mzi(theta, phi)[0, 0]
    return values


def export(mapping, tmp_path):
    entries, layer = layer_entries("L", mapping)
    npz, json_path = save_phase_map(tmp_path / "layer", entries, {"layers": [layer]})
    import json

    with np.load(npz, allow_pickle=False) as arrays:
        return dict(arrays), json.loads(json_path.read_text())["layers"][0]


def rebuild_svd_layer(arrays, layer):
    """s · U[:, :r] · diag(σ) · Vᴴ[:r, :] along the single chain v_mesh -> sigma -> u_mesh."""
    (v_name, sigma_name, u_name), = layer["optical_order"]
    sigma = rebuild_diagonal(arrays, sigma_name)
    rank = sigma.size
    return layer["scale"] * (rebuild_mesh(arrays, u_name)[:, :rank] * sigma) @ rebuild_mesh(arrays, v_name)[:rank]


def rebuild_block_layer(arrays, layer, out_dim, in_dim):
    k, orientation = layer["k"], layer["orientation"]
    chains = layer["optical_order"]
    padded = np.zeros((max(out_dim, len(chains) * k) if orientation == "tall" else k,
                       max(in_dim, len(chains) * k) if orientation == "wide" else k), dtype=complex)
    for index, (mesh_name, diagonal_name) in enumerate(chains):
        block = rebuild_diagonal(arrays, diagonal_name)[:, None] * rebuild_mesh(arrays, mesh_name)
        if orientation == "wide":
            padded[:, index * k : (index + 1) * k] = block
        else:
            padded[index * k : (index + 1) * k, :] = block
    return layer["scale"] * padded[:out_dim, :in_dim]


def random_matrix(rng, out_dim, in_dim, complex_):
    matrix = rng.normal(size=(out_dim, in_dim))
    return matrix + 1j * rng.normal(size=(out_dim, in_dim)) if complex_ else matrix


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(out_dim=st.integers(1, 64), in_dim=st.integers(1, 64), seed=st.integers(0, 2**32 - 1), complex_=st.booleans())
def test_svd_mapping_rebuilds_w(tmp_path, out_dim, in_dim, seed, complex_):
    weights = random_matrix(np.random.default_rng(seed), out_dim, in_dim, complex_)
    mapping = map_layer_svd(weights)
    assert mapping.kind == "svd" and (mapping.out_dim, mapping.in_dim) == (out_dim, in_dim)
    assert np.all(np.abs(mapping.sigma.values()) <= 1 + 1e-12)
    assert np.abs(mapping.scale * mapping.matrix() - weights).max() <= TOL
    arrays, layer = export(mapping, tmp_path)
    assert np.abs(rebuild_svd_layer(arrays, layer) - weights).max() <= TOL
    rank = min(out_dim, in_dim)
    assert mapping.n_mzi == out_dim * (out_dim - 1) // 2 + in_dim * (in_dim - 1) // 2 + rank


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(out_dim=st.integers(1, 48), in_dim=st.integers(1, 48), seed=st.integers(0, 2**32 - 1), complex_=st.booleans())
def test_block_mapping_realises_the_block_approximation(tmp_path, out_dim, in_dim, seed, complex_):
    weights = random_matrix(np.random.default_rng(seed), out_dim, in_dim, complex_)
    approximation = block_approximation(weights)
    assert approximation.shape == weights.shape
    mapping = map_layer_blocks(weights)
    layout = BlockLayout.of(out_dim, in_dim)
    assert (mapping.k, mapping.orientation, mapping.padding, len(mapping.blocks)) == (
        layout.k, layout.orientation, layout.padding, layout.n_blocks)
    for block in mapping.blocks:
        assert np.all(np.abs(block.diagonal.values()) <= 1 + 1e-12)
    assert np.abs(mapping.scale * mapping.matrix() - approximation).max() <= TOL
    arrays, layer = export(mapping, tmp_path)
    assert np.abs(rebuild_block_layer(arrays, layer, out_dim, in_dim) - approximation).max() <= TOL
    k = layout.k
    assert mapping.n_mzi == layout.n_blocks * (k * (k - 1) // 2 + k)


@pytest.mark.parametrize("shape", [(4, 4), (64, 4), (4, 64), (12, 4), (6, 18), (7, 3), (5, 1), (1, 1), (1, 9)])
@pytest.mark.parametrize("complex_", [False, True])
def test_block_approximation_maps_exactly(shape, complex_):
    """A W that already is a block approximation is a fixed point and maps exactly (no padded wide block)."""
    approximation = block_approximation(random_matrix(np.random.default_rng(3), *shape, complex_))
    np.testing.assert_allclose(block_approximation(approximation), approximation, atol=TOL)
    mapping = map_layer_blocks(approximation)
    assert np.abs(mapping.scale * mapping.matrix() - approximation).max() <= TOL


def test_block_form_matrices_are_fixed_points():
    """W = [diag(d_b)·U_b] with negative d: the mapping reproduces W, signs carried by φ."""
    rng = np.random.default_rng(9)
    q = [np.linalg.qr(rng.normal(size=(4, 4)))[0] for _ in range(3)]
    d = rng.uniform(-2, 2, size=(3, 4))
    weights = np.hstack([d[b][:, None] * q[b] for b in range(3)])  # wide, 4 x 12
    mapping = map_layer_blocks(weights)
    assert mapping.scale == pytest.approx(np.abs(d).max())
    assert np.abs(mapping.scale * mapping.matrix() - weights).max() <= TOL


def test_block_approximation_formula():
    """Eq. 4–6 by hand on one square block: Û = P·Qᴴ, d_r = Re(b_r·û_rᴴ)."""
    rng = np.random.default_rng(4)
    block = rng.normal(size=(5, 5))
    p, _, qh = np.linalg.svd(block)
    unitary = p @ qh
    d = np.array([np.real(block[r] @ unitary[r].conj()) for r in range(5)])
    np.testing.assert_allclose(block_approximation(block), d[:, None] * unitary, atol=1e-13)


def test_layouts_and_padding():
    tall = BlockLayout.of(10, 4)
    assert (tall.orientation, tall.k, tall.n_blocks, tall.padding) == ("tall", 4, 3, 2)
    wide = BlockLayout.of(3, 8)
    assert (wide.orientation, wide.k, wide.n_blocks, wide.padding) == ("wide", 3, 3, 1)
    weights = np.arange(24.0).reshape(3, 8)
    blocks = wide.split(weights)
    assert blocks.shape == (3, 3, 3) and np.all(blocks[2][:, 2] == 0)
    np.testing.assert_array_equal(wide.join(blocks), weights)
    np.testing.assert_array_equal(tall.join(tall.split(np.arange(40.0).reshape(10, 4))), np.arange(40.0).reshape(10, 4))


def test_zero_matrix_has_unit_scale():
    for mapping in (map_layer_svd(np.zeros((3, 5))), map_layer_blocks(np.zeros((3, 5)))):
        assert mapping.scale == 1.0
        assert np.abs(mapping.matrix()).max() <= TOL


@pytest.mark.parametrize("weights", [np.ones(3), np.array([[np.nan, 1.0]]), np.zeros((0, 3))])
def test_layer_mappings_reject_bad_input(weights):
    for mapper in (map_layer_svd, map_layer_blocks):
        with pytest.raises(OptincError):
            mapper(weights)
