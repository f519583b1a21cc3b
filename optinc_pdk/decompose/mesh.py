"""Phases of MZI meshes and attenuator columns, and their matrices.

A mesh is its MZIs in propagation order, MZI k acting on modes (top_mode[k], top_mode[k]+1) with
T(theta[k], phi[k]) from :mod:`optinc_pdk.core.mzi`, then an output phase screen diag(e^{iψ}):

    matrix = diag(e^{iψ}) · T_K ··· T_2 · T_1        (T_1 is met first)

``column`` is the MZI's layout column. Along every mode the columns strictly increase in list
order, so MZIs sharing a column act on disjoint modes and may be applied together; the decomposer
lists MZIs column by column. Matrices come from :func:`optinc_pdk.decompose.transfer.mesh_transfer`,
the one mesh → matrix implementation (the simulator uses it too).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from optinc_pdk.core.mzi import attenuator_value
from optinc_pdk.decompose.transfer import mesh_transfer
from optinc_pdk.errors import OptincError


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array)  # own copy: the caller cannot mutate a frozen mesh behind its back
    array.flags.writeable = False
    return array


def _as_float_array(value, name: str, ndim: int) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "fiu":
        raise OptincError(f"{name}: must be real numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.ndim != ndim:
        raise OptincError(f"{name}: must be {ndim}-D, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise OptincError(f"{name}: must be finite")
    return array


def _as_int_array(value, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise OptincError(f"{name}: must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if array.ndim != 1:
        raise OptincError(f"{name}: must be 1-D, got shape {array.shape}")
    return array


def _as_arm_array(value, name: str, size: int) -> np.ndarray:
    """One bool per MZI (None: all False, every heater on the upper arm)."""
    if value is None:
        return np.zeros(size, dtype=bool)
    array = np.asarray(value)
    if array.dtype != np.bool_ or array.shape != (size,):
        raise OptincError(f"{name}: must be {size} booleans, got dtype {array.dtype} and shape {array.shape}")
    return array


def _as_mode_count(value, name: str = "n_modes") -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise OptincError(f"{name}: must be a positive integer, got {value!r}")
    return int(value)


#: Topologies already checked, by content hash: a design has hundreds of meshes of a few topologies, and the
#: check sorts twice as many entries as the mesh has MZIs (hashing them costs a fifth of that). Bounded.
_CHECKED: set[tuple[int, bytes]] = set()
_CHECKED_MAX = 1024


def _check_topology(n_modes: int, top_mode: np.ndarray, column: np.ndarray) -> None:
    """Modes in range, and along each mode the columns strictly increase in list order."""
    if top_mode.shape != column.shape:
        raise OptincError(f"column: length {column.size} differs from top_mode length {top_mode.size}")
    if top_mode.size == 0:
        return
    h = hashlib.blake2b(np.ascontiguousarray(top_mode), digest_size=16)
    h.update(np.ascontiguousarray(column))
    key = (n_modes, h.digest())
    if key in _CHECKED:
        return
    if top_mode.min() < 0 or top_mode.max() > n_modes - 2:
        raise OptincError(f"top_mode: must lie in 0..{n_modes - 2} for {n_modes} modes")
    if column.min() < 0:
        raise OptincError("column: must be >= 0")
    # Each MZI touches two modes; list (mode, column) events in list order, group them by mode
    # (a stable sort keeps list order within a mode) and compare neighbours.
    modes = np.stack([top_mode, top_mode + 1], axis=1).ravel()
    columns = np.repeat(column, 2)
    order = np.argsort(modes, kind="stable")
    same_mode = modes[order][1:] == modes[order][:-1]
    if np.any(same_mode & (np.diff(columns[order]) <= 0)):
        raise OptincError("column: along a mode, columns must strictly increase in propagation order")
    if len(_CHECKED) >= _CHECKED_MAX:
        _CHECKED.clear()
    _CHECKED.add(key)


def mesh_matrices(n_modes: int, theta, phi, top_mode, column, output_phase, theta_lower=None,
                  phi_lower=None) -> np.ndarray:
    """Matrices of meshes sharing one topology: theta, phi (B, K), output_phase (B, n) -> (B, n, n).

    MZIs may be listed in any propagation order (along every mode the columns increase); a stable
    sort by column makes each layout column contiguous, as :func:`mesh_transfer` (banded, BLAS; the
    project's one mesh → matrix implementation) wants. ``theta_lower``/``phi_lower`` (K,) put heaters
    on lower arms (:class:`MeshPhases`).
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=np.float64))
    phi = np.atleast_2d(np.asarray(phi, dtype=np.float64))
    output_phase = np.atleast_2d(np.asarray(output_phase, dtype=np.float64))
    top_mode = np.asarray(top_mode, dtype=np.int64)
    column = np.asarray(column, dtype=np.int64)
    if column.size and np.any(np.diff(column) < 0):
        order = np.argsort(column, kind="stable")
        theta, phi, top_mode, column = theta[:, order], phi[:, order], top_mode[order], column[order]
        theta_lower, phi_lower = (None if a is None else np.asarray(a)[order] for a in (theta_lower, phi_lower))
    return mesh_transfer(n_modes, theta, phi, top_mode, column, output_phase, theta_lower=theta_lower,
                         phi_lower=phi_lower)


