"""Decompose unitaries into Clements (rectangular) or Reck (triangular) MZI meshes."""

from __future__ import annotations

import numpy as np

from optinc_pdk.decompose.mesh import MeshBatch, MeshPhases
from optinc_pdk.decompose.nulling import null_batched, null_single
from optinc_pdk.decompose.phases import finish, lazy_phases
from optinc_pdk.decompose.topology import MESH_KINDS
from optinc_pdk.errors import OptincError

# How far from unitary an input may be and still take the unitary path (max-abs deviation).
UNITARY_ATOL = 1e-10


def as_matrix(value, name: str = "matrix", ndim: int = 2) -> np.ndarray:
    """A finite numeric array of the given rank: float64 when it has no imaginary part, else complex128."""
    array = np.asarray(value)
    if array.dtype.kind not in "iufc":
        raise OptincError(f"{name}: must hold numbers, got dtype {array.dtype}")
    if array.ndim != ndim:
        raise OptincError(f"{name}: must be {ndim}-D, got shape {array.shape}")
    if array.size == 0:
        raise OptincError(f"{name}: is empty (shape {array.shape})")
    if not np.all(np.isfinite(array)):
        raise OptincError(f"{name}: contains NaN or infinite entries")
    if array.dtype.kind == "c" and not np.any(array.imag):
        array = array.real  # real orthogonal inputs take the cheaper real path
    return np.ascontiguousarray(array, dtype=np.complex128 if array.dtype.kind == "c" else np.float64)


def unitarity_error(matrix: np.ndarray) -> float:
    """max |UᴴU − I| (an O(N³) product; the decomposition itself checks more cheaply)."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        return float("inf")
    gram = matrix.conj().T @ matrix
    gram[np.diag_indices_from(gram)] -= 1.0
    return float(np.abs(gram).max())


def _residual(final: np.ndarray) -> np.ndarray:
    """How far each nulled matrix (B, N, N) is from a unit-modulus diagonal.

    The rotations are unitary and zero the strict lower triangle by construction, so the input was
    unitary exactly when nothing is left above the diagonal and the diagonal has modulus one.
    """
    upper = np.abs(np.triu(final, 1)).max(axis=(1, 2))
    modulus = np.abs(np.abs(np.diagonal(final, axis1=1, axis2=2)) - 1.0).max(axis=1)
    return np.maximum(upper, modulus)


def _check_mesh(mesh: str) -> None:
    if mesh not in MESH_KINDS:
        raise OptincError(f"mesh: must be one of {', '.join(MESH_KINDS)}, got {mesh!r}")


def _sorted(theta, phi, top_mode, column, output_phase, n: int):
    # Column by column (modes within a column are disjoint) is a valid propagation order too,
    # and the one layout and simulation want.
    order = np.argsort(column * n + top_mode, kind="stable")
    return theta[:, order], phi[:, order], top_mode[order], column[order], output_phase


def decompose_unitary(matrix, mesh: str = "clements", atol: float = UNITARY_ATOL, name: str = "matrix") -> MeshPhases:
    """MZI phases of an N×N unitary (complex, or real orthogonal) as a Clements or Reck mesh.

    Raises OptincError for a non-square, non-finite or non-unitary input (deviation > atol).
    """
    _check_mesh(mesh)
    array = as_matrix(matrix, name)
    if array.shape[0] != array.shape[1]:
        raise OptincError(f"{name}: a unitary must be square, got shape {array.shape}")
    n = array.shape[0]
    record = null_single(array, mesh)
    residual = float(_residual(record.final)[0])
    if not residual <= atol:
        raise OptincError(f"{name}: not unitary (deviation {residual:.3g} > {atol:g}); decompose it as a layer (SVD)")
    theta, phi, top_mode, column, output_phase = _sorted(*finish(n, mesh, *lazy_phases(n, mesh, record)), n)
    return MeshPhases(n, theta[0], phi[0], top_mode, column, output_phase[0], mesh)


def decompose_unitaries_batched(matrices, mesh: str = "clements", atol: float = UNITARY_ATOL, name: str = "blocks") -> MeshBatch:
    """Decompose B unitaries of one size (B, k, k) at once, vectorised over the batch.

    Returns a MeshBatch (one topology, phases with a leading batch axis); ``batch[b]`` is block b's
    MeshPhases.
    """
    _check_mesh(mesh)
    array = as_matrix(matrices, name, ndim=3)
    if array.shape[1] != array.shape[2]:
        raise OptincError(f"{name}: blocks must be square, got shape {array.shape}")
    n = array.shape[1]
    record = null_batched(array, mesh)
    residual = _residual(record.final)
    worst = int(np.argmax(residual))
    if not residual[worst] <= atol:
        raise OptincError(f"{name}[{worst}]: not unitary (deviation {residual[worst]:.3g} > {atol:g})")
    diagonal = np.diagonal(record.final, axis1=1, axis2=2)
    theta, phi, top_mode, column, output_phase = _sorted(*finish(n, mesh, record.theta, record.phase_phi, diagonal), n)
    return MeshBatch(n, theta, phi, top_mode, column, output_phase, mesh)
