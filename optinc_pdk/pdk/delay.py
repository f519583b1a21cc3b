"""The fixed-phase delay section: which wide-section length gives which phase.

A delay section sits in a heater's slot (``heater_length``): strip of width w₀, a linear taper over
L_t to the wide width w₁, a wide section of length L_w, the mirror taper, and strip again up to the
slot's end. In the adiabatic (local-mode) approximation its phase relative to a plain strip of the
same length is

    Δφ(L_w) = (2π/λ)·[2·∫₀^{L_t} (n(w(x)) − n(w₀)) dx + (n(w₁) − n(w₀))·L_w],

with n the TE0 effective index of :mod:`optinc_pdk.pdk.neff` (femwell) and, for the linear taper,
∫ = L_t·⟨n(w) − n(w₀)⟩ over w ∈ [w₀, w₁]. Level k of K stands for the phase k·2π/K: L_w is the
shortest length with Δφ ≡ k·2π/K (mod 2π), rounded to the 1 nm database unit; level 0 is a plain
strip (no taper); a wide section that would be as long as the strip is wide takes one period more (see
``_END_EDGE_MARGIN_UM``). The rounding leaves each level ≤ (2π/λ)·Δn·0.5 nm (about 0.5 mrad) off
k·2π/K: ``level_phases`` gives each level's drawn phase, which the fixed build simulates, and ``check``
refuses a step so fine that the grid could not tell two levels apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np

from optinc_pdk.errors import OptincError
from optinc_pdk.pdk.neff import WAVELENGTH_UM, neff
from optinc_pdk.spec.fixed_phases import FixedPhaseSpec
from optinc_pdk.spec.geometry import DeviceGeometry

DBU_UM = 0.001  # the layout's database unit: the wide section's length is a whole number of it
#: A wide section as long as the strip is wide would have edges that look like a waveguide's end to the
#: connectivity check (``layout/connectivity.py``: an end is an edge one strip width long); such a level
#: takes one more period instead.
_END_EDGE_MARGIN_UM = 0.01
_TAPER_SAMPLES = 2001  # widths averaged along a linear taper (the spline is smooth: 1e-9 rad converged)


@dataclass(frozen=True)
class DelayModel:
    """Section lengths and phases for one strip width, wide width and taper length."""

    strip_width: float
    wide_width: float
    taper_length: float
    levels: int
    slot_length: float

    @classmethod
    def of(cls, spec: FixedPhaseSpec, geometry: DeviceGeometry) -> DelayModel:
        """The checked model of ``spec`` in ``geometry``'s heater slot (one per process: every delay cell asks)."""
        return _checked_model(geometry.wg_width, spec.width, spec.taper_length, spec.levels, geometry.heater_length)

    @cached_property
    def beta_difference(self) -> float:
        """(2π/λ)·(n(w₁) − n(w₀)): phase per µm of wide section (rad/µm)."""
        n0, n1 = neff([self.strip_width, self.wide_width])
        return 2 * math.pi / WAVELENGTH_UM * float(n1 - n0)

    @cached_property
    def taper_phase(self) -> float:
        """Phase of one linear taper relative to the same length of strip (rad)."""
        widths = np.linspace(self.strip_width, self.wide_width, _TAPER_SAMPLES)
        excess = neff(widths) - neff(self.strip_width)
        return 2 * math.pi / WAVELENGTH_UM * self.taper_length * float(np.trapezoid(excess, widths)
                                                                         / (self.wide_width - self.strip_width))

    def _on_grid(self, phase: float) -> float:
        return round(phase / self.beta_difference / DBU_UM) * DBU_UM

    def wide_length(self, level: int) -> float:
        """L_w of ``level`` (µm, whole nm); 0 for level 0, which has no section."""
        if level == 0:
            return 0.0
        target = (level * 2 * math.pi / self.levels - 2 * self.taper_phase) % (2 * math.pi)
        length = self._on_grid(target)
        if abs(length - self.strip_width) <= _END_EDGE_MARGIN_UM:  # one period longer: same phase, no width-long edge
            length = self._on_grid(target + 2 * math.pi)
        return length

    def realised_phase(self, level: int) -> float:
        """Δφ of the drawn section of ``level`` (rad, not wrapped)."""
        if level == 0:
            return 0.0
        return 2 * self.taper_phase + self.beta_difference * self.wide_length(level)

    def level_phases(self) -> np.ndarray:
        """The drawn phase of every level as k·2π/K plus its grid residual (rad, one per level)."""
        nominal = np.arange(self.levels) * (2 * math.pi / self.levels)
        drawn = np.array([self.realised_phase(k) for k in range(self.levels)])
        return nominal + ((drawn - nominal + math.pi) % (2 * math.pi) - math.pi)

    def section_length(self, level: int) -> float:
        return 0.0 if level == 0 else 2 * self.taper_length + self.wide_length(level)

    def check(self) -> None:
        """The longest section must fit the heater slot, the wide width exceed the strip's, and the 1 nm grid
        resolve the step (the worst residual below half a step, so each drawn level stays nearest its own)."""
        if self.wide_width <= self.strip_width:
            raise OptincError(f"fixed_phases.width: {self.wide_width} µm must exceed device.wg_width "
                              f"{self.strip_width} µm")
        longest = 2 * self.taper_length + 2 * math.pi / self.beta_difference + self.strip_width + _END_EDGE_MARGIN_UM
        if longest > self.slot_length:
            raise OptincError(f"fixed_phases.taper_length: a 2π delay section needs {longest:.3f} µm, more than "
                              f"device.heater_length {self.slot_length} µm")
        worst = self.beta_difference * DBU_UM / 2
        if worst >= math.pi / self.levels:
            raise OptincError(f"fixed_phases.levels: a step of 2π/{self.levels} rad is finer than the 1 nm drawing "
                              f"grid resolves ({self.beta_difference * DBU_UM:.2e} rad per nm of wide section)")


@cache
def _checked_model(strip_width: float, wide_width: float, taper_length: float, levels: int,
                   slot_length: float) -> DelayModel:
    model = DelayModel(strip_width, wide_width, taper_length, levels, slot_length)
    model.check()
    return model
