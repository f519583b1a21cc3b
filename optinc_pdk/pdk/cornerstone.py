"""CORNERSTONE 220 nm SOI (cspdk 2.1, ``cspdk.si220``) as an optinc process: the same cells, foundry parts.

What the foundry PDK has, it draws (its cells, on its layers, at its C-band strip cross-section):

* ``straight`` → cspdk ``straight`` (``strip_cband``, 450 nm);
* ``dc_coupler`` (the MZI's 50:50 coupler) → cspdk ``mmi2x2`` between two pairs of arc S-bends;
* ``splitter_1x2`` / ``combiner_2x1`` (tree nodes) → cspdk ``mmi1x2`` (mirrored for the combiner);
* ``phase_shifter`` → cspdk ``straight`` under cspdk ``heater`` (the Cornerstone heater cell,
  filament on HEATER 39/0, leads and contact pads on PAD 41/0, pads above the arm);
* the MPW die frame a design is mounted on → cspdk ``die_with_pads`` (outline 99/0, grating
  couplers, 62 bond pads);
* the floorplan's ``die_frame`` → cspdk ``die`` (the outline on 99/0) and the die's name on LBL;
  its ``edge_coupler`` → cspdk ``taper`` from the strip width to the facet tip (an inverse taper).

Everything else (MZIs, attenuators, trees, averager, bias injector, the arc S-bend, the
nonlinear-unit placeholder) is the optinc composition of those, drawn on cspdk's layers
(``LAYERS``). The analytic geometry (``cornerstone_geometry``) is read from the same cspdk
cells (port positions, default parameters), so plan, footprint and drawing agree.

cspdk is imported lazily (``pip install .[cornerstone]``): importing this module does not need it.
"""

from __future__ import annotations

import inspect
from functools import cache
from pathlib import Path
from typing import Any

import gdsfactory as gf

from optinc_pdk.errors import OptincError
from optinc_pdk.pdk.cells._cell import Process, ProcessLayers, register_process
from optinc_pdk.pdk.cells.couplers import _checked_ratio
from optinc_pdk.pdk.cells.die import add_die_label
from optinc_pdk.pdk.cells.waveguides import add_optical_port, sbend
from optinc_pdk.pdk.dimensions import EDGE_COUPLER_LENGTH_UM, splitter_length, splitter_output_offset
from optinc_pdk.pdk.rules import edge_coupler_tip_um
from optinc_pdk.spec.geometry import LENGTH_GRID_UM, DeviceGeometry

CHOICE = "cornerstone-si220"  # the --pdk value
PDK_NAME = "cspdk.si220"  # cspdk's gf.Pdk name
CROSS_SECTION = "strip_cband"  # cspdk's C-band strip waveguide
#: cspdk.si220.tech.LAYER: WG, HEATER, PAD; the nonlinear placeholder and texts go on the label layer
#: LBL (100/0), the one designated MPW layer that is information only (nothing there is fabricated).
#: The die outline on FLOORPLAN (99/0), where cspdk's ``die`` draws it.
LAYERS = ProcessLayers(wg=(3, 0), heater=(39, 0), metal=(41, 0), nonlinear=(100, 0), text=(100, 0), floorplan=(99, 0))
INSTALL_HINT = "pip install '.[cornerstone]' (cspdk 2.1, Python >= 3.12)"


def cspdk():
    """The ``cspdk.si220`` module, or one line saying how to install it."""
    try:
        import cspdk.si220 as si220
    except ImportError as error:
        raise OptincError(f"--pdk {CHOICE} needs the CORNERSTONE PDK cspdk ({error}): {INSTALL_HINT}") from None
    return si220


def _g(geometry: dict[str, Any] | None) -> DeviceGeometry:
    return DeviceGeometry(**geometry)


# --- the cells cspdk draws -----------------------------------------------------------------