@dataclass(frozen=True, eq=False)
class MeshPhases:
    """One unitary mesh: MZIs in propagation order, then an output phase screen.

    ``kind`` names the topology ("clements", "reck", or anything a caller builds by hand).
    ``theta_lower``/``phi_lower`` (bool, one per MZI; default all False) put that heater on the MZI's lower
    arm, where it adds its phase there (:func:`optinc_pdk.core.mzi.mzi_transfer_arms`): what a ``--min-power``
    build draws (:mod:`optinc_pdk.decompose.heater_arms`). The pinned MZI has both on the upper arm.
    """

    n_modes: int
    theta: np.ndarray
    phi: np.ndarray
    top_mode: np.ndarray
    column: np.ndarray
    output_phase: np.ndarray
    kind: str = "custom"
    theta_lower: np.ndarray | None = None
    phi_lower: np.ndarray | None = None

    def __post_init__(self) -> None:
        n_modes = _as_mode_count(self.n_modes)
        theta = _as_float_array(self.theta, "theta", 1)
        phi = _as_float_array(self.phi, "phi", 1)
        top_mode = _as_int_array(self.top_mode, "top_mode")
        column = _as_int_array(self.column, "column")
        output_phase = _as_float_array(self.output_phase, "output_phase", 1)
        if phi.shape != theta.shape or top_mode.shape != theta.shape:
            raise OptincError(
                f"phi/top_mode: lengths {phi.size}/{top_mode.size} differ from theta length {theta.size}"
            )
        if output_phase.size != n_modes:
            raise OptincError(f"output_phase: length {output_phase.size} differs from n_modes {n_modes}")
        _check_topology(n_modes, top_mode, column)
        arms = [_as_arm_array(value, name, theta.size) for name, value in
                (("theta_lower", self.theta_lower), ("phi_lower", self.phi_lower))]
        for name, value in (
            ("n_modes", n_modes), ("theta", theta), ("phi", phi), ("top_mode", top_mode),
            ("column", column), ("output_phase", output_phase), ("kind", str(self.kind)),
            ("theta_lower", arms[0]), ("phi_lower", arms[1]),
        ):
            object.__setattr__(self, name, _frozen(value) if isinstance(value, np.ndarray) else value)

    @property
    def n_mzi(self) -> int:
        return int(self.theta.size)

    @property
    def any_lower(self) -> bool:
        """Whether any heater sits on a lower arm (False: the pinned MZI everywhere)."""
        return bool(self.theta_lower.any() or self.phi_lower.any())

    @property
    def n_columns(self) -> int:
        return int(self.column.max()) + 1 if self.column.size else 0

    def matrix(self) -> np.ndarray:
        """diag(e^{iψ})·T_K···T_1 as an (n_modes, n_modes) complex array."""
        arms = (self.theta_lower, self.phi_lower) if self.any_lower else (None, None)
        return mesh_matrices(
            self.n_modes, self.theta[None], self.phi[None], self.top_mode, self.column, self.output_phase[None], *arms
        )[0]


