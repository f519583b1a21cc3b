"""From nulling records to MZI phases.

lazy_phases turns null_single's records into (θ, e^{iφ}, final diagonal) by tracking the lazy phase
vectors; finish (for both kernels) pushes the output phases through the row MZIs, puts the MZIs in
propagation order and wraps the phases.

Everything here is vectorised over the batch and over one sweep at a time; what flows along a
sweep (the phase one MZI leaves for the next) is a cumulative product. Phases are carried as unit
complex numbers, not angles, so long products do not lose precision to large angle sums.

Conventions (see :mod:`optinc_pdk.decompose.nulling`): W = diag(p)·S·diag(q), |p| = |q| = 1.
A column operation realises W ← W·T(θ, φ)ᴴ on columns (m, m+1). With a, b the entries of S it read
and u = x/|x| (1 for x = 0):
    θ = π − 2·atan2(|a|, |b|),   e^{iφ} = −u_a·conj(u_b)·q_m·conj(q_{m+1}),
    q_m ← q_m·(−i)e^{−iθ/2}·e^{−iφ},   q_{m+1} ← q_{m+1}·i·e^{−iθ/2}·conj(w)
where w = −u_a·conj(u_b) is the kernel's prephase (w = 1 when it used none or a = 0).
A row operation realises W ← T(θ, φ)·W on rows (m, m+1):
    θ = π − 2·atan2(|b|, |a|),   e^{iφ} = u_b·conj(u_a)·p_{m+1}·conj(p_m),
    p_m ← p_m·i·e^{iθ/2}·e^{iφ},   p_{m+1} ← p_{m+1}·(−i)·e^{iθ/2}·conj(w),  w = u_a·conj(u_b) or 1.
Clements ends with (row MZIs)·U·(column MZIs)⁻¹ = D; each row MZI then moves to the right of D with
T(θ, φ)ᴴ·diag(d₁, d₂) = diag(d₁', d₂')·T(θ, φ'):
    e^{iφ'} = d₁·conj(d₂),   d₁' = −e^{−iθ}·e^{−iφ}·d₂,   d₂' = −e^{−iθ}·d₂.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.core.mzi import TWO_PI
from optinc_pdk.decompose.nulling import NullingRecord
from optinc_pdk.decompose.topology import mzi_count, nulling_positions, sweeps

PI = np.pi


def _unit(values: np.ndarray) -> np.ndarray:
    """x/|x|, and 1 for x = 0 (as the kernels treat zero entries)."""
    magnitude = np.abs(values)
    return np.divide(values, magnitude, out=np.ones_like(values), where=magnitude > 0)


def _wrap_small(angles: np.ndarray) -> np.ndarray:
    """wrap_phase for angles already in [−2π, 2π) (θ and np.angle output), without np.mod's cost."""
    wrapped = np.where(angles < 0, angles + TWO_PI, angles)
    return np.where(wrapped >= TWO_PI, 0.0, wrapped)  # −1e-17 + 2π rounds to 2π


def _renormalised(phases: np.ndarray) -> np.ndarray:
    return phases / np.abs(phases)


def _exclusive_cumprod(factors: np.ndarray) -> np.ndarray:
    """[1, f0, f0·f1, …] along axis 1."""
    result = np.ones_like(factors)
    np.cumprod(factors[:, :-1], axis=1, out=result[:, 1:])
    return result


