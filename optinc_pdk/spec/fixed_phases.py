"""How ``optinc build --phases fixed`` draws a phase: a scenario's ``fixed_phases:`` block.

A fixed phase is a waveguide delay section in place of the heater: over the heater's slot the strip
widens through a linear taper to ``width``, runs wide for a length set by the phase, and tapers back.
Every phase is quantised to 2π/``levels`` first. Not device dimensions (``device:``), so a tunable
build's cells never see these fields.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator

from optinc_pdk.spec.geometry import on_length_grid


class FixedPhaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    levels: int = Field(
        4096, ge=2, le=65536,
        description="phase steps per 2π (12 bits: 1.53 mrad steps). The quantisation is the same on every chip, and "
                    "b8n4's shipped weights need it this fine: measured on its exhaustive dataset, 2π/256 decides 90.4 % "
                    "of the samples right, 2π/1024 99.91 %, 2π/2048 99.989 %, 2π/4096 all (docs/fixed_phases.md). The "
                    "1 nm drawing grid resolves about 2π/6366 (pdk/delay.py), so finer steps are refused")
    width: float = Field(0.8, gt=0, description="strip width of the delay's wide section (µm); n_eff 2.69 against "
                         "2.45 at 0.5 µm, so 2π takes 6.4 µm of it")
    taper_length: float = Field(10.0, gt=0, description="each linear taper between the strip and the wide "
                                "section (µm): 0.15 µm of width change over 10 µm is adiabatic for TE0")

    @property
    def step(self) -> float:
        """The phase quantisation step (rad)."""
        return 2 * math.pi / self.levels

    @field_validator("width", "taper_length")
    @classmethod
    def _on_grid(cls, value: float) -> float:
        return on_length_grid(value)
