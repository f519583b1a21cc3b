"""Transfer matrices of MZI meshes from their phases: the project's one mesh → matrix code.

Everything that turns mesh phases into a matrix calls :func:`mesh_transfer`: the decomposer's
reconstruction checks (``MeshPhases.matrix()``, ``MeshBatch.matrices()``), ``optinc decompose``
and the behavioural simulator (:mod:`optinc_pdk.simulate` re-exports it). This module imports
only numpy and :mod:`optinc_pdk.core.mzi`, so both sides can import it without a cycle.

Light meets the MZIs column by column; within a column the MZIs act on disjoint mode pairs. Updating
a dense n×n matrix one column at a time costs ~2n² complex multiply-adds per column in elementwise
numpy (≈ 10 s for 1024 modes). A column moves light by at most one mode, so the product of L
consecutive columns is banded (half-bandwidth L). We therefore

1. build each chunk of L columns in band storage, ``band[i, d] = A[i, i + d − L]``: a column then
   updates only its MZI rows' active diagonals (O(n·L) per column), as one batched 2×2 matmul on a
   strided view that pairs the entries of rows m and m+1 belonging to one matrix column;
2. apply the chunk to the running product with BLAS, one (T × (T+2L)) tile per T output rows,
   restricted to the light cone of the product so far (after c columns the product of a mesh
   started from the identity is banded with half-bandwidth c). The first chunk needs no product:
   it *is* the running product, copied out of band storage.

Exact up to rounding (the same products, reassociated). Finally the output phase screen
diag(e^{iψ}) is applied. Phases may carry leading batch axes (many meshes of one topology, e.g.
the k×k blocks of a layer): every step above is vectorised over the batch.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.core.mzi import mzi_transfer, mzi_transfer_arms

CHUNK_COLUMNS = 128  # L: columns per band chunk (wider chunks keep the BLAS tiles efficient)
TILE_ROWS = 256  # T: output rows per BLAS tile


def column_groups(column: np.ndarray) -> list[slice]:
    """Slices of MZIs sharing a column (MZIs are listed in propagation order)."""
    column = np.asarray(column)
    if column.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(column)) + 1
    edges = np.concatenate([[0], cuts, [column.size]])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def check_columns(n_modes: int, top_mode: np.ndarray, column: np.ndarray) -> None:
    """Every column must use each mode at most once, and MZIs must be in column order."""
    top_mode = np.asarray(top_mode, dtype=np.int64)
    column = np.asarray(column, dtype=np.int64)
    if top_mode.shape != column.shape or top_mode.ndim != 1:
        raise ValueError(f"top_mode and column must be 1-D of one length, got {top_mode.shape} and {column.shape}")
    if top_mode.size == 0:
        return
    if np.any(np.diff(column) < 0):
        raise ValueError("MZIs must be listed in propagation order (column non-decreasing)")
    if top_mode.min() < 0 or top_mode.max() > n_modes - 2:
        raise ValueError(f"top_mode outside 0..{n_modes - 2}")
    # columns are sorted, so sorting (column, top mode) only has to order modes within a column
    key = column * n_modes + top_mode
    if np.any(np.diff(key) < 0):
        key = np.sort(key, kind="stable")
    same_column = np.diff(key // n_modes) == 0
    if np.any(np.diff(key)[same_column] < 2):
        raise ValueError("two MZIs of one column share a mode")


def _pair_view(band: np.ndarray, first: int, count: int, lo: int, hi: int) -> np.ndarray:
    """(B, count, 2, hi−lo−1) view pairing band[:, p, d+1] with band[:, p+1, d] for p = first, first+2, …

    In band storage A[p, j] = band[p, j−p+L] and A[p+1, j] = band[p+1, j−p−1+L], so entries of one
    matrix column j sit one diagonal apart in the two rows; rows p and p+1 are adjacent in memory,
    so a stride of (width − 1) elements steps from band[p, d+1] to band[p+1, d]. The MZI's 2×2
    transfer then applies to axis 2 with one batched matmul, no gather and no scatter.
    """
    batch, n, width = band.shape
    item = band.itemsize
    start = band[:, first, lo + 1 :]
    return np.lib.stride_tricks.as_strided(
        start, shape=(batch, count, 2, hi - lo - 1),
        strides=(n * width * item, 2 * width * item, (width - 1) * item, item), writeable=True,
    )


def _band_chunk(n: int, half: int, groups: list[slice], top: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Band storage (B, n, 2·half+1) of the product of the given columns (at most ``half`` of them)."""
    band = np.zeros((t.shape[0], n, 2 * half + 1), dtype=np.complex128)
    band[:, :, half] = 1.0
    for step, group in enumerate(groups):
        # after `step` columns only diagonals half±step are non-zero; this column widens them by one
        lo, hi = max(0, half - step - 2), min(2 * half + 1, half + step + 2)
        p = top[group]
        transfer = t[:, group]
        # runs of MZIs on every other mode (a whole Clements or Reck column is one run)
        cuts = np.flatnonzero(np.diff(p) != 2) + 1
        for run_start, run_stop in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [p.size]])):
            view = _pair_view(band, int(p[run_start]), int(run_stop - run_start), lo, hi)
            view[...] = np.matmul(transfer[:, run_start:run_stop], view)
    return band


