"""Behavioural models of the PDK's primitives, vectorised over arrays of elements.

Field amplitudes, lossless unless stated, one wavelength (the design wavelength of the phases):

* ``dc_coupler``: 50:50 directional coupler B = (1/√2)[[1, i], [i, 1]] (docs/conventions.md, MZI).
* ``phase_shifter``: e^{iφ}.
* ``mzi2x2``: T(θ, φ) = B·diag(e^{iθ}, 1)·B·diag(e^{iφ}, 1), the two models above in light's order
  (evaluated in closed form); channel 0 is the upper mode m, channel 1 the lower mode m+1.
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

from optinc_pdk.core.mzi import attenuator_value, mzi_transfer

COUPLER = np.array([[1.0, 1.0j], [1.0j, 1.0]]) / np.sqrt(2.0)


def phase_shifter(phase: np.ndarray | float) -> np.ndarray:
    return np.exp(1j * np.asarray(phase, dtype=np.float64))


def dc_coupler() -> np.ndarray:
    return COUPLER.copy()


def mzi2x2(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Transfer matrices (..., 2, 2) of MZIs (channel 0 = upper mode m, channel 1 = mode m+1).

    The closed form of :func:`optinc_pdk.core.mzi.mzi_transfer` (the project's one MZI formula); the
    tests check it equals dc_coupler · phase_shifter(θ) · dc_coupler · phase_shifter(φ) built from
    the models above.
    """
    return mzi_transfer(theta, phi)


def mzi_attenuator(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Upper-in → upper-out field of attenuator MZIs: T₀₀(θ, φ), |T₀₀| = sin(θ/2)."""
    return attenuator_value(theta, phi)


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
