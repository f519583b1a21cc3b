"""U-turn bundles of a folded die: row k's east edge to row k+1's west edge, crossing-free (numpy only).

A folded die holds consecutive slices of the chain in rows, top to bottom, each flowing west to
east. Signal i of a cut (heights in descending order, the same order on both sides of the cut)
leaves row k eastward, turns down on its own vertical leg east of the row, runs west on its own
lane between the two rows, turns down on its own leg at the die's west side, and enters row
k + 1 eastward. Every signal keeps its rank: the top signal takes the outermost path (the
easternmost leg, the lowest lane, the westernmost leg), so the paths are nested rectangles with
rounded corners and never cross. Corners are quarter turns of the bend radius (the router's arc
cell); legs and lanes are ``FOLD_PITCH_UM`` apart.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.layout.plan import Wires
from optinc_pdk.spec.geometry import DeviceGeometry

#: Centre-to-centre spacing of the U-turns' legs and lanes (µm): a 4.5 µm gap between 0.5 µm strips,
#: far beyond the evanescent coupling length of 220 nm SOI (the mode pitch, 50 µm, is for cells).
FOLD_PITCH_UM = 5.0
#: Clearance between a U-turn and the rows' bounding boxes (µm); also keeps every straight longer
#: than a waveguide width (an end edge as long as the width would read back as an open end).
FOLD_CLEAR_UM = 25.0


def west_room(n: int, g: DeviceGeometry) -> float:
    """x from the die's west edge to where a row fed by an n-signal U-turn may begin."""
    return 2 * FOLD_CLEAR_UM + max(n - 1, 0) * FOLD_PITCH_UM + g.bend_radius


def east_room(n: int, g: DeviceGeometry) -> float:
    """Width an n-signal U-turn needs east of the row it leaves, to the die's east edge."""
    return g.bend_radius + 2 * FOLD_CLEAR_UM + max(n - 1, 0) * FOLD_PITCH_UM


def lane_gap(n: int, g: DeviceGeometry) -> float:
    """Vertical distance between the bottom of row k and the top of row k + 1 for an n-signal U-turn."""
    return 4 * g.bend_radius + 2 * FOLD_CLEAR_UM + max(n - 1, 0) * FOLD_PITCH_UM


def uturns(east_y: np.ndarray, east_x: float, row_right: float, west_y: np.ndarray, west_x: float,
           row_bottom: float, g: DeviceGeometry) -> Wires:
    """The U-turn bundle (die frame): from ports (east_x, east_y[i]) of row k, whose box ends at
    ``row_right`` and ``row_bottom``, to ports (west_x, west_y[i]) of row k + 1; both descending."""
    n, r, p, c = east_y.size, g.bend_radius, FOLD_PITCH_UM, FOLD_CLEAR_UM
    outer = (n - 1 - np.arange(n)) * p  # signal 0 (top) takes the outermost path
    x_east = row_right + r + c + outer
    lane = row_bottom - 2 * r - c - outer
    x_west = c + outer
    segments = np.concatenate([
        np.stack([np.full(n, east_x), x_east - r, east_y], 1),
        np.stack([x_west + r, x_east - r, lane], 1),
        np.stack([x_west + r, np.full(n, west_x), west_y], 1),
    ])
    verticals = np.concatenate([np.stack([x_east, east_y - r, lane + r], 1), np.stack([x_west, lane - r, west_y + r], 1)])
    corners = np.concatenate([
        np.stack([x_east - r, east_y, np.zeros(n)], 1), np.stack([x_east, lane + r, np.ones(n)], 1),
        np.stack([x_west + r, lane, np.full(n, 2.0)], 1), np.stack([x_west, west_y + r, np.full(n, 3.0)], 1),
    ])
    starts = np.stack([np.full(n, east_x), east_y], 1)
    ends = np.stack([np.full(n, west_x), west_y], 1)
    return Wires(segments, np.zeros((0, 3)), 2 * r, starts, ends, verticals=verticals, corners=corners)
