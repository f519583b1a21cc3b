"""Analytic dimensions of the PDK cells, computed from ``DeviceGeometry`` alone (µm).

The layout engine and the area report use these instead of building cells; the tests check
each against the built cell's ``dbbox()``. Cell coordinates: every cell's west optical ports lie
at x = 0 and its bottom channel at y = 0 (see each function for the exact box).
"""

from __future__ import annotations

from typing import NamedTuple

from optinc_pdk.core.topology import group_size, tree_depth
from optinc_pdk.spec.geometry import DeviceGeometry

_DEFAULT = DeviceGeometry()


class Box(NamedTuple):
    xmin: float
    ymin: float
    xmax: float
    ymax: float

    @property
    def width(self) -> float:
        return self.xmax - self.xmin

    @property
    def height(self) -> float:
        return self.ymax - self.ymin


def _g(geometry: DeviceGeometry | None) -> DeviceGeometry:
    return _DEFAULT if geometry is None else geometry


# --- building blocks -----------------------------------------------------------------------

def heater_pad_top(geometry: DeviceGeometry | None = None) -> float:
    """Height of the heater contact pads' top edge above the heated waveguide's centre line."""
    g = _g(geometry)
    return g.heater_pad_offset + g.heater_pad_size


def connector_length(geometry: DeviceGeometry | None = None) -> float:
    """Horizontal length of a tree connector S-bend: 2·bend_radius reaches any vertical offset."""
    return 2 * _g(geometry).bend_radius


def dc_length(geometry: DeviceGeometry | None = None) -> float:
    """Directional coupler length: two S-bends around the interaction section."""
    g = _g(geometry)
    return 2 * g.sbend_length + g.coupler_length


def splitter_length(geometry: DeviceGeometry | None = None) -> float:
    """1x2 MMI splitter (and 2x1 combiner) length: taper, body, taper."""
    g = _g(geometry)
    return 2 * g.mmi_taper_length + g.mmi_length


def splitter_output_offset(geometry: DeviceGeometry | None = None) -> float:
    """Distance of each MMI branch port from the trunk port's y."""
    g = _g(geometry)
    return (g.mmi_gap + g.mmi_taper_width) / 2


def tree_stage_length(geometry: DeviceGeometry | None = None) -> float:
    """One tree stage: a splitter plus the connector to the next stage."""
    return splitter_length(geometry) + connector_length(geometry)


def tree_length(n_leaves: int, geometry: DeviceGeometry | None = None) -> float:
    """Length of a 1→n splitter tree or n→1 combiner tree: ceil(log2 n) stages."""
    return tree_depth(n_leaves) * tree_stage_length(geometry)


def mzi_length(geometry: DeviceGeometry | None = None) -> float:
    """MZI length (mesh and Σ attenuator): φ heater, coupler, θ heater, coupler."""
    g = _g(geometry)
    return 2 * (g.heater_length + dc_length(g))


def mesh_column_pitch(geometry: DeviceGeometry | None = None) -> float:
    """Horizontal pitch of Clements mesh columns: MZIs abut, optical ports at x=0 and x=mzi_length."""
    return mzi_length(geometry)


def mesh_row_pitch(geometry: DeviceGeometry | None = None) -> float:
    """Vertical pitch of MZIs within one mesh column: 2·mode_pitch (each MZI spans modes m, m+1)."""
    return 2 * _g(geometry).mode_pitch


# --- bounding boxes, one per cell (named like the cells) -----------------------------------

def straight_bbox(length: float, geometry: DeviceGeometry | None = None) -> Box:
    w = _g(geometry).wg_width
    return Box(0.0, -w / 2, length, w / 2)


def sbend_bbox(dx: float, dy: float, geometry: DeviceGeometry | None = None) -> Box:
    w = _g(geometry).wg_width
    return Box(0.0, min(0.0, dy) - w / 2, dx, max(0.0, dy) + w / 2)


def phase_shifter_bbox(geometry: DeviceGeometry | None = None) -> Box:
    g = _g(geometry)
    return Box(0.0, -max(g.wg_width, g.heater_width) / 2, g.heater_length, heater_pad_top(g))


def dc_coupler_bbox(spacing: float | None = None, geometry: DeviceGeometry | None = None) -> Box:
    g = _g(geometry)
    spacing = g.mode_pitch if spacing is None else spacing
    return Box(0.0, -g.wg_width / 2, dc_length(g), spacing + g.wg_width / 2)


def _mzi_box(arm_spacing: float, g: DeviceGeometry, heaters: bool = True, lower: int = 0) -> Box:
    """``lower`` of the two heaters on the lower arm: their pads lie between the arms, their strips below y = 0."""
    upper_heaters = heaters and lower < 2
    top = arm_spacing + (max(heater_pad_top(g), g.wg_width / 2) if upper_heaters else g.wg_width / 2)
    bottom = -(max(g.wg_width, g.heater_width) if heaters and lower else g.wg_width) / 2
    return Box(0.0, bottom, mzi_length(g), top)


def mzi2x2_bbox(theta_lower: bool = False, phi_lower: bool = False, geometry: DeviceGeometry | None = None) -> Box:
    """Mesh MZI: ports at y=0 and y=mode_pitch; heater pads above the arm each heater sits on (upper by default)."""
    g = _g(geometry)
    return _mzi_box(g.mode_pitch, g, lower=int(theta_lower) + int(phi_lower))


