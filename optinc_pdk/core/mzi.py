"""The one MZI formula every part of optinc uses (docs/conventions.md, MZI; pinned).

Modes (m, m+1), 50:50 couplers B = (1/√2)[[1, i], [i, 1]], internal phase θ on the upper arm
between the couplers, external phase φ on the upper input arm:

    T(θ, φ) = B·diag(e^{iθ}, 1)·B·diag(e^{iφ}, 1)
            = i·e^{iθ/2}·[[e^{iφ} sin(θ/2),  cos(θ/2)],
                          [e^{iφ} cos(θ/2), −sin(θ/2)]]

θ = π is the bar state, θ = 0 the cross state. Used as an attenuator from its upper input to its
upper output, an MZI passes T₀₀ = i·e^{iθ/2}·e^{iφ}·sin(θ/2).
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.errors import OptincError

TWO_PI = 2.0 * np.pi

# |d| may exceed 1 by rounding only (e.g. d = σ/σ_max computed in floating point).
ATTENUATOR_EXCESS_TOL = 1e-9


def wrap_phase(x):
    """Phases wrapped to [0, 2π); float64 array (0-d for a scalar input)."""
    wrapped = np.mod(np.asarray(x, dtype=np.float64), TWO_PI)
    # np.mod rounds tiny negative inputs up to exactly 2π, which is outside the interval.
    return np.where(wrapped >= TWO_PI, 0.0, wrapped)


def mzi_transfer(theta, phi, xp=np):
    """T(θ, φ) for broadcast arrays of phases: shape (..., 2, 2), complex (complex128 with numpy).

    ``xp`` is the array module that evaluates the formula: numpy by default; the sax models pass
    ``jax.numpy`` (double precision), so the layout's models and the simulator share this one formula.
    """
    theta, phi = xp.broadcast_arrays(xp.asarray(theta, dtype=xp.float64), xp.asarray(phi, dtype=xp.float64))
    prefactor = 1j * xp.exp(0.5j * theta)
    sin_half, cos_half = xp.sin(0.5 * theta), xp.cos(0.5 * theta)
    external = xp.exp(1j * phi)
    upper = xp.stack([prefactor * external * sin_half, prefactor * cos_half], axis=-1)
    lower = xp.stack([prefactor * external * cos_half, -prefactor * sin_half], axis=-1)
    return xp.stack([upper, lower], axis=-2)


def mzi_transfer_arms(theta, phi, theta_lower, phi_lower, xp=np):
    """The same MZI with each heater on either arm: (..., 2, 2).

    ``theta`` heats the upper internal arm, or the lower one where ``theta_lower``; ``phi`` the upper
    input arm, or the lower one where ``phi_lower``. A heater on the lower arm adds its phase v there:
    diag(1, e^{iv}) = e^{iv}·diag(e^{−iv}, 1), so the device is the pinned MZI at −v times a common
    phase e^{iv}: T = e^{i(θ·θ_lower + φ·φ_lower)}·T(±θ, ±φ). With both flags False this is T(θ, φ).
    """
    theta, phi = xp.asarray(theta, dtype=xp.float64), xp.asarray(phi, dtype=xp.float64)
    sign_theta, sign_phi = 1.0 - 2.0 * xp.asarray(theta_lower), 1.0 - 2.0 * xp.asarray(phi_lower)
    common = xp.exp(1j * (theta * xp.asarray(theta_lower) + phi * xp.asarray(phi_lower)))
    return common[..., None, None] * mzi_transfer(sign_theta * theta, sign_phi * phi, xp)


def attenuator_value(theta, phi, xp=np):
    """T₀₀(θ, φ): the complex amplitude an attenuator MZI passes from upper input to upper output.

    ``xp`` as for :func:`mzi_transfer`.
    """
    theta = xp.asarray(theta, dtype=xp.float64)
    return 1j * xp.exp(0.5j * theta + 1j * xp.asarray(phi, dtype=xp.float64)) * xp.sin(0.5 * theta)


def attenuator_phases(d) -> tuple[np.ndarray, np.ndarray]:
    """(θ, φ) with T₀₀(θ, φ) = d for each complex d (|d| ≤ 1); θ ∈ [0, π], both wrapped to [0, 2π).

    |T₀₀| = sin(θ/2) fixes θ; the argument of d (its sign, for real d) goes into φ, so negative and
    complex diagonal entries need no extra phase shifter.
    """
    d = np.asarray(d)
    if not np.all(np.isfinite(d)):
        raise OptincError("attenuator value: must be finite")
    magnitude = np.abs(d)
    worst = float(magnitude.max(initial=0.0))
    if worst > 1.0 + ATTENUATOR_EXCESS_TOL:
        raise OptincError(f"attenuator value: |d| = {worst:.6g} > 1; passive optics cannot amplify (scale the layer)")
    theta = 2.0 * np.arcsin(np.minimum(magnitude, 1.0))
    # arg T₀₀ = π/2 + θ/2 + φ  =>  φ = arg d − π/2 − θ/2
    phi = np.angle(d) - 0.5 * np.pi - 0.5 * theta
    return wrap_phase(theta), wrap_phase(phi)


def mzi_transfer_general(theta, phi, split_in=0.5, split_out=0.5, arm_upper=1.0, arm_lower=1.0, xp=np):
    """T of an imperfect MZI: shape (..., 2, 2), complex; :func:`mzi_transfer` at the defaults.

    The same element order as the pinned formula, with each coupler's power coupling κ (share of
    power sent to the other waveguide; 0.5 is the ideal 50:50) and each internal arm's field
    transmission a (1 is lossless):

        B(κ) = [[√(1−κ), i√κ], [i√κ, √(1−κ)]]
        T = B(κ_out)·diag(a_u·e^{iθ}, a_l)·B(κ_in)·diag(e^{iφ}, 1)

    Every argument broadcasts (one value per MZI, per chip, ...). Written out element by element so
    that a batch of chips × MZIs costs a few array operations.
    """
    theta = xp.asarray(theta, dtype=xp.float64)
    phi = xp.asarray(phi, dtype=xp.float64)
    k_in, k_out = xp.asarray(split_in, dtype=xp.float64), xp.asarray(split_out, dtype=xp.float64)
    t1, r1 = xp.sqrt(1.0 - k_in), xp.sqrt(k_in)
    t2, r2 = xp.sqrt(1.0 - k_out), xp.sqrt(k_out)
    upper = xp.asarray(arm_upper, dtype=xp.float64) * xp.exp(1j * theta)
    lower = xp.asarray(arm_lower, dtype=xp.float64) + 0j
    external = xp.exp(1j * phi)
    t00 = external * (t2 * t1 * upper - r2 * r1 * lower)
    t01 = 1j * (t2 * r1 * upper + r2 * t1 * lower)
    t10 = 1j * external * (r2 * t1 * upper + t2 * r1 * lower)
    t11 = t2 * t1 * lower - r2 * r1 * upper
    t00, t01, t10, t11 = xp.broadcast_arrays(t00, t01, t10, t11)
    return xp.stack([xp.stack([t00, t01], axis=-1), xp.stack([t10, t11], axis=-1)], axis=-2)
