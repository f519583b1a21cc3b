"""Fixed-phase delay section: a widened stretch of strip waveguide in a heater's slot (``--phases fixed``)."""

from __future__ import annotations

from typing import Any

import gdsfactory as gf

from optinc_pdk.pdk.cells._cell import geometry_cell, process_layers
from optinc_pdk.pdk.cells.waveguides import add_optical_port
from optinc_pdk.pdk.delay import DelayModel
from optinc_pdk.spec.fixed_phases import FixedPhaseSpec
from optinc_pdk.spec.geometry import LENGTH_GRID_UM, DeviceGeometry


@geometry_cell(childless=True)
def phase_delay(level: int = 0, levels: int = 4096, width: float = 0.8, taper_length: float = 10.0,
                geometry: dict[str, Any] | None = None) -> gf.Component:
    """Delay of phase level·2π/levels (``pdk/delay.py``), o1 (0, 0) west to o2 (heater_length, 0) east.

    One polygon on the waveguide layer: strip, linear taper to ``width``, the wide section, the
    mirror taper, strip; centred in the slot (on the 2 nm grid). Level 0 is a plain strip.
    """
    g = DeviceGeometry(**geometry)
    model = DelayModel.of(FixedPhaseSpec(levels=levels, width=width, taper_length=taper_length), g)
    slot, w0, w1 = g.heater_length, g.wg_width / 2, width / 2
    wide = model.wide_length(level)
    c = gf.Component()
    if level == 0:
        outline = [(0, -w0), (slot, -w0)]
    else:
        x0 = round((slot - model.section_length(level)) / 2 / LENGTH_GRID_UM) * LENGTH_GRID_UM
        xs = (0.0, x0, x0 + taper_length, x0 + taper_length + wide, x0 + 2 * taper_length + wide, slot)
        outline = [(xs[0], -w0), (xs[1], -w0), (xs[2], -w1), (xs[3], -w1), (xs[4], -w0), (xs[5], -w0)]
    upper = [(x, -y) for x, y in reversed(outline)]
    c.add_polygon(outline + upper, layer=process_layers().wg)
    add_optical_port(c, "o1", 0, 0, 180, g.wg_width)
    add_optical_port(c, "o2", slot, 0, 0, g.wg_width)
    c.info["phase"] = model.realised_phase(level)
    return c