def _band_tiles(band: np.ndarray, half: int, tile: int, n_tiles: int) -> np.ndarray:
    """Dense (B, n_tiles, T, T+2L) tiles: tile[a, b] = A[r0+a, r0−L+b] = band[r0+a, b−a]."""
    batch, n, width = band.shape
    padded = np.zeros((batch, n_tiles * tile, width), dtype=np.complex128)
    padded[:, :n] = band
    rows = padded.reshape(batch, n_tiles, tile, width)
    tiles = np.zeros((batch, n_tiles, tile, tile + 2 * half), dtype=np.complex128)
    a = np.arange(tile)[:, None]
    d = np.arange(width)[None, :]
    tiles[:, :, a, a + d] = rows[:, :, a, d]
    return tiles


def _band_to_rows(band: np.ndarray, half: int, out: np.ndarray) -> None:
    """Write the band matrix A (B, n, 2L+1) densely into out[:, L : L+n, :] (the running product's rows)."""
    n, width = band.shape[1:]
    cols = np.arange(n)[:, None] + np.arange(width)[None, :] - half
    row, diagonal = np.nonzero((cols >= 0) & (cols < n))
    out[:, half + row, row + diagonal - half] = band[:, row, diagonal]


def mesh_transfer(
    n_modes: int,
    theta: np.ndarray,
    phi: np.ndarray,
    top_mode: np.ndarray,
    column: np.ndarray,
    output_phase: np.ndarray | None = None,
    chunk_columns: int = CHUNK_COLUMNS,
    tile_rows: int = TILE_ROWS,
    mzi_matrices: np.ndarray | None = None,
    theta_lower: np.ndarray | None = None,
    phi_lower: np.ndarray | None = None,
) -> np.ndarray:
    """The n×n transfer matrix (output field = M @ input field) of a mesh given by its phase arrays.

    ``theta``, ``phi`` (..., K) and ``output_phase`` (..., n) may carry leading batch axes (one
    topology ``top_mode``, ``column`` (K,) for all); the result is then (..., n, n). MZIs must be
    listed in propagation order with non-decreasing ``column`` (a stable sort by column of any
    valid propagation order is one), each column using a mode at most once.

    ``mzi_matrices`` (..., K, 2, 2), when given, replaces each MZI's pinned transfer T(θ, φ): an
    imperfect MZI (:func:`optinc_pdk.core.mzi.mzi_transfer_general`, the yield's error models) then
    composes through this same code; ``theta``/``phi`` still give the batch shape.

    ``theta_lower``, ``phi_lower`` (K,) bool, when given, put those heaters on the MZI's lower arm
    (:func:`optinc_pdk.core.mzi.mzi_transfer_arms`; a ``--min-power`` build's meshes); default: every heater upper.
    """
    n = int(n_modes)
    top = np.asarray(top_mode, dtype=np.int64)
    col = np.asarray(column, dtype=np.int64)
    check_columns(n, top, col)
    theta = np.asarray(theta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    if theta.shape != phi.shape or theta.shape[-1:] != top.shape:
        raise ValueError(f"theta/phi: shapes {theta.shape}/{phi.shape} do not match {top.size} MZIs")
    batch_shape = theta.shape[:-1]
    if output_phase is not None:
        output_phase = np.asarray(output_phase, dtype=np.float64)
        if output_phase.shape != batch_shape + (n,):
            raise ValueError(f"output_phase: shape {output_phase.shape} != {batch_shape + (n,)}")
    batch = int(np.prod(batch_shape, dtype=np.int64))
    if mzi_matrices is None and (theta_lower is not None or phi_lower is not None):
        lower = [np.zeros(top.size, dtype=bool) if a is None else np.asarray(a, dtype=bool) for a in (theta_lower, phi_lower)]
        t = mzi_transfer_arms(theta, phi, *lower).reshape(batch, top.size, 2, 2)
    elif mzi_matrices is None:
        t = mzi_transfer(theta, phi).reshape(batch, top.size, 2, 2)
    elif mzi_matrices.shape != theta.shape + (2, 2):
        raise ValueError(f"mzi_matrices: shape {mzi_matrices.shape} != {theta.shape + (2, 2)}")
    else:
        t = np.asarray(mzi_matrices, dtype=np.complex128).reshape(batch, top.size, 2, 2)
    groups = column_groups(col)
    half = max(1, min(chunk_columns, len(groups)))
    tile = max(1, min(tile_rows, n))
    n_tiles = -(-n // tile)
    # running product, padded by `half` zero rows above and below so every tile reads a full window
    current = np.zeros((batch, n_tiles * tile + 2 * half, n), dtype=np.complex128)
    if not groups:
        current[:, half : half + n] = np.eye(n)
    spare = None
    cone = 0  # half-bandwidth of the running product
    for start in range(0, len(groups), half):
        chunk = groups[start : start + half]
        band = _band_chunk(n, half, chunk, top, t)
        cone_after = cone + len(chunk)
        if start == 0:  # the product so far is the identity: the chunk itself
            _band_to_rows(band, half, current)
            cone = cone_after
            continue
        if spare is None:
            spare = np.zeros_like(current)
        tiles = _band_tiles(band, half, tile, n_tiles)
        for index in range(n_tiles):
            r0 = index * tile
            lo, hi = max(0, r0 - cone_after), min(n, r0 + tile + cone_after)
            np.matmul(tiles[:, index], current[:, r0 : r0 + tile + 2 * half, lo:hi],
                      out=spare[:, half + r0 : half + r0 + tile, lo:hi])
        current, spare = spare, current
        cone = cone_after
    result = current[:, half : half + n]
    phases = 1.0 if output_phase is None else np.exp(1j * output_phase.reshape(batch, n))[:, :, None]
    result = result * phases  # a new array either way: the caller may keep it
    return result.reshape(batch_shape + (n, n))
