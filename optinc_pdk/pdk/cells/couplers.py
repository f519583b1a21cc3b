"""Directional coupler (50:50), 1x2 MMI splitter and its mirror, the 2x1 combiner."""

from __future__ import annotations

from typing import Any

import gdsfactory as gf

from optinc_pdk.errors import OptincError
from optinc_pdk.pdk.cells._cell import geometry_cell
from optinc_pdk.pdk.cells.waveguides import add_optical_port, sbend, straight
from optinc_pdk.pdk.dimensions import dc_length, splitter_length, splitter_output_offset
from optinc_pdk.pdk.tech import strip
from optinc_pdk.spec.geometry import DeviceGeometry


@geometry_cell
def dc_coupler(spacing: float | None = None, geometry: dict[str, Any] | None = None) -> gf.Component:
    """Symmetric directional coupler; ports one ``spacing`` apart (default mode_pitch).

    o1 (0, 0) lower-west, o2 (0, spacing) upper-west, o3 (dc_length, spacing) upper-east,
    o4 (dc_length, 0) lower-east. S-bends of length sbend_length bring the arms to
    ``coupler_gap`` for ``coupler_length``. Drawn flat: it is a leaf with its own model.
    """
    g = DeviceGeometry(**geometry)
    spacing = g.mode_pitch if spacing is None else spacing
    dy = (spacing - g.coupler_gap - g.wg_width) / 2
    if dy <= 0:
        raise ValueError(f"dc_coupler spacing={spacing} must exceed coupler_gap + wg_width")
    bend_in = sbend(dx=g.sbend_length, dy=dy, geometry=geometry)
    bend_out = sbend(dx=g.sbend_length, dy=-dy, geometry=geometry)
    coupled = straight(length=g.coupler_length, geometry=geometry)
    x_mid, x_out = g.sbend_length, g.sbend_length + g.coupler_length
    c = gf.Component()
    for y0, sign in ((0.0, 1), (spacing, -1)):  # lower arm rises, upper arm falls to the gap
        first, last = (bend_in, bend_out) if sign > 0 else (bend_out, bend_in)
        c.add_ref(first).dmove((0, y0))
        c.add_ref(coupled).dmove((x_mid, y0 + sign * dy))
        c.add_ref(last).dmove((x_out, y0 + sign * dy))
    c.flatten()
    length, w = dc_length(g), g.wg_width
    add_optical_port(c, "o1", 0, 0, 180, w)
    add_optical_port(c, "o2", 0, spacing, 180, w)
    add_optical_port(c, "o3", length, spacing, 0, w)
    add_optical_port(c, "o4", length, 0, 0, w)
    return c


def _mmi(g: DeviceGeometry) -> gf.Component:
    return gf.components.mmi1x2(
        width_taper=g.mmi_taper_width,
        length_taper=g.mmi_taper_length,
        length_mmi=g.mmi_length,
        width_mmi=g.mmi_width,
        gap_mmi=g.mmi_gap,
        cross_section=strip(width=g.wg_width, radius=g.bend_radius),
    )


def _checked_ratio(ratio: float) -> float:
    if not 0.0 < float(ratio) < 1.0:
        raise OptincError(f"ratio: a splitter's power share must lie strictly between 0 and 1, got {ratio!r}")
    return float(ratio)


@geometry_cell
def splitter_1x2(ratio: float = 0.5, geometry: dict[str, Any] | None = None) -> gf.Component:
    """1x2 MMI: o1 (0, 0) west; o2 upper-east and o3 lower-east at ±splitter_output_offset.

    ``ratio`` is the power share of the upper output (trees whose leaf count is not a power of two
    need 2/3, 3/5, ...). It is recorded in the cell's settings, name and ``info`` for the models and
    the netlists; the drawn outline is the symmetric MMI's (same ports and footprint), to be swapped
    for a foundry's tapered splitter of that ratio.
    """
    g = DeviceGeometry(**geometry)
    mmi = _mmi(g)
    c = gf.Component()
    ref = c.add_ref(mmi)
    ref.dmove((-mmi.ports["o1"].dcenter[0], 0))
    c.flatten()
    length, offset, w = splitter_length(g), splitter_output_offset(g), g.wg_width
    add_optical_port(c, "o1", 0, 0, 180, w)
    add_optical_port(c, "o2", length, offset, 0, w)
    add_optical_port(c, "o3", length, -offset, 0, w)
    c.info["ratio"] = _checked_ratio(ratio)
    return c


@geometry_cell
def combiner_2x1(ratio: float = 0.5, geometry: dict[str, Any] | None = None) -> gf.Component:
    """The splitter mirrored: o1 lower-west and o2 upper-west at ±offset, o3 (splitter_length, 0) east.

    ``ratio``: the power share taken from the upper input o2, as for :func:`splitter_1x2`.
    """
    g = DeviceGeometry(**geometry)
    mmi = _mmi(g)
    c = gf.Component()
    ref = c.add_ref(mmi)
    ref.dmirror_x(0)
    ref.dmove((mmi.ports["o2"].dcenter[0], 0))
    c.flatten()
    length, offset, w = splitter_length(g), splitter_output_offset(g), g.wg_width
    add_optical_port(c, "o1", 0, -offset, 180, w)
    add_optical_port(c, "o2", 0, offset, 180, w)
    add_optical_port(c, "o3", length, 0, 0, w)
    c.info["ratio"] = _checked_ratio(ratio)
    return c