def straight(length: float = 10.0, geometry: dict[str, Any] | None = None) -> gf.Component:
    """cspdk's straight, o1 (0, 0) west to o2 (length, 0) east (its width is the process's)."""
    if length <= 0:
        raise ValueError(f"straight length={length} must be > 0")
    c = gf.Component()
    c.add_ref(cspdk().cells.straight(length=length, cross_section=CROSS_SECTION))
    w = _g(geometry).wg_width
    add_optical_port(c, "o1", 0, 0, 180, w)
    add_optical_port(c, "o2", length, 0, 0, w)
    return c


def phase_shifter(phase: float = 0.0, geometry: dict[str, Any] | None = None) -> gf.Component:
    """cspdk's straight under cspdk's ``heater``, sized to the optinc phase-shifter footprint.

    The heater's filament covers the arm (heater_length x heater_width); its leads are one
    filament wide and climb straight to square contact pads (heater_pad_size) whose bottom edge
    is heater_pad_offset above the arm, so the cell tiles like the optinc phase shifter. e1/e2:
    the pads' top edges, facing north. ``phase`` is recorded only (phases are never geometry).
    """
    g = _g(geometry)
    si220 = cspdk()
    c = gf.Component()
    c.add_ref(si220.cells.straight(length=g.heater_length, cross_section=CROSS_SECTION))
    heater = si220.cells.heater(
        length=g.heater_length, width=g.heater_width, lead_length=g.heater_pad_offset - g.heater_width / 2,
        lead_width=g.heater_width, pad_size=(g.heater_pad_size, g.heater_pad_size),
        pad_pitch=g.heater_length - g.heater_pad_size, pad_taper_length=0.0,
    )
    ref = c.add_ref(heater, name="heater")
    for name in ("e1", "e2"):
        c.add_port(name, port=ref.ports[name])
    add_optical_port(c, "o1", 0, 0, 180, g.wg_width)
    add_optical_port(c, "o2", g.heater_length, 0, 0, g.wg_width)
    c.info["phase"] = float(phase)
    return c


def dc_coupler(spacing: float | None = None, geometry: dict[str, Any] | None = None) -> gf.Component:
    """cspdk's ``mmi2x2`` fed by arc S-bends: ports o1..o4 where the optinc coupler has them.

    coupler_length is the MMI's port-to-port length and coupler_gap + wg_width its port
    separation (``cornerstone_geometry``), so the S-bends of the optinc coupler land on its ports.
    """
    g = _g(geometry)
    spacing = g.mode_pitch if spacing is None else spacing
    dy = (spacing - g.coupler_gap - g.wg_width) / 2
    if dy <= 0:
        raise ValueError(f"dc_coupler spacing={spacing} must exceed the mmi2x2 port separation")
    mmi = cspdk().cells.mmi2x2(cross_section=CROSS_SECTION)
    c = gf.Component()
    ref = c.add_ref(mmi, name="mmi")
    lower_west = ref.ports["o1"].dcenter
    ref.dmove((g.sbend_length - lower_west[0], dy - lower_west[1]))
    x_out = g.sbend_length + g.coupler_length
    for y0, sign in ((0.0, 1), (spacing, -1)):
        c.add_ref(sbend(dx=g.sbend_length, dy=sign * dy, geometry=geometry)).dmove((0, y0))
        c.add_ref(sbend(dx=g.sbend_length, dy=-sign * dy, geometry=geometry)).dmove((x_out, y0 + sign * dy))
    length, w = x_out + g.sbend_length, g.wg_width
    add_optical_port(c, "o1", 0, 0, 180, w)
    add_optical_port(c, "o2", 0, spacing, 180, w)
    add_optical_port(c, "o3", length, spacing, 0, w)
    add_optical_port(c, "o4", length, 0, 0, w)
    return c


