"""Thermo-optic phase shifter: a strip waveguide under a TiN heater with two contact pads."""

from __future__ import annotations

from typing import Any

import gdsfactory as gf

from optinc_pdk.pdk.cells._cell import geometry_cell, rect
from optinc_pdk.pdk.cells.waveguides import add_optical_port
from optinc_pdk.pdk.tech import LAYER
from optinc_pdk.spec.geometry import DeviceGeometry


@geometry_cell
def phase_shifter(phase: float = 0.0, geometry: dict[str, Any] | None = None) -> gf.Component:
    """Heated waveguide, o1 (0, 0) west to o2 (heater_length, 0) east.

    The heater strip runs over the whole waveguide; a leg at each end climbs to a square
    contact pad (HEATER under METAL) whose top edge carries the electrical ports e1 (west)
    and e2 (east), facing north. Its phase is set at run time, never drawn: ``phase`` is recorded
    in the settings and ``info`` for netlists and models only.
    """
    g = DeviceGeometry(**geometry)
    length, w, hw = g.heater_length, g.wg_width, g.heater_width
    pad, offset = g.heater_pad_size, g.heater_pad_offset
    top = offset + pad
    c = gf.Component()
    c.add_polygon(rect(0, -w / 2, length, w / 2), layer=LAYER.WG)
    heater_outline = [
        (0, -hw / 2), (length, -hw / 2), (length, top), (length - pad, top), (length - pad, offset),
        (length - hw, offset), (length - hw, hw / 2), (hw, hw / 2), (hw, offset), (pad, offset), (pad, top), (0, top),
    ]
    c.add_polygon(heater_outline, layer=LAYER.HEATER)
    for name, x0 in (("e1", 0.0), ("e2", length - pad)):
        c.add_polygon(rect(x0, offset, x0 + pad, top), layer=LAYER.METAL)
        c.add_port(
            name, center=(x0 + pad / 2, top), width=pad, orientation=90, layer=LAYER.METAL, port_type="electrical"
        )
    add_optical_port(c, "o1", 0, 0, 180, w)
    add_optical_port(c, "o2", length, 0, 0, w)
    c.info["phase"] = float(phase)
    return c
