"""Nulling kernels: apply the rotations of a Clements or Reck decomposition to a working matrix.

Two kernels: null_single (one matrix, in-place BLAS rotations) and null_batched (many small
blocks, numpy vectorised over the batch; see its docstring).

null_single keeps the working matrix as W = diag(p)·S·diag(q) with unit-modulus phase vectors p, q
that are never materialised: every rotation applied to S then has a real diagonal c = sin(θ/2),
which lets real orthogonal inputs stay real (BLAS drot) and complex ones use the real-rotation
kernel zdrot after one phase scaling. It records, per MZI, the two entries of S it read (a, b);
:func:`optinc_pdk.decompose.phases.lazy_phases` turns the records into (θ, φ) and tracks p, q.

Each rotation touches only the stretch of its two rows/columns that can be nonzero (O(N) work),
which gives O(N³) overall instead of the O(N⁴) of multiplying full matrices per MZI.

Column operation on (m, m+1) nulling S[r, m], with a = S[r, m], b = S[r, m+1], ρ = √(|a|²+|b|²):
    c = |b|/ρ, s = −(a/|a|)·conj(b/|b|)·|a|/ρ;  x ← c·x + s·y, y ← c·y − conj(s)·x
    (x, y the two columns, rows 0..r; the rows below are already zero in both).
Row operation on rows (m, m+1) nulling S[m+1, c], with a = S[m, c], b = S[m+1, c]:
    c = |a|/ρ, s = (a/|a|)·conj(b/|b|)·|b|/ρ; the same update on the two rows,
    columns c..N−1 (the columns to the left are already zero in both).
Complex inputs use the "prephased" form: multiply y by w = s/|s| first, then apply the real
rotation (c, |s|); y keeps a factor conj(w), which the phase tracker absorbs into q or p.
Zero entries count as having phase 0; a rotation with nothing to null is the identity (skipped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optinc_pdk.decompose.topology import sweeps


@dataclass(frozen=True)
class NullingRecord:
    a: np.ndarray  # (B, K) complex: entry nulled by MZI k, as read from S
    b: np.ndarray  # (B, K) complex: its partner entry
    final: np.ndarray  # (B, N, N) S after all rotations (upper triangular, ideally diagonal)
    column_prephased: bool  # column operations used the prephased kernel
    row_prephased: bool


@dataclass(frozen=True)
class BatchNulling:
    theta: np.ndarray  # (B, K) θ of each MZI in nulling order
    phase_phi: np.ndarray  # (B, K) e^{iφ} (before the output phases are pushed through)
    final: np.ndarray  # (B, N, N) W after all rotations (upper triangular, ideally diagonal)


def _blas():
    """scipy's BLAS wrappers, imported when a unitary is first nulled: scipy.linalg takes about 0.5 s to
    import, and the analytic layout paths (``optinc area --die``) load this package without decomposing."""
    from scipy.linalg import blas

    return blas


def _leading_dimension(n: int) -> int:
    # A power-of-two stride maps a strided row onto few cache sets; pad it.
    return n + 8 if n >= 64 else n


def null_batched(matrices: np.ndarray, mesh: str) -> BatchNulling:
    """Vectorised over a batch (B, N, N): one numpy step per MZI position, all blocks at once.

    Small blocks make the per-step numpy overhead dominate, so this kernel applies the exact
    complex T(θ, φ) (no lazy phases to track afterwards) and keeps the batch as the last, contiguous
    axis. Column operation nulling W[r, m] with a = W[r, m], b = W[r, m+1]: sin(θ/2) = |b|/ρ,
    cos(θ/2) = |a|/ρ, e^{iφ} = −u_a·conj(u_b); row operation nulling W[m+1, c] with a = W[m, c],
    b = W[m+1, c]: sin(θ/2) = |a|/ρ, cos(θ/2) = |b|/ρ, e^{iφ} = u_b·conj(u_a) (u = x/|x|, 1 for 0;
    ρ = 0 gives the bar state θ = π).
    """
    work = np.moveaxis(np.asarray(matrices, dtype=np.complex128), 0, -1).copy()  # (N, N, B)
    n, _, batch = work.shape
    plan = sweeps(n, mesh)
    total = sum(sweep.size for sweep in plan)
    theta = np.empty((total, batch))
    phase_phi = np.empty((total, batch), dtype=np.complex128)
    position = 0
    for sweep in plan:
        for step in range(sweep.size):
            if sweep.by_rows:
                upper = n - 2 - sweep.index + step
                a, b = work[upper, step], work[upper + 1, step]
            else:
                row = n - 1 - step if mesh == "clements" else n - 1 - sweep.index
                left = sweep.index - step if mesh == "clements" else step
                a, b = work[row, left], work[row, left + 1]
            abs_a, abs_b = np.abs(a), np.abs(b)
            rho = np.hypot(abs_a, abs_b)
            nonzero = rho > 0
            unit_a = np.divide(a, abs_a, out=np.ones_like(a), where=abs_a > 0)
            unit_b = np.divide(b, abs_b, out=np.ones_like(b), where=abs_b > 0)
            if sweep.by_rows:
                sin_half = np.divide(abs_a, rho, out=np.ones_like(rho), where=nonzero)
                cos_half = np.divide(abs_b, rho, out=np.zeros_like(rho), where=nonzero)
                phase = unit_b * np.conj(unit_a)
                prefactor = 1j * (cos_half + 1j * sin_half)  # i·e^{iθ/2}
                # rows (m, m+1) <- T·rows: x' = i e^{iθ/2}(e^{iφ} s x + c y), y' = i e^{iθ/2}(e^{iφ} c x − s y)
                x = work[upper, step:].copy()
                y = work[upper + 1, step:]
                outer = prefactor * phase
                work[upper, step:] = (outer * sin_half) * x + (prefactor * cos_half) * y
                work[upper + 1, step:] = (outer * cos_half) * x - (prefactor * sin_half) * y
            else:
                sin_half = np.divide(abs_b, rho, out=np.ones_like(rho), where=nonzero)
                cos_half = np.divide(abs_a, rho, out=np.zeros_like(rho), where=nonzero)
                phase = -unit_a * np.conj(unit_b)
                prefactor = -1j * (cos_half - 1j * sin_half)  # −i·e^{−iθ/2}
                # columns (m, m+1) <- columns·Tᴴ: x' = g(e^{−iφ} s x + c y), y' = g(e^{−iφ} c x − s y)
                x = work[: row + 1, left].copy()
                y = work[: row + 1, left + 1]
                outer = prefactor * np.conj(phase)
                work[: row + 1, left] = (outer * sin_half) * x + (prefactor * cos_half) * y
                work[: row + 1, left + 1] = (outer * cos_half) * x - (prefactor * sin_half) * y
            theta[position] = 2.0 * np.arctan2(sin_half, cos_half)
            phase_phi[position] = phase
            position += 1
    return BatchNulling(theta.T, phase_phi.T, np.moveaxis(work, -1, 0))


def null_single(matrix: np.ndarray, mesh: str) -> NullingRecord:
    """One matrix with in-place BLAS rotations; real input stays real (drot)."""
    real = not np.iscomplexobj(matrix)
    n = matrix.shape[0]
    if n == 1:
        final = np.array(matrix, dtype=np.complex128).reshape(1, 1, 1)
        empty = np.empty((1, 0), dtype=np.complex128)
        return NullingRecord(empty, empty, final, column_prephased=not real, row_prephased=not real)
    records, final = (_clements_blas if mesh == "clements" else _reck_blas)(matrix, real)
    pairs = np.asarray(records, dtype=np.complex128).reshape(1, -1, 2)
    return NullingRecord(
        pairs[..., 0], pairs[..., 1], np.asarray(final, dtype=np.complex128)[None],
        column_prephased=not real, row_prephased=not real,
    )


def _column_storage(matrix: np.ndarray, real: bool):
    n = matrix.shape[0]
    ld = _leading_dimension(n)
    store = np.zeros((ld, n), dtype=np.float64 if real else np.complex128, order="F")
    store[:n] = matrix
    return store, store.reshape(-1, order="F"), ld


def _rotation_kernels(left_flat, right_flat, real: bool):
    """column_op(a, b, off_x, off_y, count) and row_op(a, b, index, ld, left_count, right_start, right_count).

    column_op rotates column stretches left_flat[off_x : off_x+count], left_flat[off_y : ...];
    row_op rotates rows (m, m+1) whose first left_count entries sit in left_flat at ``index`` with
    stride ld and whose other right_count entries sit contiguously in right_flat from right_start
    (row m+1 one ld further). Both skip rotations with nothing to null (the identity).
    """
    hypot, blas = math.hypot, _blas()
    if real:
        drot = blas.drot

        def column_op(a, b, off_x, off_y, count):
            abs_a = abs(a)
            if abs_a == 0.0:
                return
            rho = hypot(abs_a, b)
            sin_ = -abs_a / rho if (a < 0.0) == (b < 0.0) else abs_a / rho
            drot(left_flat, left_flat, abs(b) / rho, sin_, count, off_x, 1, off_y, 1, 1, 1)

        def row_op(a, b, index, ld, left_count, right_start, right_count):
            abs_b = abs(b)
            if abs_b == 0.0:
                return
            rho = hypot(a, abs_b)
            sin_ = abs_b / rho if (a < 0.0) == (b < 0.0) else -abs_b / rho
            cos_ = abs(a) / rho
            drot(left_flat, left_flat, cos_, sin_, left_count, index, ld, index + 1, ld, 1, 1)
            if right_count:
                drot(right_flat, right_flat, cos_, sin_, right_count, right_start, 1, right_start + ld, 1, 1, 1)

        return column_op, row_op
    zscal, zdrot = blas.zscal, blas.zdrot

    def column_op(a, b, off_x, off_y, count):
        abs_a = abs(a)
        if abs_a == 0.0:
            return
        abs_b = abs(b)
        rho = hypot(abs_a, abs_b)
        phase = -a / abs_a if abs_b == 0.0 else -(a / abs_a) * (b.conjugate() / abs_b)  # no underflow
        zscal(phase, left_flat, count, off_y, 1)
        zdrot(left_flat, left_flat, abs_b / rho, abs_a / rho, count, off_x, 1, off_y, 1, 1, 1)

    def row_op(a, b, index, ld, left_count, right_start, right_count):
        abs_b = abs(b)
        if abs_b == 0.0:
            return
        abs_a = abs(a)
        rho = hypot(abs_a, abs_b)
        phase = b.conjugate() / abs_b if abs_a == 0.0 else (a / abs_a) * (b.conjugate() / abs_b)
        cos_, sin_ = abs_a / rho, abs_b / rho
        zscal(phase, left_flat, left_count, index + 1, ld)
        zdrot(left_flat, left_flat, cos_, sin_, left_count, index, ld, index + 1, ld, 1, 1)
        if right_count:
            zscal(phase, right_flat, right_count, right_start + ld, 1)
            zdrot(right_flat, right_flat, cos_, sin_, right_count, right_start, 1, right_start + ld, 1, 1, 1)

    return column_op, row_op


def _reck_blas(matrix: np.ndarray, real: bool):
    n = matrix.shape[0]
    store, flat, ld = _column_storage(matrix, real)
    item = flat.item
    column_op, _ = _rotation_kernels(flat, None, real)
    records = []
    record = records.append
    for p in range(n - 1):
        row = n - 1 - p
        for left in range(row):
            off = left * ld
            a = item(row + off)
            b = item(row + off + ld)
            record(a)
            record(b)
            column_op(a, b, off, off + ld, row + 1)
    return records, store[:n]


def _clements_blas(matrix: np.ndarray, real: bool):
    """Column sweeps work on a column-major copy; row sweeps touch that copy only in the columns
    column sweeps have reached (strided) and keep the rest of their rows in a row-major copy
    (contiguous). Two columns move from the row-major to the column-major copy before each
    column sweep, so keeping the copies consistent costs O(N) per sweep.

    The rotation kernels of :func:`_rotation_kernels` are inlined here (this loop runs once per
    MZI, 523 776 times at N = 1024, and a Python call per MZI costs as much as a BLAS call). LAPACK
    zrot (one call per complex rotation instead of zscal + zdrot) was measured and rejected: the
    OpenBLAS build scipy ships runs the reference Fortran zrot at ~6 ns per element, slower than
    zscal + zdrot together even on the strided left parts of the row operations.
    """
    n = matrix.shape[0]
    left_store, flat, ld = _column_storage(matrix, real)
    right_store = np.zeros((n, ld), dtype=left_store.dtype)
    right_store[:, :n] = matrix
    right_flat = right_store.reshape(-1)
    item = flat.item
    hypot, blas = math.hypot, _blas()
    records = []
    record = records.append
    if real:
        drot = blas.drot
    else:
        zscal, zdrot = blas.zscal, blas.zdrot
    for i in range(n - 1):
        if i % 2 == 0:
            if i >= 2:
                rows = slice(n - 1 - i, n)
                left_store[rows, i : i + 2] = right_store[rows, i : i + 2]
            for j in range(i + 1):
                row, off = n - 1 - j, (i - j) * ld
                off_y = off + ld
                a = item(row + off)
                b = item(row + off_y)
                record(a)
                record(b)
                abs_a = abs(a)
                if abs_a == 0.0:
                    continue
                if real:
                    rho = hypot(abs_a, b)
                    drot(flat, flat, abs(b) / rho, -abs_a / rho if (a < 0.0) == (b < 0.0) else abs_a / rho,
                         row + 1, off, 1, off_y, 1, 1, 1)
                    continue
                abs_b = abs(b)
                rho = hypot(abs_a, abs_b)
                # s = −u_a·conj(u_b)·|a|/ρ; prephase column m+1 by s/|s| (no underflow for tiny b)
                zscal(-a / abs_a if abs_b == 0.0 else -(a / abs_a) * (b.conjugate() / abs_b), flat, row + 1, off_y, 1)
                zdrot(flat, flat, abs_b / rho, abs_a / rho, row + 1, off, 1, off_y, 1, 1, 1)
        else:
            split = i + 1  # columns < split live in left_store, the rest in right_store
            right_count = n - split
            for j in range(i + 1):
                upper = n - 2 - i + j
                index = upper + j * ld
                a = item(index)
                b = item(index + 1)
                record(a)
                record(b)
                abs_b = abs(b)
                if abs_b == 0.0:
                    continue
                right_start = upper * ld + split
                if real:
                    rho = hypot(a, abs_b)
                    cos_ = abs(a) / rho
                    sin_ = abs_b / rho if (a < 0.0) == (b < 0.0) else -abs_b / rho
                    drot(flat, flat, cos_, sin_, split - j, index, ld, index + 1, ld, 1, 1)
                    if right_count:
                        drot(right_flat, right_flat, cos_, sin_, right_count, right_start, 1, right_start + ld, 1, 1, 1)
                    continue
                abs_a = abs(a)
                rho = hypot(abs_a, abs_b)
                phase = b.conjugate() / abs_b if abs_a == 0.0 else (a / abs_a) * (b.conjugate() / abs_b)
                cos_, sin_ = abs_a / rho, abs_b / rho
                zscal(phase, flat, split - j, index + 1, ld)
                zdrot(flat, flat, cos_, sin_, split - j, index, ld, index + 1, ld, 1, 1)
                if right_count:
                    zscal(phase, right_flat, right_count, right_start + ld, 1)
                    zdrot(right_flat, right_flat, cos_, sin_, right_count, right_start, 1, right_start + ld, 1, 1, 1)
    final = np.array(left_store[:n])
    if (n - 2) % 2 == 1:  # the last sweep was by rows: its last column is in right_store
        final[:, n - 1] = right_store[:, n - 1]
    return records, final