def _node(ratio: float, geometry: dict[str, Any] | None, mirrored: bool) -> gf.Component:
    g = _g(geometry)
    mmi = cspdk().cells.mmi1x2(cross_section=CROSS_SECTION)
    c = gf.Component()
    ref = c.add_ref(mmi, name="mmi")
    if mirrored:
        ref.dmirror_x(0)
        ref.dmove((mmi.ports["o2"].dcenter[0], 0))
    else:
        ref.dmove((-mmi.ports["o1"].dcenter[0], 0))
    length, offset, w = splitter_length(g), splitter_output_offset(g), g.wg_width
    if mirrored:
        add_optical_port(c, "o1", 0, -offset, 180, w)
        add_optical_port(c, "o2", 0, offset, 180, w)
        add_optical_port(c, "o3", length, 0, 0, w)
    else:
        add_optical_port(c, "o1", 0, 0, 180, w)
        add_optical_port(c, "o2", length, offset, 0, w)
        add_optical_port(c, "o3", length, -offset, 0, w)
    # the drawn MMI is the symmetric foundry one; the ratio is recorded for the models (as in optinc)
    c.info["ratio"] = _checked_ratio(ratio)
    return c


def splitter_1x2(ratio: float = 0.5, geometry: dict[str, Any] | None = None) -> gf.Component:
    """cspdk's ``mmi1x2``: o1 (0, 0) west; o2/o3 east at ±splitter_output_offset."""
    return _node(ratio, geometry, mirrored=False)


def combiner_2x1(ratio: float = 0.5, geometry: dict[str, Any] | None = None) -> gf.Component:
    """cspdk's ``mmi1x2`` mirrored: o1/o2 west at ∓offset, o3 east at y = 0."""
    return _node(ratio, geometry, mirrored=True)


def edge_coupler(facet: str = "west", geometry: dict[str, Any] | None = None) -> gf.Component:
    """cspdk's ``taper`` from the strip width (o1, on chip) to the facet tip (o2): the optinc edge coupler's
    ports and box (``dimensions.edge_coupler_bbox``); ``facet="west"``: the tip at x = 0, ``"east"``: at the length."""
    if facet not in ("west", "east"):
        raise ValueError(f"edge_coupler facet={facet!r}: west or east")
    g = _g(geometry)
    length = EDGE_COUPLER_LENGTH_UM
    tip = edge_coupler_tip_um(CHOICE)
    taper = cspdk().cells.taper(length=length, width1=g.wg_width, width2=tip,
                                cross_section=CROSS_SECTION)  # its wide end o1 at x = 0, its tip o2 at the length
    c = gf.Component()
    ref = c.add_ref(taper, name="taper")
    if facet == "west":
        ref.dmirror_x(0)
        ref.dmove((length, 0))
    chip_x, facet_x = (length, 0) if facet == "west" else (0, length)
    add_optical_port(c, "o1", chip_x, 0, 0 if facet == "west" else 180, g.wg_width)
    add_optical_port(c, "o2", facet_x, 0, 180 if facet == "west" else 0, tip)
    return c


def die_frame(width: float = 1000.0, height: float = 1000.0, label: str = "die",
              geometry: dict[str, Any] | None = None) -> gf.Component:
    """cspdk's ``die`` outline (FLOORPLAN 99/0), its corner moved to (0, 0), and the die's name on LBL."""
    c = gf.Component()
    c.add_ref(cspdk().cells.die(size=(width, height)), name="outline").dmove((width / 2, height / 2))
    add_die_label(c, label, width, height)
    return c


PROCESS = register_process(Process(
    PDK_NAME, LAYERS, suffix="_cs",
    drawings={f.__name__: f for f in (straight, phase_shifter, dc_coupler, splitter_1x2, combiner_2x1, edge_coupler,
                                      die_frame)},
))


# --- geometry, die, activation -------------------------------------------------------------


def _on_grid(value: float) -> float:
    return round(round(value / LENGTH_GRID_UM) * LENGTH_GRID_UM, 6)


def _defaults(func) -> dict[str, Any]:
    return {k: p.default for k, p in inspect.signature(func).parameters.items()}