@dataclass(frozen=True, eq=False)
class MeshBatch:
    """Many meshes of one topology (e.g. the k×k blocks of a layer): phases carry a leading batch axis."""

    n_modes: int
    theta: np.ndarray  # (B, K)
    phi: np.ndarray  # (B, K)
    top_mode: np.ndarray  # (K,)
    column: np.ndarray  # (K,)
    output_phase: np.ndarray  # (B, n_modes)
    kind: str = "custom"

    def __post_init__(self) -> None:
        n_modes = _as_mode_count(self.n_modes)
        theta = _as_float_array(self.theta, "theta", 2)
        phi = _as_float_array(self.phi, "phi", 2)
        top_mode = _as_int_array(self.top_mode, "top_mode")
        column = _as_int_array(self.column, "column")
        output_phase = _as_float_array(self.output_phase, "output_phase", 2)
        if phi.shape != theta.shape or theta.shape[1] != top_mode.size:
            raise OptincError(f"theta/phi: shapes {theta.shape}/{phi.shape} do not match {top_mode.size} MZIs")
        if output_phase.shape != (theta.shape[0], n_modes):
            raise OptincError(f"output_phase: shape {output_phase.shape} != ({theta.shape[0]}, {n_modes})")
        _check_topology(n_modes, top_mode, column)
        for name, value in (
            ("n_modes", n_modes), ("theta", theta), ("phi", phi), ("top_mode", top_mode),
            ("column", column), ("output_phase", output_phase), ("kind", str(self.kind)),
        ):
            object.__setattr__(self, name, _frozen(value) if isinstance(value, np.ndarray) else value)

    def __len__(self) -> int:
        return int(self.theta.shape[0])

    def __getitem__(self, index: int) -> MeshPhases:
        return MeshPhases(
            self.n_modes, self.theta[index], self.phi[index], self.top_mode, self.column,
            self.output_phase[index], self.kind,
        )

    def __iter__(self):
        return (self[index] for index in range(len(self)))

    @property
    def n_mzi(self) -> int:
        """MZIs per mesh."""
        return int(self.top_mode.size)

    def matrices(self) -> np.ndarray:
        """(B, n_modes, n_modes) matrices, vectorised over the batch."""
        return mesh_matrices(self.n_modes, self.theta, self.phi, self.top_mode, self.column, self.output_phase)


@dataclass(frozen=True, eq=False)
class DiagonalColumn:
    """A column of attenuator MZIs, each from its upper input to its upper output (T₀₀).

    ``mode[k]`` is the waveguide carrying attenuator k out of ``n_modes``; a waveguide without an
    attenuator passes light unchanged (value 1).
    """

    theta: np.ndarray
    phi: np.ndarray
    mode: np.ndarray
    n_modes: int

    def __post_init__(self) -> None:
        n_modes = _as_mode_count(self.n_modes)
        theta = _as_float_array(self.theta, "theta", 1)
        phi = _as_float_array(self.phi, "phi", 1)
        mode = _as_int_array(self.mode, "mode")
        if phi.shape != theta.shape or mode.shape != theta.shape:
            raise OptincError(f"phi/mode: lengths {phi.size}/{mode.size} differ from theta length {theta.size}")
        if mode.size and (mode.min() < 0 or mode.max() >= n_modes):
            raise OptincError(f"mode: must lie in 0..{n_modes - 1}")
        if np.unique(mode).size != mode.size:
            raise OptincError("mode: each waveguide carries at most one attenuator")
        for name, value in (("theta", theta), ("phi", phi), ("mode", mode), ("n_modes", n_modes)):
            object.__setattr__(self, name, _frozen(value) if isinstance(value, np.ndarray) else value)

    @property
    def n_mzi(self) -> int:
        return int(self.theta.size)

    def values(self) -> np.ndarray:
        """The complex diagonal, one entry per waveguide."""
        diagonal = np.ones(self.n_modes, dtype=np.complex128)
        diagonal[self.mode] = attenuator_value(self.theta, self.phi)
        return diagonal

    @classmethod
    def from_values(cls, values) -> DiagonalColumn:
        """One attenuator per waveguide realising the given complex diagonal (|d| ≤ 1)."""
        from optinc_pdk.core.mzi import attenuator_phases

        values = np.asarray(values)
        theta, phi = attenuator_phases(values)
        return cls(theta, phi, np.arange(values.size), values.size)
