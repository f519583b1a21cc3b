"""Die-level cells of the floorplan: the die outline with its name, and the edge coupler at its facet.

Both are placed *by name* (``die_frame``, ``edge_coupler``), so a foundry PDK adapter can swap in
its own (a foundry die template, its edge coupler or grating coupler).
"""

from __future__ import annotations

from typing import Any

import gdsfactory as gf

from optinc_pdk.pdk.cells._cell import geometry_cell, rect
from optinc_pdk.pdk.cells.waveguides import add_optical_port
from optinc_pdk.pdk.dimensions import EDGE_COUPLER_LENGTH_UM, EDGE_COUPLER_TIP_UM
from optinc_pdk.pdk.tech import LAYER
from optinc_pdk.spec.geometry import DeviceGeometry

#: Height of the die label's polygon letters: 2 % of the die's shorter side, at least 20 µm, so the
#: name reads at whole-die zoom in KLayout; inset by half that from the top-left corner.
LABEL_FRACTION = 0.02
LABEL_MIN_UM = 20.0


@geometry_cell
def die_frame(width: float = 1000.0, height: float = 1000.0, label: str = "die",
              geometry: dict[str, Any] | None = None) -> gf.Component:
    """The die: its area on FLOORPLAN (corner at (0, 0)) and its name in polygon letters on TEXT, top left.

    No optical ports: light enters and leaves the die through its edge couplers.
    """
    c = gf.Component()
    c.add_polygon(rect(0, 0, width, height), layer=LAYER.FLOORPLAN)
    size = max(LABEL_MIN_UM, LABEL_FRACTION * min(width, height))
    text = c << gf.components.text(label, size=size, layer=LAYER.TEXT)
    text.dmove((size / 2, height - 1.5 * size))
    return c


@geometry_cell
def edge_coupler(facet: str = "west", geometry: dict[str, Any] | None = None) -> gf.Component:
    """Inverse taper from the strip width (o1, on chip) to a narrow tip at the die facet (o2).

    ``facet="west"``: the tip at x = 0, o1 at x = length facing east; ``"east"``: mirrored.
    """
    if facet not in ("west", "east"):
        raise ValueError(f"edge_coupler facet={facet!r}: west or east")
    g = DeviceGeometry(**geometry)
    length, wide, tip = EDGE_COUPLER_LENGTH_UM, g.wg_width / 2, EDGE_COUPLER_TIP_UM / 2
    points = [(0, -tip), (length, -wide), (length, wide), (0, tip)]
    if facet == "east":
        points = [(length - x, y) for x, y in points]
    c = gf.Component()
    c.add_polygon(points, layer=LAYER.WG)
    chip_x, facet_x = (length, 0) if facet == "west" else (0, length)
    add_optical_port(c, "o1", chip_x, 0, 0 if facet == "west" else 180, g.wg_width)
    add_optical_port(c, "o2", facet_x, 0, 180 if facet == "west" else 0, EDGE_COUPLER_TIP_UM)
    return c
