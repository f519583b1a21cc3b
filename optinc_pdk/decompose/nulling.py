"""Nulling kernels: apply the rotations of a Clements or Reck decomposition to a working matrix.

The working matrix is kept as W = diag(p)·S·diag(q) with unit-modulus phase vectors p, q that are
never materialised: every rotation applied to S then has a real diagonal, c = sin(θ/2) ≥ 0, which
lets real orthogonal inputs stay real (BLAS drot) and complex ones use the cheap real-rotation
kernel zdrot after one phase scaling. The kernels only record, per MZI, the two entries of S it
read (a, b); :mod:`optinc_pdk.decompose.phases` turns those records into (θ, φ) and tracks p, q.

Each rotation touches only the stretch of its two rows/columns that can be nonzero (O(N) work),
which gives O(N³) overall instead of the O(N⁴) of multiplying full matrices per MZI.

Column operation on (m, m+1) nulling S[r, m] with b = S[r, m+1], a = S[r, m]:
    c = |b|/ρ, s = −(a/|a|)·conj(b/|b|)·|a|/ρ, ρ = √(|a|²+|b|²)
    x ← c·x + s·y,  y ← c·y − conj(s)·x     (x, y the two columns, rows 0..r)
Row operation on rows (m, m+1) nulling S[m+1, c] using a = S[m, c], b = S[m+1, c]:
    c = |a|/ρ, s = (a/|a|)·conj(b/|b|)·|b|/ρ; the same update on the two rows, columns c..N−1.
("Prephased" kernels first multiply y by e^{iβ} = s/|s| and apply the real rotation (c, |s|);
the phase left on y is then e^{−iβ}, which the phase tracker absorbs into q or p.)
Zero entries count as having phase 0; a rotation with nothing to null is the identity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas, lapack

from optinc_pdk.decompose.topology import sweeps


@dataclass(frozen=True)
class NullingRecord:
    a: np.ndarray  # (B, K) complex: entry nulled by MZI k, as read from S
    b: np.ndarray  # (B, K) complex: its partner entry
    final: np.ndarray  # (B, N, N) S after all rotations (upper triangular, ideally diagonal)
    column_prephased: bool  # column operations used the prephased kernel
    row_prephased: bool


def _leading_dimension(n: int) -> int:
    # A power-of-two stride maps a strided row onto few cache sets; pad it.
    return n + 8 if n >= 64 else n


def null_batched(matrices: np.ndarray, mesh: str) -> NullingRecord:
    """Vectorised over a batch (B, N, N): one numpy step per MZI position, all blocks at once."""
    work = np.array(matrices, dtype=np.complex128)
    batch, n, _ = work.shape
    plan = sweeps(n, mesh)
    total = sum(sweep.size for sweep in plan)
    rec_a = np.empty((batch, total), dtype=np.complex128)
    rec_b = np.empty((batch, total), dtype=np.complex128)
    position = 0
    for sweep in plan:
        for step in range(sweep.size):
            if sweep.by_rows:
                upper = n - 2 - sweep.index + step
                lo = step
                a = work[:, upper, lo].copy()
                b = work[:, upper + 1, lo].copy()
            elif mesh == "clements":
                row, left = n - 1 - step, sweep.index - step
                a = work[:, row, left].copy()
                b = work[:, row, left + 1].copy()
            else:
                row, left = n - 1 - sweep.index, step
                a = work[:, row, left].copy()
                b = work[:, row, left + 1].copy()
            rec_a[:, position] = a
            rec_b[:, position] = b
            position += 1
            abs_a, abs_b = np.abs(a), np.abs(b)
            rho = np.hypot(abs_a, abs_b)
            nonzero = rho > 0
            safe_rho = np.where(nonzero, rho, 1.0)
            unit_a = np.where(abs_a > 0, a / np.where(abs_a > 0, abs_a, 1.0), 1.0)
            unit_b = np.where(abs_b > 0, b / np.where(abs_b > 0, abs_b, 1.0), 1.0)
            if sweep.by_rows:
                cos_ = np.where(nonzero, abs_a / safe_rho, 1.0)
                sin_ = unit_a * np.conj(unit_b) * np.where(nonzero, abs_b / safe_rho, 0.0)
                x = work[:, upper, lo:].copy()
                y = work[:, upper + 1, lo:]
                work[:, upper, lo:] = cos_[:, None] * x + sin_[:, None] * y
                work[:, upper + 1, lo:] = cos_[:, None] * y - np.conj(sin_)[:, None] * x
            else:
                cos_ = np.where(nonzero, abs_b / safe_rho, 1.0)
                sin_ = -unit_a * np.conj(unit_b) * np.where(nonzero, abs_a / safe_rho, 0.0)
                x = work[:, : row + 1, left].copy()
                y = work[:, : row + 1, left + 1]
                work[:, : row + 1, left] = cos_[:, None] * x + sin_[:, None] * y
                work[:, : row + 1, left + 1] = cos_[:, None] * y - np.conj(sin_)[:, None] * x
    return NullingRecord(rec_a, rec_b, work, column_prephased=False, row_prephased=False)


def null_single(matrix: np.ndarray, mesh: str) -> NullingRecord:
    """One matrix with in-place BLAS rotations; real input stays real (drot)."""
    real = not np.iscomplexobj(matrix)
    n = matrix.shape[0]
    if n == 1:
        final = np.array(matrix, dtype=np.complex128).reshape(1, 1, 1)
        empty = np.empty((1, 0), dtype=np.complex128)
        return NullingRecord(empty, empty, final, column_prephased=not real, row_prephased=False)
    if mesh == "clements":
        rec_a, rec_b, final = _clements_blas(matrix, real)
    else:
        rec_a, rec_b, final = _reck_blas(matrix, real)
    return NullingRecord(
        np.asarray(rec_a, dtype=np.complex128)[None],
        np.asarray(rec_b, dtype=np.complex128)[None],
        np.asarray(final, dtype=np.complex128)[None],
        column_prephased=not real,
        row_prephased=False,
    )


def _column_storage(matrix: np.ndarray, real: bool):
    n = matrix.shape[0]
    ld = _leading_dimension(n)
    store = np.zeros((ld, n), dtype=np.float64 if real else np.complex128, order="F")
    store[:n] = matrix
    return store, store.reshape(-1, order="F"), ld


def _column_rotation_closure(flat, real: bool):
    """Return rotate(a, b, offset_x, offset_y, count): one column operation; see the module doc."""
    hypot = math.hypot
    if real:
        drot = blas.drot

        def rotate(a, b, off_x, off_y, count):
            abs_a = abs(a)
            if abs_a == 0.0:
                return
            rho = hypot(abs_a, b)
            sin_ = abs_a / rho if (a < 0.0) == (b < 0.0) else -abs_a / rho
            drot(flat, flat, abs(b) / rho, -sin_, count, off_x, 1, off_y, 1, 1, 1)

        return rotate
    zscal, zdrot = blas.zscal, blas.zdrot

    def rotate(a, b, off_x, off_y, count):
        abs_a = abs(a)
        if abs_a == 0.0:
            return
        abs_b = abs(b)
        rho = hypot(abs_a, abs_b)
        phase = -a / abs_a
        if abs_b != 0.0:
            phase *= b.conjugate() / abs_b
        zscal(phase, flat, count, off_y, 1)
        zdrot(flat, flat, abs_b / rho, abs_a / rho, count, off_x, 1, off_y, 1, 1, 1)

    return rotate


def _reck_blas(matrix: np.ndarray, real: bool):
    n = matrix.shape[0]
    store, flat, ld = _column_storage(matrix, real)
    item = flat.item
    rotate = _column_rotation_closure(flat, real)
    rec_a, rec_b = [], []
    append_a, append_b = rec_a.append, rec_b.append
    for p in range(n - 1):
        row = n - 1 - p
        for left in range(row):
            off = left * ld
            a = item(row + off)
            b = item(row + off + ld)
            append_a(a)
            append_b(b)
            rotate(a, b, off, off + ld, row + 1)
    return rec_a, rec_b, store[:n]


def _clements_blas(matrix: np.ndarray, real: bool):
    """Column sweeps work on a column-major copy; row sweeps touch that copy only in the columns
    column sweeps have reached (strided) and keep the rest of their rows in a row-major copy
    (contiguous). Two columns move from the row-major to the column-major copy before each
    column sweep, so both stay O(N) per sweep to keep consistent."""
    n = matrix.shape[0]
    left_store, flat, ld = _column_storage(matrix, real)
    right_store = np.zeros((n, ld), dtype=left_store.dtype)
    right_store[:, :n] = matrix
    flat_right = right_store.reshape(-1)
    item = flat.item
    rotate_columns = _column_rotation_closure(flat, real)
    row_rot = blas.drot if real else lapack.zrot
    hypot = math.hypot
    rec_a, rec_b = [], []
    append_a, append_b = rec_a.append, rec_b.append
    for i in range(n - 1):
        if i % 2 == 0:
            if i >= 2:
                rows = slice(n - 1 - i, n)
                left_store[rows, i : i + 2] = right_store[rows, i : i + 2]
            for j in range(i + 1):
                row, left = n - 1 - j, i - j
                off = left * ld
                a = item(row + off)
                b = item(row + off + ld)
                append_a(a)
                append_b(b)
                rotate_columns(a, b, off, off + ld, row + 1)
        else:
            split = i + 1  # columns < split live in left_store, the rest in right_store
            right_count = n - split
            for j in range(i + 1):
                upper = n - 2 - i + j
                index = upper + j * ld
                a = item(index)
                b = item(index + 1)
                append_a(a)
                append_b(b)
                abs_b = abs(b)
                if abs_b == 0.0:
                    continue
                abs_a = abs(a)
                rho = hypot(abs_a, abs_b)
                if real:
                    sin_ = abs_b / rho if (a < 0.0) == (b < 0.0) else -abs_b / rho
                else:
                    sin_ = (b.conjugate() / abs_b) * (abs_b / rho)
                    if abs_a != 0.0:
                        sin_ *= a / abs_a
                cos_ = abs_a / rho
                row_rot(flat, flat, cos_, sin_, split - j, index, ld, index + 1, ld, 1, 1)
                start = upper * ld + split
                row_rot(flat_right, flat_right, cos_, sin_, right_count, start, 1, start + ld, 1, 1, 1)
    final = np.array(left_store[:n])
    if (n - 2) % 2 == 1:  # the last sweep was by rows: its last column is in right_store
        final[:, n - 1] = right_store[:, n - 1]
    return rec_a, rec_b, final