def mzi_attenuator_bbox(geometry: DeviceGeometry | None = None) -> Box:
    """Σ attenuator MZI: ports at y=0 and y=attenuator_arm_spacing (upper = the attenuated mode)."""
    g = _g(geometry)
    return _mzi_box(g.attenuator_arm_spacing, g)


def mzi2x2_fixed_bbox(geometry: DeviceGeometry | None = None) -> Box:
    """Fixed-phase mesh MZI frame: no pads, so its top is the upper arm's edge."""
    g = _g(geometry)
    return _mzi_box(g.mode_pitch, g, heaters=False)


def mzi_attenuator_fixed_bbox(geometry: DeviceGeometry | None = None) -> Box:
    g = _g(geometry)
    return _mzi_box(g.attenuator_arm_spacing, g, heaters=False)


def phase_delay_bbox(level: int = 0, levels: int = 4096, width: float = 0.8, taper_length: float = 10.0,
                     geometry: DeviceGeometry | None = None) -> Box:
    """Fixed-phase delay in a heater slot: the wide section's half width around y = 0 (the strip's for level 0)."""
    g = _g(geometry)
    half = (g.wg_width if level == 0 else max(width, g.wg_width)) / 2
    return Box(0.0, -half, g.heater_length, half)


def splitter_1x2_bbox(geometry: DeviceGeometry | None = None) -> Box:
    g = _g(geometry)
    return Box(0.0, -g.mmi_width / 2, splitter_length(g), g.mmi_width / 2)


def combiner_2x1_bbox(geometry: DeviceGeometry | None = None) -> Box:
    return splitter_1x2_bbox(geometry)


def _channels_box(n_channels: int, length: float, g: DeviceGeometry) -> Box:
    return Box(0.0, -g.wg_width / 2, length, (n_channels - 1) * g.mode_pitch + g.wg_width / 2)


def splitter_tree_bbox(n_outputs: int, geometry: DeviceGeometry | None = None) -> Box:
    """1→n tree; output channel j at y = (n−1−j)·mode_pitch, the input at the root's y."""
    g = _g(geometry)
    return _channels_box(n_outputs, tree_length(n_outputs, g), g)


def combiner_tree_bbox(n_inputs: int, geometry: DeviceGeometry | None = None) -> Box:
    g = _g(geometry)
    return _channels_box(n_inputs, tree_length(n_inputs, g), g)


def averager_bbox(
    n_servers: int, bits: int, n_outputs: int, geometry: DeviceGeometry | None = None
) -> Box:
    """N·b/2 input channels at mode_pitch; an attenuator column (only when G > 1), then the trees."""
    g = _g(geometry)
    groups = group_size(bits, n_outputs)
    n_inputs = n_servers * bits // 2
    weighting = mzi_length(g) if groups > 1 else 0.0
    box = _channels_box(n_inputs, weighting + tree_length(n_servers * groups, g), g)
    if groups > 1:  # channel 0 (digit offset 0 < G−1) carries an attenuator whose pads stick out on top
        box = box._replace(ymax=(n_inputs - 1) * g.mode_pitch + heater_pad_top(g))
    return box


def splitter_array_bbox(n_inputs: int, n_servers: int, geometry: DeviceGeometry | None = None) -> Box:
    """M stacked 1→N trees; output channel i·N + s carries input i to server s."""
    g = _g(geometry)
    return _channels_box(n_inputs * n_servers, tree_length(n_servers, g), g)


def bias_injector_bbox(n_modes: int, geometry: DeviceGeometry | None = None) -> Box:
    """1→n tree (none for n = 1) followed by one attenuator MZI per output channel."""
    g = _g(geometry)
    length = (tree_length(n_modes, g) if n_modes > 1 else 0.0) + mzi_length(g)
    return Box(
        0.0,
        -g.attenuator_arm_spacing - g.wg_width / 2,
        length,
        (n_modes - 1) * g.mode_pitch + heater_pad_top(g),
    )


def nonlinear_unit_bbox(geometry: DeviceGeometry | None = None) -> Box:
    g = _g(geometry)
    return Box(0.0, -g.nonlinear_width / 2, g.nonlinear_length, g.nonlinear_width / 2)


# --- die-level cells (floorplan) ------------------------------------------------------------------

#: Fibre-array pitch of the edge couplers (µm): the common 127 µm V-groove array.
FIBRE_PITCH_UM = 127.0
#: Edge coupler: an inverse taper from the strip width down to a tip at the facet (typical SOI
#: edge couplers: 150–200 nm tips, a few hundred µm long; the foundry PDK's cell replaces it by name).
EDGE_COUPLER_LENGTH_UM = 200.0
EDGE_COUPLER_TIP_UM = 0.18


def edge_coupler_length(geometry: DeviceGeometry | None = None) -> float:
    return EDGE_COUPLER_LENGTH_UM


def edge_coupler_bbox(facet: str = "west", geometry: DeviceGeometry | None = None) -> Box:
    """Taper along x from 0 to its length, centred on y = 0; the facet (tip) at x = 0 (west) or the length (east)."""
    half = _g(geometry).wg_width / 2
    return Box(0.0, -half, EDGE_COUPLER_LENGTH_UM, half)


def die_frame_bbox(width: float = 1000.0, height: float = 1000.0, label: str = "die",
                   geometry: DeviceGeometry | None = None) -> Box:
    """The die outline: its corner at (0, 0); the label lies inside."""
    return Box(0.0, 0.0, width, height)
def crossing_bbox(geometry: DeviceGeometry | None = None) -> Box:
    """Crossing centred on its origin: crossing_length square."""
    half = _g(geometry).crossing_length / 2
    return Box(-half, -half, half, half)
