"""Default device dimensions, stated in one place (µm).

Plausible for a 220 nm silicon-on-insulator platform with TiN thermo-optic heaters at 1550 nm.
A scenario's ``device:`` block may override any field; the PDK cells, the layout and the
analytic footprint all read this model, so they cannot disagree.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DeviceGeometry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    wg_width: float = Field(0.5, gt=0, description="strip waveguide width")
    bend_radius: float = Field(10.0, gt=0, description="minimum waveguide bend radius")
    heater_width: float = Field(2.0, gt=0, description="TiN heater width")
    heater_length: float = Field(100.0, gt=0, description="thermo-optic phase shifter length")
    coupler_length: float = Field(20.0, gt=0, description="directional coupler interaction length (50:50)")
    coupler_gap: float = Field(0.2, gt=0, description="directional coupler gap")
    mode_pitch: float = Field(50.0, gt=0, description="pitch between adjacent optical modes (waveguides) in a mesh")
    mzi_arm_spacing: float = Field(50.0, gt=0, description="vertical distance between the two arms of an MZI")
    splitter_length: float = Field(15.0, gt=0, description="1x2 MMI splitter / 2x1 combiner length")
    nonlinear_length: float = Field(100.0, gt=0, description="nonlinear-unit placeholder footprint length")
    pad_pitch: float = Field(100.0, gt=0, description="electrical pad pitch for heater routing")
    stage_gap: float = Field(100.0, ge=0, description="horizontal gap between layout stages for routing")
