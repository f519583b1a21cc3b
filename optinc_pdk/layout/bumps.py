"""Flip-chip bumps (``--pads bumps:PITCH``): every heater end on a bump of its own, through a via and the RDL.

A flip-chip photonic die carries, above its heater metal, a via layer (VIA1), one redistribution metal
(M2, the RDL) and the under-bump metallisation (UBM) of a square bump array; the package (or the
electronic die it is bonded to) drives each signal bump and joins the ground bumps in its ground plane.
Here, on the optinc PDK (``pdk/rules.py`` states the rules and where they come from):

* **the array**: bump sites at PITCH µm over the die (or over the design without ``--die``), one GDS
  array (AREF) of a bump cell: an M2 capture pad and a UBM octagon half a pitch across (a microbump is
  about half its pitch wide), enclosed by 1 µm of M2. Unused sites are the dummy bumps a flip-chip
  array keeps for even bonding. Sites available = columns × rows, floor arithmetic on the box;
* **the terminals**: each heater's signal end and its ground end (``layout/heaters.py``'s rule: the
  east end is ground, or the end two heaters share, which then is one ground terminal of both). A
  terminal is the contact pad above that end; a VIA1 at its centre goes up to M2;
* **the assignment**: each terminal takes the site whose pitch cell holds its via. The grid's offset
  is chosen (per axis, from the terminals' positions modulo the pitch: the middle of the widest gap)
  so that every via lies at least ``margin`` (half the RDL trace plus half the M2 spacing) inside its
  cell's border. The RDL of a terminal is one rectangle: the bounding box of the via's landing square
  and a trace-wide square at the site's centre, which overlaps the capture pad. Both squares lie at
  least half the M2 spacing inside the cell, so the rectangle does too (a box is convex), and so does the
  capture pad (half a pitch plus two enclosures, at most the pitch less the spacing at any pitch the rules
  allow, ``min_bump_pitch``): **shapes of two cells are at least one M2 spacing apart, and no trace can
  cross another**. The rectangle and the capture pad overlap, so their union has no notch (two
  overlapping boxes are orthogonally convex);
* **what makes a die unroutable**: two terminals in one cell (a finer pitch may separate them), a via
  outside the array, or no grid offset with the margin. The build then writes the layout without the
  routes and the report says which (``HeaterRoutingError``, as for perimeter pads).

Ground bumps carry a ``GND`` text on the text layer; the nets extracted from the written file
(``layout/nets.py``) read them. Everything is drawn flat in one routes cell per die from numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import gdsfactory as gf
import klayout.db as kdb
import numpy as np

from optinc_pdk.layout.heaters import HeaterRoutingError, ground_ends, heater_points
from optinc_pdk.pdk.rules import layer_map, min_bump_pitch, rule_value

DBU_UM = 0.001
GROUND_TEXT = "GND"  # the label on each ground bump (the package's ground plane joins them)


@dataclass(frozen=True)
class BumpGeometry:
    """Drawn sizes (µm) at one pitch, from the PDK's rules table."""

    pitch: float
    via: float  # VIA1 side: the rule's minimum width
    enclosure: float  # M2 around a via and around a UBM: half the M2 minimum width
    trace: float  # the RDL landing square and trace width: via + 2 enclosures
    ubm: float  # UBM octagon across flats: half the pitch
    capture: float  # M2 capture pad side: UBM + 2 enclosures
    space: float  # M2 minimum spacing
    layers: dict

    @classmethod
    def of(cls, pitch: float, pdk: str = "optinc") -> BumpGeometry:
        least = min_bump_pitch(pdk)
        if pitch < least:
            raise HeaterRoutingError(f"--pads bumps:{pitch:g}: the {pdk} rules need a pitch of at least {least:g} µm "
                                     "(a bump half a pitch across, UBM width and space, pdk/rules.py)")
        via, enclosure = rule_value(pdk, "width", "VIA1"), rule_value(pdk, "width", "M2") / 2
        ubm = round(pitch / 2, 3)
        return cls(pitch, via, enclosure, via + 2 * enclosure, ubm, ubm + 2 * enclosure,
                   max(rule_value(pdk, "space", "M2"), rule_value(pdk, "space", "VIA1")), layer_map(pdk))

    @property
    def margin(self) -> float:
        """How far inside its cell's border a via must lie: its landing (half a trace) and half the spacing."""
        return self.trace / 2 + self.space / 2


