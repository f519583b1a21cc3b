"""The one mesh → matrix implementation (optinc_pdk.decompose.transfer.mesh_transfer) against a dense reference."""

from __future__ import annotations

import numpy as np
import pytest
from reference_mesh import mesh_transfer_reference
from scipy.stats import unitary_group

from optinc_pdk.decompose import MeshBatch, MeshPhases, decompose_unitaries_batched, decompose_unitary, mesh_matrices
from optinc_pdk.decompose.transfer import check_columns, column_groups, mesh_transfer
from optinc_pdk.simulate import mesh_transfer as simulate_mesh_transfer


def random_mesh(n: int, columns: int, seed: int):
    """A random topology: in each column a random set of disjoint MZIs, random phases."""
    rng = np.random.default_rng(seed)
    top, col = [], []
    for c in range(columns):
        m = int(rng.integers(0, 2))
        while m <= n - 2:
            if rng.random() < 0.7:
                top.append(m)
                col.append(c)
                m += 2
            else:
                m += 1
    top, col = np.array(top, dtype=np.int64), np.array(col, dtype=np.int64)
    return top, col, rng.uniform(0, 2 * np.pi, top.size), rng.uniform(0, 2 * np.pi, top.size), rng.uniform(0, 2 * np.pi, n)


def test_simulator_uses_the_same_function():
    assert simulate_mesh_transfer is mesh_transfer


@pytest.mark.parametrize(("n", "columns"), [(1, 0), (2, 1), (2, 5), (7, 3), (9, 20), (30, 45)])
def test_random_topologies_match_the_dense_reference(n, columns):
    top, col, theta, phi, psi = random_mesh(n, columns, seed=n * 100 + columns)
    reference = mesh_transfer_reference(n, theta, phi, top, col, psi)
    for chunk, tile in ((128, 256), (4, 3), (1, 1), (7, 64)):
        np.testing.assert_allclose(mesh_transfer(n, theta, phi, top, col, psi, chunk, tile), reference, rtol=0, atol=1e-13)
    np.testing.assert_allclose(mesh_transfer(n, theta, phi, top, col) * np.exp(1j * psi)[:, None], reference, atol=1e-13)


def test_batch_axes_give_each_mesh_its_own_matrix():
    n, columns = 12, 15
    top, col, _, _, _ = random_mesh(n, columns, seed=3)
    rng = np.random.default_rng(4)
    theta = rng.uniform(0, 2 * np.pi, (2, 3, top.size))
    phi = rng.uniform(0, 2 * np.pi, (2, 3, top.size))
    psi = rng.uniform(0, 2 * np.pi, (2, 3, n))
    batched = mesh_transfer(n, theta, phi, top, col, psi, 4, 5)
    assert batched.shape == (2, 3, n, n)
    for index in np.ndindex(2, 3):
        np.testing.assert_allclose(batched[index], mesh_transfer_reference(n, theta[index], phi[index], top, col, psi[index]),
                                   rtol=0, atol=1e-13)


def test_mesh_phases_in_any_propagation_order_and_batches():
    n = 6
    target = unitary_group.rvs(n, random_state=11)
    mesh = decompose_unitary(target)
    # sort by 2·column + top mode: interleaves columns, yet every MZI still comes after those feeding it
    order = np.argsort(2 * mesh.column + mesh.top_mode, kind="stable")
    assert np.any(np.diff(mesh.column[order]) < 0)
    shuffled = MeshPhases(n, mesh.theta[order], mesh.phi[order], mesh.top_mode[order], mesh.column[order],
                          mesh.output_phase)
    np.testing.assert_allclose(shuffled.matrix(), target, atol=1e-13)
    blocks = np.stack([unitary_group.rvs(4, random_state=s) for s in range(50)])
    batch = decompose_unitaries_batched(blocks)
    assert isinstance(batch, MeshBatch)
    np.testing.assert_allclose(batch.matrices(), blocks, atol=1e-13)
    np.testing.assert_allclose(mesh_matrices(4, batch.theta, batch.phi, batch.top_mode, batch.column, batch.output_phase),
                               blocks, atol=1e-13)
    np.testing.assert_allclose(batch[7].matrix(), blocks[7], atol=1e-13)


def test_column_helpers_and_refusals():
    assert column_groups(np.array([0, 0, 1, 3, 3, 3])) == [slice(0, 2), slice(2, 3), slice(3, 6)]
    assert column_groups(np.array([], dtype=int)) == []
    check_columns(4, np.array([2, 0, 1]), np.array([0, 0, 1]))  # modes within a column in any order
    with pytest.raises(ValueError, match="share a mode"):
        check_columns(5, np.array([2, 0, 1]), np.array([0, 0, 0]))
    with pytest.raises(ValueError, match="propagation order"):
        check_columns(4, np.array([0, 0]), np.array([1, 0]))
    with pytest.raises(ValueError, match="top_mode outside"):
        check_columns(3, np.array([2]), np.array([0]))
    with pytest.raises(ValueError, match="do not match"):
        mesh_transfer(4, np.zeros(3), np.zeros(3), np.array([0, 2]), np.array([0, 0]))
