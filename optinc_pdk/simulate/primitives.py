"""Behavioural models of the PDK's primitives, vectorised over arrays of elements.

Field amplitudes, lossless unless stated, one wavelength (the design wavelength of the phases):

* ``dc_coupler``: 50:50 directional coupler B = (1/√2)[[1, i], [i, 1]] (DESIGN.md §3).
* ``phase_shifter``: e^{iφ}.
* ``mzi2x2``: T(θ, φ) = B·diag(e^{iθ}, 1)·B·diag(e^{iφ}, 1), built here from the two models above;
  channel 0 is the upper mode m, channel 1 the lower mode m+1.
* ``mzi_attenuator``: the same MZI used from its upper input to its upper output, T₀₀.
* ``splitter_1x2`` / ``combiner_2x1``: a ratio-weighted 2-port element with real field
  coefficients √r (upper branch) and √(1−r) (lower branch); r = 1/2 is the symmetric Y / MMI,
  whose combiner outputs (a + b)/√2. The light a combiner does not guide into its output is
  radiated, so the 3-port element is not unitary, only passive.
* ``nonlinear_unit``: ideal ReLU on the real part of the field (coherent, in-phase detection of the
  nonlinearity's input; the imaginary part is zero up to rounding in a correct design and the
  simulator reports it).
"""

from __future__ import annotations

import numpy as np

COUPLER = np.array([[1.0, 1.0j], [1.0j, 1.0]]) / np.sqrt(2.0)


def phase_shifter(phase: np.ndarray | float) -> np.ndarray:
    return np.exp(1j * np.asarray(phase, dtype=np.float64))


def dc_coupler() -> np.ndarray:
    return COUPLER.copy()


def _product(a: tuple, b: tuple) -> tuple:
    """(a @ b) for stacks of 2×2 matrices given as their four entries (elementwise, no 2×2 matmul stacks)."""
    a00, a01, a10, a11 = a
    b00, b01, b10, b11 = b
    return (a00 * b00 + a01 * b10, a00 * b01 + a01 * b11, a10 * b00 + a11 * b10, a10 * b01 + a11 * b11)


def mzi_elements(theta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(T₀₀, T₀₁, T₁₀, T₁₁) of MZIs: coupler · θ on the upper arm · coupler · φ on the upper input."""
    theta, phi = np.broadcast_arrays(np.asarray(theta, dtype=np.float64), np.asarray(phi, dtype=np.float64))
    one, zero = np.ones(theta.shape), np.zeros(theta.shape)
    coupler = tuple(np.full(theta.shape, c) for c in COUPLER.ravel())
    upper_arm = (phase_shifter(theta), zero, zero, one)
    upper_input = (phase_shifter(phi), zero, zero, one)
    return _product(_product(_product(coupler, upper_arm), coupler), upper_input)


def mzi2x2(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Transfer matrices (..., 2, 2) of MZIs (channel 0 = upper mode m, channel 1 = mode m+1)."""
    t00, t01, t10, t11 = mzi_elements(theta, phi)
    return np.stack([np.stack([t00, t01], -1), np.stack([t10, t11], -1)], -2)


def mzi_attenuator(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Upper-in → upper-out field of attenuator MZIs: T₀₀(θ, φ), |T₀₀| = sin(θ/2)."""
    return mzi_elements(theta, phi)[0]


def splitter_1x2(ratio: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) field coefficients of 1→2 splitters sending power fraction ``ratio`` up."""
    r = np.asarray(ratio, dtype=np.float64)
    if np.any((r < 0) | (r > 1)):
        raise ValueError("a splitter ratio lies in [0, 1]")
    return np.sqrt(r), np.sqrt(1.0 - r)


def combiner_2x1(ratio: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(upper, lower) input → output field coefficients of 2→1 combiners (the splitter reversed)."""
    return splitter_1x2(ratio)


def nonlinear_unit(field: np.ndarray) -> np.ndarray:
    """Ideal ReLU of the real field (a real array: the in-phase field it re-emits)."""
    return np.maximum(np.real(field), 0.0)