# --- terminals ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Terminals:
    xy: np.ndarray  # (k, 2) µm: via positions (contact pad centres); signals first, one per heater, then grounds
    heaters: int

    @property
    def grounds(self) -> int:
        return len(self.xy) - self.heaters


def terminals(points: np.ndarray) -> Terminals:
    """Signal and ground contact of every heater: the perimeter router's rule (``heaters.ground_ends``)."""
    n = len(points)
    west_ground, node = ground_ends(points[:, :2])
    signal = np.where(west_ground[:, None], points[:, 3], points[:, 2])
    _, first = np.unique(node, return_index=True)
    ground = np.where(west_ground[first, None], points[first, 2], points[first, 3])
    return Terminals(np.concatenate([signal, ground]).reshape(-1, 2), n)


# --- the site grid ----------------------------------------------------------------------------------

def _clear_offset(u: np.ndarray, pitch: float) -> tuple[float, float]:
    """(border offset in [0, pitch), its clearance): the middle of the widest gap of ``u`` modulo the pitch."""
    r = np.unique(np.round(np.mod(u, pitch), 3))
    if not len(r):
        return 0.0, pitch / 2
    gaps = np.diff(np.r_[r, r[0] + pitch])
    k = int(gaps.argmax())
    return float((r[k] + gaps[k] / 2) % pitch), float(gaps[k] / 2)


@dataclass(frozen=True)
class SiteGrid:
    """Bump sites over ``box``: centres ``origin + (i, j) * pitch``, ``columns`` × ``rows`` (µm, on the grid)."""

    origin: tuple[float, float]  # centre of site (0, 0)
    pitch: float
    columns: int
    rows: int

    @property
    def sites(self) -> int:
        return self.columns * self.rows

    @classmethod
    def over(cls, box: kdb.DBox, pitch: float, xy: np.ndarray) -> SiteGrid:
        """The grid over ``box`` whose cell borders keep clearest of the terminals ``xy``."""
        ox, _ = _clear_offset(xy[:, 0] - box.left, pitch)
        oy, _ = _clear_offset(xy[:, 1] - box.bottom, pitch)
        centre = [round(round((edge + o + pitch / 2) / DBU_UM) * DBU_UM, 3) for edge, o in ((box.left, ox),
                                                                                         (box.bottom, oy))]
        columns = int(np.floor((box.right - (centre[0] - pitch / 2)) / pitch + 1e-9))
        rows = int(np.floor((box.top - (centre[1] - pitch / 2)) / pitch + 1e-9))
        return cls((centre[0], centre[1]), pitch, max(columns, 0), max(rows, 0))

    def assign(self, xy: np.ndarray, margin: float) -> np.ndarray:
        """(k, 2) site indices of the terminals: each the cell that holds it; why not, as HeaterRoutingError."""
        rel = (xy - np.array(self.origin)) / self.pitch + 0.5
        ij = np.floor(rel).astype(np.int64)
        inside = (ij >= 0).all(axis=1) & (ij[:, 0] < self.columns) & (ij[:, 1] < self.rows)
        if not inside.all():
            x, y = xy[~inside][0]
            raise HeaterRoutingError(f"bump routing: the heater contact at ({x:g}, {y:g}) µm lies outside the "
                                     f"{self.columns} x {self.rows} bump array")
        edge = np.minimum(rel - ij, ij + 1 - rel).min(axis=1) * self.pitch
        if len(edge) and edge.min() < margin - 1e-9:
            x, y = xy[edge.argmin()]
            raise HeaterRoutingError(f"bump routing: the heater contact at ({x:g}, {y:g}) µm lies {edge.min():.3g} µm "
                                     f"from its bump cell's border, its RDL needs {margin:g} µm (pitch {self.pitch:g})")
        flat = ij[:, 0] * self.rows + ij[:, 1]
        _, first, counts = np.unique(flat, return_index=True, return_counts=True)
        if len(counts) and counts.max() > 1:
            site = flat[first[counts.argmax()]]
            (x1, y1), (x2, y2) = xy[np.flatnonzero(flat == site)[:2]]
            raise HeaterRoutingError(f"bump routing: the heater contacts at ({x1:g}, {y1:g}) and ({x2:g}, {y2:g}) µm "
                                     f"fall in one {self.pitch:g} µm bump cell (a finer pitch may separate them)")
        return ij


# --- drawing ----------------------------------------------------------------------------------------

def _box_region(lo: np.ndarray, hi: np.ndarray) -> kdb.Region:
    """One box per row of ``lo``/``hi`` (database units)."""
    return kdb.Region([kdb.Box(*row) for row in np.hstack([lo, hi]).tolist()])


