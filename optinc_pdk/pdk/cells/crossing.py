"""Waveguide crossing: four tapered arms, so two routed waveguides cross at 90° through a cell, not an overlap."""

from __future__ import annotations

from typing import Any

import gdsfactory as gf
import numpy as np

from optinc_pdk.pdk.cells._cell import geometry_cell, process_layers
from optinc_pdk.pdk.cells.waveguides import add_optical_port
from optinc_pdk.spec.geometry import DeviceGeometry


def crossing_outline(g: DeviceGeometry) -> np.ndarray:
    """Closed outline (µm), centred on the origin: each arm widens linearly from wg_width at its tip
    (crossing_length/2 from the centre) to crossing_width where it meets its neighbours on the diagonal.

    The widening arm expands the mode before the intersection, so less light scatters into the
    crossing arm (the multimode-taper crossing of the foundry PDKs, e.g. CORNERSTONE's).
    """
    tip, half, core = g.crossing_length / 2, g.wg_width / 2, g.crossing_width / 2
    quarter = [(-half, -tip), (-core, -core), (-tip, -half)]  # south arm's west side, then west arm's south side
    points = []
    for _ in range(4):
        points += quarter
        quarter = [(y, -x) for x, y in quarter]  # rotate by -90°: south → west → north → east
    return np.array(points)


@geometry_cell
def crossing(geometry: dict[str, Any] | None = None) -> gf.Component:
    """Crossing centred on (0, 0): o1 west, o2 north, o3 east, o4 south, each crossing_length/2 from the centre."""
    g = DeviceGeometry(**geometry)
    c = gf.Component()
    c.add_polygon([tuple(p) for p in crossing_outline(g).tolist()], layer=process_layers().wg)
    tip, w = g.crossing_length / 2, g.wg_width
    for name, x, y, orientation in (("o1", -tip, 0, 180), ("o2", 0, tip, 90), ("o3", tip, 0, 0), ("o4", 0, -tip, 270)):
        add_optical_port(c, name, x, y, orientation, w)
    return c
