"""Unitary meshes: property tests over Haar-random unitaries and edge cases.

Every reconstruction goes through the exported phase map and an independent rebuild written here
from docs/conventions.md, MZI (coupler products, MZIs multiplied in listed order), not the library's builder.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optinc_pdk.decompose import (
    DiagonalColumn,
    MeshPhases,
    decompose_unitaries_batched,
    decompose_unitary,
)
from optinc_pdk.decompose.nulling import null_batched, null_single
from optinc_pdk.decompose.phasemap import save_phase_map, unitary_entries
from optinc_pdk.decompose.phases import finish, lazy_phases
from optinc_pdk.errors import OptincError

COUPLER = np.array([[1, 1j], [1j, 1]]) / np.sqrt(2)
TOL = 1e-10


def mzi(theta: float, phi: float) -> np.ndarray:
    return COUPLER @ np.diag([np.exp(1j * theta), 1]) @ COUPLER @ np.diag([np.exp(1j * phi), 1])


def rebuild_mesh(arrays, name: str) -> np.ndarray:
    """diag(e^{iψ})·T_K···T_1 from the raw npz arrays of one mesh."""
    n = int(arrays[f"{name}/n_modes"])
    matrix = np.eye(n, dtype=complex)
    for theta, phi, top in zip(arrays[f"{name}/theta"], arrays[f"{name}/phi"], arrays[f"{name}/top_mode"]):
        matrix[top : top + 2] = mzi(theta, phi) @ matrix[top : top + 2]
    return np.exp(1j * arrays[f"{name}/output_phase"])[:, None] * matrix


def exported_matrix(mesh: MeshPhases, tmp_path) -> np.ndarray:
    entries, layer = unitary_entries("u", mesh)
    npz, _ = save_phase_map(tmp_path / "design", entries, {"layers": [layer]})
    with np.load(npz, allow_pickle=False) as arrays:
        return rebuild_mesh(dict(arrays), "u/mesh")


def haar(n: int, rng: np.random.Generator, real: bool) -> np.ndarray:
    gauss = rng.normal(size=(n, n)) + (0 if real else 1j * rng.normal(size=(n, n)))
    q, r = np.linalg.qr(gauss)
    diagonal = np.diagonal(r)
    return q * (diagonal / np.abs(diagonal))


def check_phases(mesh: MeshPhases) -> None:
    for values in (mesh.theta, mesh.phi, mesh.output_phase):
        assert np.all(np.isfinite(values)) and np.all(values >= 0) and np.all(values < 2 * np.pi)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 64),
    seed=st.integers(0, 2**32 - 1),
    real=st.booleans(),
    mesh=st.sampled_from(["clements", "reck"]),
)
def test_haar_unitaries_rebuild_from_phase_map(tmp_path, n, seed, real, mesh):
    unitary = haar(n, np.random.default_rng(seed), real)
    phases = decompose_unitary(unitary, mesh)
    assert phases.n_mzi == n * (n - 1) // 2 and phases.kind == mesh
    check_phases(phases)
    assert np.abs(exported_matrix(phases, tmp_path) - unitary).max() <= TOL
    assert np.abs(phases.matrix() - unitary).max() <= TOL


def block_diagonal(rng, sizes, real=False):
    n = sum(sizes)
    matrix = np.zeros((n, n), dtype=float if real else complex)
    start = 0
    for size in sizes:
        matrix[start : start + size, start : start + size] = haar(size, rng, real)
        start += size
    return matrix


def near_identity(n, rng, epsilon):
    from scipy.linalg import expm

    hermitian = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    return expm(1j * epsilon * (hermitian + hermitian.conj().T))


EDGE_CASES = {
    "identity": lambda rng: np.eye(9),
    "minus identity": lambda rng: -np.eye(6),
    "complex identity": lambda rng: np.eye(5, dtype=complex),
    "1x1 phase": lambda rng: np.array([[np.exp(2j)]]),
    "1x1 minus one": lambda rng: np.array([[-1.0]]),
    "swap": lambda rng: np.array([[0.0, 1.0], [1.0, 0.0]]),
    "permutation": lambda rng: np.eye(12)[rng.permutation(12)],
    "reversal": lambda rng: np.eye(11)[::-1],
    "phased permutation": lambda rng: np.exp(1j * rng.uniform(0, 7, 10))[:, None] * np.eye(10)[rng.permutation(10)],
    "diagonal phases": lambda rng: np.diag(np.exp(1j * rng.uniform(0, 7, 7))),
    "block diagonal": lambda rng: block_diagonal(rng, [3, 1, 4, 2]),
    "real block diagonal": lambda rng: block_diagonal(rng, [2, 5, 1], real=True),
    "permuted blocks": lambda rng: block_diagonal(rng, [4, 4])[rng.permutation(8)],
    "near identity": lambda rng: near_identity(8, rng, 1e-13),
    "tiny mixing": lambda rng: near_identity(6, rng, 1e-170),
}


@pytest.mark.parametrize("mesh", ["clements", "reck"])
@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_give_exact_finite_phases(tmp_path, case, mesh):
    unitary = EDGE_CASES[case](np.random.default_rng(7))
    phases = decompose_unitary(unitary, mesh)
    check_phases(phases)
    assert np.abs(exported_matrix(phases, tmp_path) - unitary).max() <= 1e-13
    batch = decompose_unitaries_batched(np.stack([unitary, unitary]), mesh)
    check_phases(batch[1])
    assert np.abs(batch.matrices() - unitary).max() <= 1e-13


@pytest.mark.parametrize("n", [2, 5, 8, 11])
def test_clements_layout_is_rectangular(n):
    phases = decompose_unitary(haar(n, np.random.default_rng(n), False))
    assert phases.n_columns == (n if n > 2 else 1)  # two modes: the second column would be empty
    for column in range(phases.n_columns):
        modes = np.sort(phases.top_mode[phases.column == column])
        np.testing.assert_array_equal(modes, np.arange(column % 2, n - 1, 2))


@pytest.mark.parametrize("n", [2, 3, 6, 9])
def test_reck_layout_is_triangular(n):
    phases = decompose_unitary(haar(n, np.random.default_rng(n), True), "reck")
    assert phases.n_columns == max(2 * n - 3, 1)
    # mode pair (k, k+1) is crossed n−1−k times: the triangle's rows shrink by one
    counts = np.bincount(phases.top_mode, minlength=n - 1)
    np.testing.assert_array_equal(counts, np.arange(n - 1, 0, -1))


def test_columns_follow_propagation_order():
    """Listed order is column by column, and that is a valid propagation order (per mode)."""
    phases = decompose_unitary(haar(10, np.random.default_rng(3), False))
    assert np.all(np.diff(phases.column) >= 0)
    with pytest.raises(OptincError, match="strictly increase"):
        MeshPhases(3, [0.1, 0.2], [0.0, 0.0], [0, 1], [1, 1], np.zeros(3))


@pytest.mark.parametrize("mesh", ["clements", "reck"])
@pytest.mark.parametrize("real", [False, True])
def test_batched_and_single_kernels_agree(mesh, real):
    """The BLAS kernel (prephased rotations) and the batched numpy kernel give the same phases."""
    rng = np.random.default_rng(11)
    unitaries = np.stack([haar(7, rng, real) for _ in range(5)])
    batch = decompose_unitaries_batched(unitaries, mesh)
    for index, unitary in enumerate(unitaries):
        single = decompose_unitary(unitary, mesh)
        mine = batch[index]
        np.testing.assert_array_equal(single.top_mode, mine.top_mode)
        for field in ("theta", "phi", "output_phase"):
            difference = np.angle(np.exp(1j * (getattr(single, field) - getattr(mine, field))))
            assert np.abs(difference).max() < 1e-9, field


def test_many_small_blocks_in_one_batch():
    rng = np.random.default_rng(5)
    unitaries = np.stack([haar(4, rng, bool(index % 2)) for index in range(512)])
    batch = decompose_unitaries_batched(unitaries)
    assert len(batch) == 512 and batch.n_mzi == 6
    assert np.abs(batch.matrices() - unitaries).max() <= TOL
    assert np.abs(batch[17].matrix() - unitaries[17]).max() <= TOL


def test_phase_bookkeeping_shapes():
    rng = np.random.default_rng(2)
    unitaries = np.stack([haar(6, rng, False) for _ in range(3)])
    record = null_batched(unitaries, "clements")
    theta, phi, top_mode, column, output = finish(
        6, "clements", record.theta, record.phase_phi, np.diagonal(record.final, axis1=1, axis2=2))
    assert theta.shape == phi.shape == (3, 15) and output.shape == (3, 6) and top_mode.shape == (15,)
    lazy_theta, lazy_phase, diagonal = lazy_phases(6, "reck", null_single(unitaries[0], "reck"))
    assert lazy_theta.shape == lazy_phase.shape == (1, 15) and diagonal.shape == (1, 6)


@pytest.mark.parametrize(
    "matrix, message",
    [
        (np.ones((3, 3)), "not unitary"),
        (np.eye(3) * 1.001, "not unitary"),
        (np.eye(4)[:, :3], "square"),
        (np.ones(4), "2-D"),
        (np.ones((2, 2, 2)), "2-D"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN"),
        (np.array([[np.inf, 0.0], [0.0, 1.0]]), "NaN or infinite"),
        (np.array([["a"]]), "numbers"),
        (np.zeros((0, 0)), "empty"),
    ],
)
def test_unitary_path_rejects_bad_input(matrix, message):
    with pytest.raises(OptincError, match=message) as caught:
        decompose_unitary(matrix)
    assert "\n" not in str(caught.value)


def test_unitary_path_rejects_unknown_mesh_and_bad_batches():
    with pytest.raises(OptincError, match="mesh"):
        decompose_unitary(np.eye(2), "butterfly")
    with pytest.raises(OptincError, match=r"blocks\[1\]: not unitary"):
        decompose_unitaries_batched(np.stack([np.eye(3), 2 * np.eye(3)]))
    with pytest.raises(OptincError, match="3-D"):
        decompose_unitaries_batched(np.eye(3))


def test_diagonal_column_values_and_passthrough():
    column = DiagonalColumn.from_values([0.5, -1.0, 0.25j, 0.0])
    np.testing.assert_allclose(column.values(), [0.5, -1.0, 0.25j, 0.0], atol=1e-15)
    partial = DiagonalColumn(column.theta[:1], column.phi[:1], [2], 3)
    np.testing.assert_allclose(partial.values(), [1.0, 1.0, 0.5], atol=1e-15)
    with pytest.raises(OptincError, match="at most one"):
        DiagonalColumn([1.0, 1.0], [0.0, 0.0], [1, 1], 3)


def test_mesh_phases_are_read_only():
    phases = decompose_unitary(haar(4, np.random.default_rng(0), False))
    with pytest.raises(ValueError):
        phases.theta[0] = 1.0