def bump_cell(g: BumpGeometry) -> gf.Component:
    """One bump site centred on (0, 0): M2 capture pad and a UBM octagon (reused by every array of this pitch)."""
    name = f"flip_chip_bump_{round(g.pitch / DBU_UM)}nm"
    existing = gf.kcl.layout.cell(name)
    if existing is not None:
        return gf.kcl[existing.cell_index()]
    c = gf.Component(name=name)
    half = g.capture / 2
    c.add_polygon([(-half, -half), (half, -half), (half, half), (-half, half)], layer=g.layers["M2"])
    a = g.ubm / 2
    b = round(a * np.tan(np.pi / 8), 3)
    c.add_polygon([(-b, -a), (b, -a), (a, -b), (a, b), (b, a), (-b, a), (-a, b), (-a, -b)], layer=g.layers["UBM"])
    return c


def draw_routes(name: str, g: BumpGeometry, grid: SiteGrid, xy: np.ndarray, ij: np.ndarray, ground_from: int,
                text_layer: tuple[int, int]) -> gf.Component:
    """The flat routes cell: a via and one RDL rectangle per terminal, a GND text on each ground site."""
    existing = gf.kcl.layout.cell(name)
    if existing is not None:  # a previous build's routes of this name
        gf.kcl[existing.cell_index()].delete()
    cell = gf.Component(name=name)
    v = np.round(xy / DBU_UM).astype(np.int64)
    centre = np.round(np.array(grid.origin) / DBU_UM).astype(np.int64) + ij * round(grid.pitch / DBU_UM)
    h, t = round(g.via / 2 / DBU_UM), round(g.trace / 2 / DBU_UM)
    cell.shapes(cell.kcl.layer(*g.layers["VIA1"])).insert(_box_region(v - h, v + h))
    cell.shapes(cell.kcl.layer(*g.layers["M2"])).insert(_box_region(np.minimum(v, centre) - t,
                                                                     np.maximum(v, centre) + t))
    texts = cell.shapes(cell.kcl.layer(*text_layer))
    for x, y in centre[ground_from:].tolist():
        texts.insert(kdb.Text(GROUND_TEXT, kdb.Trans(x, y)))
    return cell


def route_bumps(top: gf.Component, pitch: float, box: kdb.DBox, text_layer: tuple[int, int], pdk: str = "optinc",
                created: list | None = None) -> dict:
    """Bump array over ``box`` in ``top`` and every heater under ``top`` routed to a bump of its own.

    Returns the routing's record (sites, bumps used, heaters); ``routed`` False and ``why`` when a heater
    cannot take a bump (the array is drawn all the same: it is what the die offers)."""
    g = BumpGeometry.of(pitch, pdk)
    try:
        terms, why = terminals(heater_points(top.kcl.layout, top.kdb_cell, pad_centres=True)), None
    except HeaterRoutingError as error:  # a heater drawn another way or a chain of three: the array alone
        terms, why = Terminals(np.zeros((0, 2)), 0), str(error)
    grid = SiteGrid.over(box, pitch, terms.xy)
    p = round(pitch / DBU_UM)
    origin = kdb.Trans(*(round(c / DBU_UM) for c in grid.origin))
    bump = bump_cell(g)
    if grid.sites:
        top.kdb_cell.insert(kdb.CellInstArray(bump.cell_index(), origin, kdb.Vector(p, 0), kdb.Vector(0, p),
                                              grid.columns, grid.rows))
    record = {"pitch_um": pitch, "sites": grid.sites, "columns": grid.columns, "rows": grid.rows,
              "origin_um": list(grid.origin), "heaters": terms.heaters, "signal_bumps": terms.heaters,
              "ground_bumps": terms.grounds, "bumps_needed": len(terms.xy), "bump_um": g.ubm}
    try:
        if why is not None:
            raise HeaterRoutingError(why)
        ij = grid.assign(terms.xy, g.margin)
    except HeaterRoutingError as error:
        return {**record, "routed": False, "bumps_used": 0, "why": str(error)}
    if len(ij):
        routes = draw_routes(f"{top.name}_bump_routes", g, grid, terms.xy, ij, terms.heaters, text_layer)
        top.kdb_cell.insert(kdb.CellInstArray(routes.cell_index(), kdb.Trans()))
        if created is not None:
            created.append(routes)
    return {**record, "routed": True, "bumps_used": len(ij)}
