"""Default device dimensions, stated in one place (µm).

Plausible for a 220 nm silicon-on-insulator strip-waveguide platform with TiN thermo-optic
heaters at 1550 nm. A scenario's ``device:`` block may override any field; the PDK cells, the
layout and the analytic footprint (``optinc_pdk.pdk.dimensions``) all read this model, so they
cannot disagree. The validators reject combinations the cells could not draw (bends tighter than
``bend_radius``, heater pads running into the next mesh row, off-grid coordinates).

This module must stay free of gdsfactory imports: scenario loading validates against it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Every length is a multiple of this (µm): the 1 nm database unit, doubled so that the
#: midpoints the cells compute (tree nodes, coupler centres) stay on the 1 nm grid.
LENGTH_GRID_UM = 0.002


class ArcSBend(NamedTuple):
    """An S-bend of two opposite circular arcs (radius, angle) joined by a straight."""

    radius: float
    angle: float  # radians, each arc; 0 < angle <= pi/2
    straight: float  # length of the straight between the arcs (along the bend at `angle`)


def arc_sbend(dx: float, dy: float) -> ArcSBend:
    """The S-bend that offsets a waveguide by ``dy`` over exactly ``dx``, both ends horizontal.

    For |dy| <= dx two arcs meet with no straight (radius (dx² + dy²)/(4|dy|), the gentlest
    two-arc S-bend); for |dy| > dx the arcs turn a full 90° with radius dx/2 and a vertical
    straight makes up the rest, so the bend never bulges outside its dx × dy box.
    """
    if dx <= 0:
        raise ValueError(f"S-bend length dx={dx} must be > 0")
    ady = abs(dy)
    if ady == 0:
        return ArcSBend(radius=math.inf, angle=0.0, straight=dx)
    if ady <= dx:
        return ArcSBend(radius=(dx * dx + ady * ady) / (4 * ady), angle=2 * math.atan2(ady, dx), straight=0.0)
    return ArcSBend(radius=dx / 2, angle=math.pi / 2, straight=ady - dx)


_LENGTH_FIELDS = (
    "wg_width", "bend_radius", "heater_width", "heater_length", "heater_pad_size", "heater_pad_offset",
    "coupler_length", "coupler_gap", "sbend_length", "mode_pitch", "attenuator_arm_spacing",
    "mmi_width", "mmi_length", "mmi_taper_length", "mmi_taper_width", "mmi_gap",
    "nonlinear_length", "nonlinear_width", "pad_pitch", "stage_gap", "crossing_length", "crossing_width",
)


def on_length_grid(value: float) -> float:
    """``value`` (µm) when it is a whole number of layout grid steps; a pydantic validator raises otherwise."""
    steps = value / LENGTH_GRID_UM
    if abs(steps - round(steps)) > 1e-6:
        raise ValueError(f"{value} µm is not a multiple of {LENGTH_GRID_UM} µm (2 nm grid)")
    return value


class DeviceGeometry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    # waveguides
    wg_width: float = Field(0.5, gt=0, description="strip waveguide width (500 nm x 220 nm Si)")
    bend_radius: float = Field(10.0, gt=0, description="minimum waveguide bend radius; tree connectors use it")
    # thermo-optic phase shifters
    heater_width: float = Field(2.0, gt=0, description="TiN heater strip width over the waveguide")
    heater_length: float = Field(100.0, gt=0, description="thermo-optic phase shifter (heater) length")
    heater_pad_size: float = Field(10.0, gt=0, description="square heater contact pad (HEATER + METAL) side")
    heater_pad_offset: float = Field(
        10.0, gt=0, description="distance from the heated waveguide's centre line up to the contact pads"
    )
    # 50:50 directional coupler
    coupler_length: float = Field(20.0, gt=0, description="directional coupler interaction length (50:50)")
    coupler_gap: float = Field(0.2, gt=0, description="directional coupler gap (edge to edge)")
    sbend_length: float = Field(40.0, gt=0, description="horizontal length of each directional-coupler S-bend")
    # mesh placement
    mode_pitch: float = Field(
        50.0, gt=0, description="pitch between adjacent optical modes; the mesh MZI's two ports are one pitch apart"
    )
    attenuator_arm_spacing: float = Field(
        25.0, gt=0, description="arm spacing of the Σ attenuator MZI, narrower than a pitch so a Σ column stacks"
    )
    # 1x2 MMI splitter / 2x1 combiner
    mmi_width: float = Field(2.5, gt=0, description="1x2 MMI body width")
    mmi_length: float = Field(5.5, gt=0, description="1x2 MMI body length")
    mmi_taper_length: float = Field(10.0, gt=0, description="MMI access taper length")
    mmi_taper_width: float = Field(1.0, gt=0, description="MMI access taper width at the body")
    mmi_gap: float = Field(0.25, gt=0, description="gap between the two MMI output tapers")
    # waveguide crossing (the router places one wherever two routed waveguides cross)
    crossing_length: float = Field(
        9.24, gt=0, description="waveguide crossing, tip to tip (CORNERSTONE Run-50 C-band strip crossing: 9.24 µm)"
    )
    crossing_width: float = Field(1.848, gt=0, description="crossing arm width at the centre (tapered multimode arms)")
    # nonlinear unit (black box)
    nonlinear_length: float = Field(100.0, gt=0, description="nonlinear-unit placeholder footprint length")
    nonlinear_width: float = Field(30.0, gt=0, description="nonlinear-unit placeholder footprint width")
    # layout-level spacing (used by the layout engine, not by the PDK cells)
    pad_pitch: float = Field(100.0, gt=0, description="electrical pad pitch for heater routing")
    stage_gap: float = Field(100.0, ge=0, description="horizontal gap between layout stages for routing")

    @field_validator(*_LENGTH_FIELDS)
    @classmethod
    def _on_grid(cls, value: float) -> float:
        return on_length_grid(value)

    @model_validator(mode="after")
    def _drawable(self) -> DeviceGeometry:
        pad_top = self.heater_pad_offset + self.heater_pad_size
        checks = [
            (self.heater_pad_offset > self.heater_width / 2,
             f"heater_pad_offset={self.heater_pad_offset} must exceed heater_width/2={self.heater_width / 2}"),
            (self.heater_pad_size >= self.heater_width,
             f"heater_pad_size={self.heater_pad_size} must be >= heater_width={self.heater_width}"),
            (2 * self.heater_pad_size < self.heater_length,
             f"two heater pads (2*heater_pad_size={2 * self.heater_pad_size}) must fit in "
             f"heater_length={self.heater_length}"),
            (pad_top + self.wg_width / 2 < self.mode_pitch,
             f"heater pads reach {pad_top} above the arm: heater_pad_offset + heater_pad_size + wg_width/2 must be "
             f"< mode_pitch={self.mode_pitch} so MZIs tile at row pitch 2*mode_pitch"),
            (self.coupler_gap + self.wg_width < self.attenuator_arm_spacing <= self.mode_pitch,
             f"attenuator_arm_spacing={self.attenuator_arm_spacing} must lie in "
             f"(coupler_gap + wg_width, mode_pitch={self.mode_pitch}]"),
            (self.attenuator_arm_spacing + pad_top + self.wg_width / 2 < self.mode_pitch,
             f"attenuator_arm_spacing + heater_pad_offset + heater_pad_size + wg_width/2 = "
             f"{self.attenuator_arm_spacing + pad_top + self.wg_width / 2} must be < mode_pitch={self.mode_pitch} "
             "so a Σ column of attenuators stacks at the mode pitch"),
            (self.mmi_gap + 2 * self.mmi_taper_width <= self.mmi_width,
             f"mmi_gap + 2*mmi_taper_width must be <= mmi_width={self.mmi_width}"),
            (self.wg_width < self.crossing_width < self.crossing_length,
             f"crossing_width={self.crossing_width} must lie between wg_width={self.wg_width} and "
             f"crossing_length={self.crossing_length}"),
            (self.nonlinear_width < self.mode_pitch,
             f"nonlinear_width={self.nonlinear_width} must be < mode_pitch={self.mode_pitch} (one unit per mode)"),
        ]
        for spacing_name in ("mode_pitch", "attenuator_arm_spacing"):
            dy = (getattr(self, spacing_name) - self.coupler_gap - self.wg_width) / 2
            if dy > 0:
                radius = arc_sbend(self.sbend_length, dy).radius
                checks.append((
                    radius >= self.bend_radius,
                    f"directional-coupler S-bend for {spacing_name} has radius {radius:.3f} < bend_radius="
                    f"{self.bend_radius}: increase sbend_length",
                ))
        failures = [message for ok, message in checks if not ok]
        if failures:
            raise ValueError("; ".join(failures))
        return self