def lazy_phases(n: int, mesh: str, record: NullingRecord):
    """theta, e^{iφ} (B, K) in nulling order and the final diagonal of W (B, n), from null_single's record."""
    batch = record.final.shape[0]
    total = mzi_count(n)
    abs_a, abs_b = np.abs(record.a), np.abs(record.b)
    unit_a, unit_b = _unit(record.a), _unit(record.b)
    q = np.ones((batch, n), dtype=np.complex128)  # column phases of W
    p = np.ones((batch, n), dtype=np.complex128)  # row phases of W
    theta = np.empty((batch, total))
    phase_phi = np.empty((batch, total), dtype=np.complex128)  # e^{iφ}
    for sweep in sweeps(n, mesh):
        span = slice(sweep.start, sweep.start + sweep.size)
        step = np.arange(sweep.size)
        a_abs, b_abs, u_a, u_b = abs_a[:, span], abs_b[:, span], unit_a[:, span], unit_b[:, span]
        if sweep.by_rows:  # clements, top to bottom on rows (m, m+1)
            upper = n - 2 - sweep.index + step
            angle = PI - 2.0 * np.arctan2(b_abs, a_abs)
            half = np.exp(0.5j * angle)
            prephase = np.where(b_abs > 0, u_a * np.conj(u_b), 1.0) if record.row_prephased else 1.0
            leaves_lower = -1j * half * np.conj(prephase)  # factor MZI j leaves on row m+1
            # p_m met by MZI j is what MZI j−1 left on that row; p_{m+1} is still the sweep's start value.
            carry = p[:, upper].copy()
            carry[:, 1:] *= leaves_lower[:, :-1]
            phase = u_b * np.conj(u_a) * p[:, upper + 1] * np.conj(carry)
            last = p[:, n - 1] * leaves_lower[:, -1]
            p[:, upper] = 1j * half * u_b * np.conj(u_a) * p[:, upper + 1]
            p[:, n - 1] = last
            p = _renormalised(p)
        elif mesh == "clements":  # bottom to top on columns (m, m+1), m = i − j
            left = sweep.index - step
            angle = PI - 2.0 * np.arctan2(a_abs, b_abs)
            conj_half = np.exp(-0.5j * angle)
            prephase = np.where(a_abs > 0, -u_a * np.conj(u_b), 1.0) if record.column_prephased else 1.0
            # q_{m+1} met by MZI j is what MZI j−1 left on its column m: a running product.
            leaves_upper = 1j * conj_half * np.conj(u_a) * u_b
            carry = q[:, [sweep.index + 1]] * _exclusive_cumprod(leaves_upper)
            phase = -u_a * np.conj(u_b) * q[:, left] * np.conj(carry)
            carry_out = carry[:, -1] * leaves_upper[:, -1]
            q[:, left + 1] = carry * 1j * conj_half * np.conj(prephase)
            q[:, 0] = carry_out
            q = _renormalised(q)
        else:  # reck, left to right on columns (k, k+1) of row N−1−p
            row = n - 1 - sweep.index
            angle = PI - 2.0 * np.arctan2(a_abs, b_abs)
            conj_half = np.exp(-0.5j * angle)
            prephase = np.where(a_abs > 0, -u_a * np.conj(u_b), 1.0) if record.column_prephased else 1.0
            leaves_lower = 1j * conj_half * np.conj(prephase)  # factor MZI k leaves on column k+1
            carry = q[:, :row].copy()
            carry[:, 1:] *= leaves_lower[:, :-1]
            phase = -u_a * np.conj(u_b) * carry * np.conj(q[:, 1 : row + 1])
            last = q[:, row] * leaves_lower[:, -1]
            q[:, :row] = q[:, 1 : row + 1] * 1j * conj_half * np.conj(u_a) * u_b
            q[:, row] = last
            q = _renormalised(q)
        theta[:, span] = angle
        phase_phi[:, span] = phase

    return theta, phase_phi, p * _unit(np.diagonal(record.final, axis1=1, axis2=2)) * q


def finish(n: int, mesh: str, theta, phase_phi, diagonal):
    """theta, phi (B, K), top_mode, column (K,), output_phase (B, n), MZIs in propagation order.

    Inputs in nulling order; for Clements the row MZIs are moved past the diagonal first.
    """
    top_mode, column = nulling_positions(n, mesh)
    plan = sweeps(n, mesh)
    row_sweeps = [sweep for sweep in plan if sweep.by_rows]
    output = _unit(diagonal)
    propagation = np.arange(top_mode.size)
    if row_sweeps:
        output, phase_phi = _push_rows_through(output, theta, phase_phi, row_sweeps, top_mode, n)
        column_ops = [np.arange(s.start, s.start + s.size) for s in plan if not s.by_rows]
        row_ops = [np.arange(s.start, s.start + s.size)[::-1] for s in reversed(row_sweeps)]
        propagation = np.concatenate(column_ops + row_ops)  # row MZIs: last nulled is met first
    return (
        _wrap_small(theta[:, propagation]), _wrap_small(np.angle(phase_phi[:, propagation])),
        top_mode[propagation], column[propagation], _wrap_small(np.angle(output)),
    )


def _push_rows_through(output, theta, phase_phi, row_sweeps, top_mode, n):
    output = output.copy()
    phase_phi = phase_phi.copy()
    for sweep in reversed(row_sweeps):
        span = slice(sweep.start, sweep.start + sweep.size)
        upper = top_mode[span]
        minus_conj_full = -np.exp(-1j * theta[:, span])
        factor = minus_conj_full * np.conj(phase_phi[:, span])  # e^{i(π − θ − φ)}
        # The MZIs of a sweep move last-first; d_{m+1} met by MZI j is what MZI j+1 left.
        carry = output[:, [n - 1]] * _exclusive_cumprod(factor[:, ::-1])[:, ::-1]
        phase_phi[:, span] = output[:, upper] * np.conj(carry)
        top_out = carry[:, 0] * factor[:, 0]
        output[:, upper + 1] = minus_conj_full * carry
        output[:, upper[0]] = top_out
        output = _renormalised(output)
    return output, phase_phi
