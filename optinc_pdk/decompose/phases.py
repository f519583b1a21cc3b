"""From nulling records to MZI phases: track the lazy phase vectors and push the output phases through.

Everything here is vectorised over the batch and over one sweep at a time; the few quantities that
flow along a sweep (the phase carried from one MZI to the next) are cumulative sums.

Conventions (see :mod:`optinc_pdk.decompose.nulling`): W = diag(p)·S·diag(q); α = arg q, π = arg p.
A column operation realises W ← W·T(θ, φ)ᴴ on (m, m+1): with a, b the entries of S it read,
    θ = π − 2·atan2(|a|, |b|),   φ = arg a + α_m − arg b − α_{m+1} + π,
    α_m ← α_m − π/2 − θ/2 − φ,   α_{m+1} ← α_{m+1} + π/2 − θ/2 − β
(β the kernel's prephase, arg(−a·conj b), or 0). A row operation realises W ← T(θ, φ)·W on rows
(m, m+1):
    θ = π − 2·atan2(|b|, |a|),   φ = arg b + π_{m+1} − arg a − π_m,
    π_m ← π_m + π/2 + θ/2 + φ,   π_{m+1} ← π_{m+1} + 3π/2 + θ/2 − β.
Clements ends with L·U·R⁻¹... = D; each row MZI is then moved to the right of D with
T(θ, φ)ᴴ·diag(d₁, d₂) = diag(d₁', d₂')·T(θ, φ'):
    φ' = arg d₁ − arg d₂,  arg d₁' = π − θ − φ + arg d₂,  arg d₂' = π − θ + arg d₂.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.decompose.nulling import NullingRecord
from optinc_pdk.decompose.topology import mzi_count, sweeps
from optinc_pdk.mzi import wrap_phase

HALF_PI = 0.5 * np.pi
PI = np.pi


def _prephase(angle_a, angle_b, abs_a, abs_b, by_rows: bool, used: bool):
    if not used:
        return 0.0
    if by_rows:
        return np.where(abs_b > 0, angle_a - angle_b, 0.0)
    return np.where(abs_a > 0, angle_a + PI - angle_b, 0.0)


def mesh_phases(n: int, mesh: str, record: NullingRecord):
    """Return theta, phi (B, K), top_mode, column (K,), output_phase (B, n), MZIs in propagation order."""
    batch = record.final.shape[0]
    total = mzi_count(n)
    abs_a, abs_b = np.abs(record.a), np.abs(record.b)
    # A zero entry counts as phase 0, as in the kernels (np.angle(-0.0) would be π).
    angle_a = np.where(abs_a > 0, np.angle(record.a), 0.0)
    angle_b = np.where(abs_b > 0, np.angle(record.b), 0.0)
    alpha = np.zeros((batch, n))  # arg q, one per column of W
    row_phase = np.zeros((batch, n))  # arg p, one per row of W
    theta = np.empty((batch, total))
    phi = np.empty((batch, total))
    top_mode = np.empty(total, dtype=np.int64)
    column = np.empty(total, dtype=np.int64)
    row_sweeps = []
    for sweep in sweeps(n, mesh):
        span = slice(sweep.start, sweep.start + sweep.size)
        step = np.arange(sweep.size)
        a_abs, b_abs, a_arg, b_arg = abs_a[:, span], abs_b[:, span], angle_a[:, span], angle_b[:, span]
        prephase = _prephase(
            a_arg, b_arg, a_abs, b_abs, sweep.by_rows,
            record.row_prephased if sweep.by_rows else record.column_prephased,
        )
        if sweep.by_rows:  # clements, top to bottom on rows (m, m+1)
            upper = n - 2 - sweep.index + step
            angle_theta = PI - 2.0 * np.arctan2(b_abs, a_abs)
            # π_m met by MZI j is what MZI j−1 left on that row; π_{m+1} is still the sweep's start value.
            carry = np.empty_like(angle_theta)
            carry[:, 0] = row_phase[:, upper[0]]
            carry[:, 1:] = (row_phase[:, upper[1:]] + 1.5 * PI + 0.5 * angle_theta[:, :-1] - _cols(prephase, slice(None, -1)))
            angle_phi = b_arg + row_phase[:, upper + 1] - a_arg - carry
            last = row_phase[:, n - 1] + 1.5 * PI + 0.5 * angle_theta[:, -1] - _cols(prephase, -1)
            row_phase[:, upper] = HALF_PI + 0.5 * angle_theta + b_arg - a_arg + row_phase[:, upper + 1]
            row_phase[:, n - 1] = last
            row_phase = wrap_phase(row_phase)
            top_mode[span] = upper
            column[span] = n - 1 - step
            row_sweeps.append((span, upper))
        elif mesh == "clements":  # bottom to top on columns (m, m+1), m = i − j
            left = sweep.index - step
            angle_theta = PI - 2.0 * np.arctan2(a_abs, b_abs)
            # α_{m+1} met by MZI j is what MZI j−1 left on that column: a running sum.
            increment = -0.5 * angle_theta - 1.5 * PI - a_arg + b_arg
            running = np.cumsum(increment, axis=1)
            carry = alpha[:, [sweep.index + 1]] + running - increment
            angle_phi = a_arg - b_arg + PI + alpha[:, left] - carry
            alpha[:, left + 1] = carry + HALF_PI - 0.5 * angle_theta - prephase
            alpha[:, 0] = carry[:, -1] + increment[:, -1]
            alpha = wrap_phase(alpha)
            top_mode[span] = left
            column[span] = step
        else:  # reck, left to right on columns (k, k+1) of row N−1−p
            row = n - 1 - sweep.index
            angle_theta = PI - 2.0 * np.arctan2(a_abs, b_abs)
            carry = np.empty_like(angle_theta)
            carry[:, 0] = alpha[:, 0]
            carry[:, 1:] = alpha[:, 1:row] + HALF_PI - 0.5 * angle_theta[:, :-1] - _cols(prephase, slice(None, -1))
            angle_phi = a_arg - b_arg + PI + carry - alpha[:, 1 : row + 1]
            last = alpha[:, row] + HALF_PI - 0.5 * angle_theta[:, -1] - _cols(prephase, -1)
            alpha[:, :row] = alpha[:, 1 : row + 1] - 1.5 * PI - 0.5 * angle_theta - a_arg + b_arg
            alpha[:, row] = last
            alpha = wrap_phase(alpha)
            top_mode[span] = step
            column[span] = step + 2 * sweep.index
        theta[:, span] = angle_theta
        phi[:, span] = angle_phi

    diagonal = np.diagonal(record.final, axis1=1, axis2=2)
    output = row_phase + np.angle(diagonal) + alpha
    propagation = np.arange(total)
    if row_sweeps:
        output, phi = _push_rows_through(output, theta, phi, row_sweeps, n)
        column_ops = [np.arange(s.start, s.start + s.size) for s in sweeps(n, mesh) if not s.by_rows]
        propagation = np.concatenate(column_ops + [_reversed_ops(row_sweeps)])
    return (
        wrap_phase(theta[:, propagation]), wrap_phase(phi[:, propagation]),
        top_mode[propagation], column[propagation], wrap_phase(output),
    )


def _cols(value, index):
    """Columns of a per-MZI array, or the scalar 0 when the kernel used no prephase."""
    return value[:, index] if isinstance(value, np.ndarray) else value


def _reversed_ops(row_sweeps) -> np.ndarray:
    """Row MZIs in the order light meets them after the push-through: last nulled first."""
    return np.concatenate([np.arange(span.start, span.stop)[::-1] for span, _ in reversed(row_sweeps)])


def _push_rows_through(output, theta, phi, row_sweeps, n):
    output = output.copy()
    phi = phi.copy()
    for span, upper in reversed(row_sweeps):
        angle_theta, angle_phi = theta[:, span], phi[:, span]
        step = PI - angle_theta - angle_phi
        # The MZIs of a sweep are moved last-first; the phase of mode m+1 met by MZI j is what MZI j+1 left.
        inclusive = np.cumsum(step[:, ::-1], axis=1)[:, ::-1]
        carry = output[:, [n - 1]] + inclusive - step
        phi[:, span] = output[:, upper] - carry
        top_out = carry[:, 0] + step[:, 0]
        output[:, upper + 1] = PI - angle_theta + carry
        output[:, upper[0]] = top_out
        output = wrap_phase(output)
    return output, phi
