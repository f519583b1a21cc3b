"""Nonlinear-unit placeholder: a black box on its own layer, to be replaced by the real device."""

from __future__ import annotations

from typing import Any

import gdsfactory as gf

from optinc_pdk.pdk.cells._cell import geometry_cell, process_layers, rect
from optinc_pdk.pdk.cells.waveguides import add_optical_port
from optinc_pdk.spec.geometry import DeviceGeometry

LABEL = "nonlinear_unit"


@geometry_cell
def nonlinear_unit(geometry: dict[str, Any] | None = None) -> gf.Component:
    """nonlinear_length x nonlinear_width box on the process's nonlinear layer, labelled on its text layer;
    o1 (0, 0) west, o2 east."""
    g = DeviceGeometry(**geometry)
    length, width = g.nonlinear_length, g.nonlinear_width
    layers = process_layers()
    c = gf.Component()
    c.add_polygon(rect(0, -width / 2, length, width / 2), layer=layers.nonlinear)
    c.add_label(LABEL, position=(length / 2, 0), layer=layers.text)
    add_optical_port(c, "o1", 0, 0, 180, g.wg_width)
    add_optical_port(c, "o2", length, 0, 0, g.wg_width)
    return c
