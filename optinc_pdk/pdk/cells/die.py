"""Die-level cells of the floorplan: the die outline with its name, and the edge coupler at its facet.

Both are placed *by name* (``die_frame``, ``edge_coupler``) and draw on the active process's layers,
so a foundry process swaps in its own drawing (``Process.drawings``: CORNERSTONE's ``die`` outline
and ``taper``, ``pdk/cornerstone.py``) and the floorplan stays one code path for every PDK.
"""

from __future__ import annotations

from typing import Any

import gdsfactory as gf

from optinc_pdk.pdk.cells._cell import geometry_cell, process_layers, rect
from optinc_pdk.pdk.cells.waveguides import add_optical_port
from optinc_pdk.pdk.dimensions import EDGE_COUPLER_LENGTH_UM
from optinc_pdk.pdk.rules import edge_coupler_tip_um
from optinc_pdk.spec.geometry import DeviceGeometry

#: Height of the die label's polygon letters: 2 % of the die's shorter side, at least 20 µm, so the
#: name reads at whole-die zoom in KLayout; inset by half that from the top-left corner.
LABEL_FRACTION = 0.02
LABEL_MIN_UM = 20.0


@geometry_cell
def die_frame(width: float = 1000.0, height: float = 1000.0, label: str = "die",
              geometry: dict[str, Any] | None = None) -> gf.Component:
    """The die: its area on the floorplan layer (corner at (0, 0)) and its name in polygon letters on the
    text layer, top left.

    No optical ports: light enters and leaves the die through its edge couplers.
    """
    c = gf.Component()
    c.add_polygon(rect(0, 0, width, height), layer=process_layers().floorplan)
    add_die_label(c, label, width, height)
    return c


def add_die_label(c: gf.Component, label: str, width: float, height: float) -> None:
    """The die's name in polygon letters on the process's text layer, inset from the top-left corner."""
    size = max(LABEL_MIN_UM, LABEL_FRACTION * min(width, height))
    text = c << gf.components.text(label, size=size, layer=process_layers().text)
    text.dmove((size / 2, height - 1.5 * size))


@geometry_cell
def edge_coupler(facet: str = "west", geometry: dict[str, Any] | None = None) -> gf.Component:
    """Inverse taper from the strip width (o1, on chip) to a narrow tip at the die facet (o2).

    ``facet="west"``: the tip at x = 0, o1 at x = length facing east; ``"east"``: mirrored.
    """
    if facet not in ("west", "east"):
        raise ValueError(f"edge_coupler facet={facet!r}: west or east")
    g = DeviceGeometry(**geometry)
    length, wide, tip = EDGE_COUPLER_LENGTH_UM, g.wg_width / 2, edge_coupler_tip_um("optinc") / 2
    points = [(0, -tip), (length, -wide), (length, wide), (0, tip)]
    if facet == "east":
        points = [(length - x, y) for x, y in points]
    c = gf.Component()
    c.add_polygon(points, layer=process_layers().wg)
    chip_x, facet_x = (length, 0) if facet == "west" else (0, length)
    add_optical_port(c, "o1", chip_x, 0, 0 if facet == "west" else 180, g.wg_width)
    add_optical_port(c, "o2", facet_x, 0, 180 if facet == "west" else 0, 2 * tip)
    return c
