"""Strip waveguides: straight and the arc S-bend used by couplers and tree connectors."""

from __future__ import annotations

import math
from typing import Any

import gdsfactory as gf
import numpy as np

from optinc_pdk.pdk.cells._cell import geometry_cell, process_layers, rect
from optinc_pdk.pdk.dimensions import connector_length
from optinc_pdk.spec.geometry import DeviceGeometry, arc_sbend

#: Largest distance between a drawn bend edge and the true arc (µm): half the 1 nm grid.
ARC_TOLERANCE_UM = 0.0005


def add_optical_port(c: gf.Component, name: str, x: float, y: float, orientation: float, width: float) -> None:
    c.add_port(name, center=(x, y), width=width, orientation=orientation, layer=process_layers().wg, port_type="optical")


@geometry_cell
def straight(length: float = 10.0, geometry: dict[str, Any] | None = None) -> gf.Component:
    """Straight strip waveguide from o1 (0, 0) west to o2 (length, 0) east."""
    g = DeviceGeometry(**geometry)
    if length <= 0:
        raise ValueError(f"straight length={length} must be > 0")
    w = g.wg_width
    c = gf.Component()
    c.add_polygon(rect(0, -w / 2, length, w / 2), layer=process_layers().wg)
    add_optical_port(c, "o1", 0, 0, 180, w)
    add_optical_port(c, "o2", length, 0, 0, w)
    return c


def _arc_points(radius: float, angle: float, width: float) -> int:
    """Segments per arc so that the outer edge departs from the true arc by <= ARC_TOLERANCE_UM."""
    step = 2 * math.acos(1 - ARC_TOLERANCE_UM / (radius + width / 2))
    return max(1, math.ceil(angle / step))


def sbend_outline(dx: float, dy: float, width: float) -> np.ndarray:
    """Polygon (N x 2, µm) of the arc S-bend from (0, 0) to (dx, dy), both ends pointing east."""
    bend = arc_sbend(dx, dy)
    if bend.angle == 0:
        return np.array(rect(0, -width / 2, dx, width / 2), dtype=float)
    sign = math.copysign(1.0, dy)
    # first half: arc (centre at (0, sign·R)) then half of the straight; the second half is the
    # first one reflected through the bend's midpoint (dx/2, dy/2)
    a = np.linspace(0.0, bend.angle, _arc_points(bend.radius, bend.angle, width) + 1)
    centre = np.stack([bend.radius * np.sin(a), sign * bend.radius * (1 - np.cos(a))], axis=1)
    heading = sign * a
    if bend.straight > 0:
        end = centre[-1] + bend.straight / 2 * np.array([math.cos(heading[-1]), math.sin(heading[-1])])
        centre = np.vstack([centre, end])
        heading = np.append(heading, heading[-1])
    normal = np.stack([-np.sin(heading), np.cos(heading)], axis=1) * (width / 2)
    left, right = centre + normal, centre - normal
    mid = np.array([dx / 2, dy / 2])
    left_2 = (2 * mid - right)[::-1][1:]  # left edge of the second half (drop the duplicated midpoint)
    right_2 = (2 * mid - left)[::-1][1:]
    return np.vstack([left, left_2, right_2[::-1], right[::-1]])


@geometry_cell
def sbend(dx: float | None = None, dy: float = 25.0, geometry: dict[str, Any] | None = None) -> gf.Component:
    """Circular-arc S-bend from o1 (0, 0) to o2 (dx, dy); dx defaults to the tree connector length."""
    g = DeviceGeometry(**geometry)
    dx = connector_length(g) if dx is None else dx
    bend = arc_sbend(dx, dy)
    if bend.radius < g.bend_radius:
        raise ValueError(f"sbend dx={dx}, dy={dy} needs radius {bend.radius:.3f} < bend_radius={g.bend_radius}")
    c = gf.Component()
    c.add_polygon(sbend_outline(dx, dy, g.wg_width), layer=process_layers().wg)
    add_optical_port(c, "o1", 0, 0, 180, g.wg_width)
    add_optical_port(c, "o2", dx, dy, 0, g.wg_width)
    return c