@cache
def foundry_geometry() -> dict[str, float]:
    """The DeviceGeometry fields cspdk fixes, read from its cells (µm, on the 2 nm length grid).

    Cross-section width and bend radius from ``strip_cband``; coupler length and port separation
    from ``mmi2x2``'s ports; the 1x2 MMI's taper, body and output offset from ``mmi1x2``'s
    ports and defaults; heater length and filament width from ``heater``'s defaults (the
    Cornerstone heater cell).
    """
    si220 = cspdk()
    try:
        previous = gf.get_active_pdk()
    except ValueError:  # none active
        previous = None
    activate()
    try:  # the cells need cspdk active; whatever was active before is again afterwards
        xs = gf.get_cross_section(CROSS_SECTION)
        m2 = si220.cells.mmi2x2(cross_section=CROSS_SECTION)
        m1 = si220.cells.mmi1x2(cross_section=CROSS_SECTION)
    finally:
        if previous is not None:
            previous.activate()
    m1_defaults, heater = _defaults(si220.cells.mmi1x2), _defaults(si220.cells.heater)
    p2 = {p.name: p.dcenter for p in m2.ports}
    p1 = {p.name: p.dcenter for p in m1.ports}
    taper, taper_width = m1_defaults["length_taper"], m1_defaults["width_taper"]
    values = {
        "wg_width": xs.width,
        "bend_radius": xs.radius,
        "coupler_length": p2["o3"][0] - p2["o1"][0],
        "coupler_gap": (p2["o2"][1] - p2["o1"][1]) - xs.width,
        "mmi_taper_length": taper,
        "mmi_length": (p1["o2"][0] - p1["o1"][0]) - 2 * taper,
        "mmi_taper_width": taper_width,
        "mmi_gap": (p1["o2"][1] - p1["o3"][1]) - taper_width,
        "mmi_width": m1.dbbox().height(),
        "heater_length": heater["length"],
        "heater_width": heater["width"],
    }
    return {k: _on_grid(v) for k, v in values.items()}


def cornerstone_geometry(device: DeviceGeometry) -> DeviceGeometry:
    """``device`` with the fields the foundry fixes (``foundry_geometry``) replaced; the layout choices
    (mode_pitch, sbend_length, heater pads, spacing) stay the scenario's. One line when they no longer fit."""
    try:
        return DeviceGeometry(**{**device.model_dump(), **foundry_geometry()})
    except ValueError as error:
        first = str(error).splitlines()
        raise OptincError(f"device: does not fit --pdk {CHOICE}'s cells: {' '.join(first[1:3]) or first[0]}") from None


def activate() -> gf.Pdk:
    """Activate cspdk's gf.Pdk (the optinc cells then draw for this process) and return it."""
    pdk = cspdk().PDK
    pdk.activate()
    return pdk


def mpw_frame(size: tuple[float, float], fibre_pitch: float, n_fibres: int) -> gf.Component:
    """The MPW die frame a design is mounted on (``layout/die.py``): cspdk's ``die_with_pads`` of ``size`` µm:
    outline 99/0, ``n_fibres`` fibre ports (grating couplers at ``fibre_pitch``, half per side, outermost pair
    of each side looped back), bond pads along the top and bottom edges: its 31 a side (62) where they fit
    (the full cell), fewer on a narrower die."""
    si220 = cspdk()
    d = _defaults(si220.cells.die_with_pads)
    pad_width = d["pad_size"][0]
    room = size[0] - 2 * abs(d["pad_offset_x"]) - 2 * d["edge_to_pad_distance"] - pad_width
    pads = max(0, min(d["npads"], int(room // d["pad_pitch"]) + 1))
    return si220.cells.die_with_pads(size=size, grating_pitch=fibre_pitch, ngratings=n_fibres // 2 + 2, npads=pads)


def write_layer_views(folder: Path) -> Path:
    """cspdk's layer views (its layers.yaml) as a KLayout .lyp in ``folder``, written atomically."""
    from optinc_pdk.core.atomic import atomic_path

    path = Path(folder) / "cornerstone_si220.lyp"
    with atomic_path(path) as tmp:
        cspdk().LAYER_VIEWS.to_lyp(tmp)
    return path


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {"cspdk": version("cspdk"), "gdsfactory": version("gdsfactory")}
