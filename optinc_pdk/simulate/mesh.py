"""Transfer matrix of an MZI mesh from its phases, column by column, vectorised.

Light meets the MZIs column by column; within a column the MZIs act on disjoint mode pairs, so a
column is one vectorised update of the rows it touches. Updating a dense n×n matrix that way
costs ~2n² complex multiply-adds per column in elementwise numpy (≈ 20 s for 1024 modes). A
column moves light by at most one mode, so the product of L consecutive columns is banded
(half-bandwidth L). We therefore

1. build each chunk of L columns in band storage, ``band[i, d] = A[i, i + d − L]``: a column then
   updates only its MZI rows' active diagonals (O(n·L) per column), as one batched 2×2 matmul on a
   strided view that pairs the entries of rows m and m+1 belonging to one matrix column;
2. apply the chunk to the running product with BLAS, one (T × (T+2L)) tile per T output rows,
   restricted to the light cone of the product so far (after c columns the product of a mesh
   started from the identity is banded with half-bandwidth c).

Exact up to rounding (the same products, reassociated). Finally the output phase screen
diag(e^{iψ}) is applied.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.simulate.primitives import mzi2x2, phase_shifter

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
    if top_mode.size == 0:
        return
    if np.any(np.diff(column) < 0):
        raise ValueError("MZIs must be listed in propagation order (column non-decreasing)")
    if top_mode.min() < 0 or top_mode.max() > n_modes - 2:
        raise ValueError(f"top_mode outside 0..{n_modes - 2}")
    # MZIs of one column sorted by top mode must be at least two modes apart
    order = np.lexsort((top_mode, column))
    same_column = column[order][1:] == column[order][:-1]
    if np.any(np.diff(top_mode[order])[same_column] < 2):
        raise ValueError("two MZIs of one column share a mode")


def _pair_view(band: np.ndarray, first: int, count: int, lo: int, hi: int) -> np.ndarray:
    """(count, 2, hi−lo−1) view pairing band[p, d+1] with band[p+1, d] for p = first, first+2, …

    In band storage A[p, j] = band[p, j−p+L] and A[p+1, j] = band[p+1, j−p−1+L], so entries of one
    matrix column j sit one diagonal apart in the two rows; rows p and p+1 are adjacent in memory,
    so a stride of (width − 1) elements steps from band[p, d+1] to band[p+1, d]. The MZI's 2×2
    transfer then applies to axis 1 with one batched matmul, no gather and no scatter.
    """
    width = band.shape[1]
    item = band.itemsize
    start = band[first, lo + 1 :]
    return np.lib.stride_tricks.as_strided(
        start, shape=(count, 2, hi - lo - 1), strides=(2 * width * item, (width - 1) * item, item), writeable=True,
    )


def _band_chunk(n: int, half: int, groups: list[slice], top: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Band storage (n, 2·half+1) of the product of the given columns (at most ``half`` of them)."""
    band = np.zeros((n, 2 * half + 1), dtype=np.complex128)
    band[:, half] = 1.0
    for step, group in enumerate(groups):
        # after `step` columns only diagonals half±step are non-zero; this column widens them by one
        lo, hi = max(0, half - step - 2), min(2 * half + 1, half + step + 2)
        p = top[group]
        transfer = t[group]
        # runs of MZIs on every other mode (a whole Clements or Reck column is one run)
        cuts = np.flatnonzero(np.diff(p) != 2) + 1
        for run_start, run_stop in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [p.size]])):
            view = _pair_view(band, int(p[run_start]), int(run_stop - run_start), lo, hi)
            view[...] = np.matmul(transfer[run_start:run_stop], view)
    return band


def _band_tiles(band: np.ndarray, half: int, tile: int, n_tiles: int) -> np.ndarray:
    """Dense (n_tiles, T, T+2L) tiles: tile[a, b] = A[r0+a, r0−L+b] = band[r0+a, b−a]."""
    n = band.shape[0]
    width = 2 * half + 1
    padded = np.zeros((n_tiles * tile, width), dtype=np.complex128)
    padded[:n] = band
    rows = padded.reshape(n_tiles, tile, width)
    tiles = np.zeros((n_tiles, tile, tile + 2 * half), dtype=np.complex128)
    a = np.arange(tile)[:, None]
    d = np.arange(width)[None, :]
    tiles[:, a, a + d] = rows[:, a, d]
    return tiles


def mesh_transfer(
    n_modes: int,
    theta: np.ndarray,
    phi: np.ndarray,
    top_mode: np.ndarray,
    column: np.ndarray,
    output_phase: np.ndarray | None = None,
    chunk_columns: int = CHUNK_COLUMNS,
    tile_rows: int = TILE_ROWS,
) -> np.ndarray:
    """The n×n transfer matrix (output field = M @ input field) of a mesh given by its phase arrays."""
    n = int(n_modes)
    top = np.asarray(top_mode, dtype=np.int64)
    col = np.asarray(column, dtype=np.int64)
    check_columns(n, top, col)
    t = mzi2x2(theta, phi)
    groups = column_groups(col)
    half = max(1, min(chunk_columns, len(groups)))
    tile = max(1, min(tile_rows, n))
    n_tiles = -(-n // tile)
    # running product, padded by `half` zero rows above and below so every tile reads a full window
    current = np.zeros((n_tiles * tile + 2 * half, n), dtype=np.complex128)
    current[half : half + n] = np.eye(n)
    spare = np.zeros_like(current)
    cone = 0  # half-bandwidth of the running product
    for start in range(0, len(groups), half):
        chunk = groups[start : start + half]
        tiles = _band_tiles(_band_chunk(n, half, chunk, top, t), half, tile, n_tiles)
        cone_after = cone + len(chunk)
        for index in range(n_tiles):
            r0 = index * tile
            lo, hi = max(0, r0 - cone_after), min(n, r0 + tile + cone_after)
            np.matmul(tiles[index], current[r0 : r0 + tile + 2 * half, lo:hi], out=spare[half + r0 : half + r0 + tile, lo:hi])
        current, spare = spare, current
        cone = cone_after
    result = current[half : half + n].copy()
    if output_phase is not None:
        result *= phase_shifter(output_phase)[:, None]
    return result


def mesh_transfer_reference(n_modes, theta, phi, top_mode, column, output_phase=None) -> np.ndarray:
    """One MZI at a time, full-matrix products: slow, for tests of :func:`mesh_transfer` only."""
    n = int(n_modes)
    result = np.eye(n, dtype=np.complex128)
    order = np.argsort(np.asarray(column), kind="stable")
    for index in order:
        m = int(top_mode[index])
        embed = np.eye(n, dtype=np.complex128)
        embed[m : m + 2, m : m + 2] = mzi2x2(theta[index], phi[index])
        result = embed @ result
    if output_phase is not None:
        result = np.diag(phase_shifter(output_phase)) @ result
    return result
