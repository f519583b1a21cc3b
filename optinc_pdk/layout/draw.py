"""Draw plans as gdsfactory cells: one cell per plan key, arrays as real GDS AREFs.

Every prim and every arrayed placement is one ``add_ref(columns=, rows=, column_pitch=,
row_pitch=)`` — an AREF record, never one reference per element. A composite's waveguides go
into a child cell ``wires_<key>`` (polygons drawn here with klayout, not gdsfactory routes),
whose ports ``in{i}``/``out{i}`` are the two ends of signal i, so ``get_netlist`` sees every
connection of a composite. Where two routed waveguides cross, their straights stop short and the
PDK's ``crossing`` cell joins them (the crossings of one track at one pitch as one array, and the
equal pieces between them as one array of a piece cell: ``pieces.py``).
Ports are added through kfactory's port objects directly (gdsfactory's ``add_port`` costs
~0.3 ms each, and a 1024-mode mesh has 2048).

Drawn cells are cached for the process by (geometry, plan key): content-hashed names make a
second build of the same geometry reuse the first build's cells.
"""

from __future__ import annotations

from typing import Any

import gdsfactory as gf
import kfactory as kf
import klayout.db as kdb
import numpy as np

from optinc_pdk.layout import pieces
from optinc_pdk.layout.plan import Plan, cell_names, digest
from optinc_pdk.pdk.adapters import DEFAULT_PDK, PdkAdapter, get_adapter
from optinc_pdk.pdk.cells.waveguides import ARC_TOLERANCE_UM, sbend_outline
from optinc_pdk.pdk.ports import east_port, west_port
from optinc_pdk.spec.geometry import DeviceGeometry

_DRAWN: dict[tuple[str, str], gf.Component] = {}
#: cell name → (PDK, geometry key, plan key) of every plan cell drawn in this process. Each PDK names its cells
#: in its own namespace (another PDK's names end in its suffix, "_cs"), so drawing on one PDK never renames the
#: cells of another.
_NAMES: dict[str, tuple[str, str, str]] = {}

#: Cells whose plan extends further than this from the plan origin are drawn centred (µm; GDS: ±2147 mm).
COORDINATE_LIMIT_UM = 1.0e6


def arc_outline(g: DeviceGeometry) -> np.ndarray:
    """Polygon of a quarter-circle waveguide bend, (0, 0) east → (R, R) north, centre (0, R).

    Segments as fine as the PDK's S-bends (edge within ARC_TOLERANCE_UM of the true arc).
    """
    r, half = g.bend_radius, g.wg_width / 2
    step = 2 * np.arccos(1 - ARC_TOLERANCE_UM / (r + half))
    a = np.linspace(0.0, np.pi / 2, max(2, int(np.ceil((np.pi / 2) / step))) + 1)
    outer = np.stack([(r + half) * np.sin(a), r - (r + half) * np.cos(a)], axis=1)
    inner = np.stack([(r - half) * np.sin(a), r - (r - half) * np.cos(a)], axis=1)
    return np.vstack([outer, inner[::-1]])


#: Quarter turns of a U-turn (``Wires.corners`` kinds), from the arc cell (east → north, (0, 0) to (R, R)):
#: (transformation, offset of its origin from the turn's start in units of R).
_TURNS = {0: (kdb.DTrans.M0, 0, 0), 1: (kdb.DTrans.R0, -1, -1), 2: (kdb.DTrans.R180, 0, 0), 3: (kdb.DTrans.M90, 1, -1)}


def floorplan_only(plan: Plan) -> bool:
    """Cells only a die build draws (slices of plans, fan-outs) get no ports: inner cells' ports serve
    gdsfactory netlists, which a die build does not write, and never reach the file; a slice of a
    1024-mode mesh has 2048 (b8n16_full on dies: 320 000 ports, 15 of its 21 s of drawing)."""
    return plan.kind in ("fanout", "uturns") or "slice_of" in plan.info


def plan_origin(plan: Plan) -> tuple[float, float]:
    """Where the plan's (0, 0) lies in its cell: the cell is centred when it is too big for GDS.

    GDS and OASIS store 32-bit coordinates: at 1 nm that is ±2.147 m from a cell's origin, and
    an un-approximated 16-server OptINC is 2.5 m long. Such a cell is drawn centred on its
    origin (its parent places it accordingly); smaller cells keep the plan's frame.
    """
    box = plan.bbox
    if box is None or max(abs(box.xmin), abs(box.xmax), abs(box.ymin), abs(box.ymax)) <= COORDINATE_LIMIT_UM:
        return 0.0, 0.0
    return float(round((box.xmin + box.xmax) / 2)), float(round((box.ymin + box.ymax) / 2))


class Drawer:
    def __init__(self, geometry: DeviceGeometry, adapter: PdkAdapter | None = None) -> None:
        self.adapter = adapter or get_adapter()
        self.adapter.activate()
        self.cells = self.adapter.cells
        self.geometry = geometry
        # the default PDK keeps its historical key (cell names); another PDK's name enters the key
        json = geometry.model_dump_json()
        self.gkey = digest(json) if self.adapter.name == DEFAULT_PDK else digest(self.adapter.name, json)
        self._pdk: dict[tuple[str, tuple], gf.Component] = {}
        probe = self.cells["straight"](length=geometry.mode_pitch, geometry=geometry)
        self.cross_section = probe.ports["o1"].base.cross_section
        self.kcl = probe.kcl
        self.wg_layer = self.kcl.layer(*self.adapter.layers.wg)
        self._port_info = kf.Info()
        self.names: dict[str, str] = {}

    def release(self, name: str, key: str) -> None:
        """Free the cell name ``name`` for the plan ``key``: a cell of that name drawn for another plan
        (a previous die build in this process) is deleted and forgotten."""
        existing = self.kcl.layout.cell(name)
        if existing is None or _NAMES.get(name) == key:
            return
        for cached, cell in list(_DRAWN.items()):
            if not cell._destroyed() and cell.cell_index() == existing.cell_index():
                del _DRAWN[cached]
        _NAMES.pop(name, None)
        self.kcl[existing.cell_index()].delete()

    def drawn_names(self, root: Plan) -> dict[str, str]:
        """Plan key → name of its drawn cell, for every plan under ``root`` (drawn or cached)."""
        names, pending = {}, [root]
        while pending:
            plan = pending.pop()
            if plan.key not in names:
                names[plan.key] = self.cell(plan).name
                pending.extend(place.plan for place in plan.children)
        return names

    def name_cells(self, root: Plan) -> None:
        """Fix the cell names of ``root``'s plans before drawing (``plan.cell_names``): readable where unique."""
        pdk, suffix = self.adapter.name, self.adapter.cell_suffix
        taken = {name[:len(name) - len(suffix)]: key for name, (owner, _, key) in _NAMES.items()
                 if owner == pdk and name.endswith(suffix)}
        names = {key: name + suffix for key, name in cell_names(root, taken).items()}
        for key, name in names.items():  # the same plan already drawn with another geometry: add this one's key
            if _NAMES.get(name, (pdk, self.gkey, key)) != (pdk, self.gkey, key):
                names[key] = f"{name}_{self.gkey[:8]}"
        self.names = names

    # --- cells -----------------------------------------------------------------------------

    def pdk_cell(self, name: str, params: tuple[tuple[str, Any], ...]) -> gf.Component:
        key = (name, params)
        if key not in self._pdk:
            self._pdk[key] = self.cells[name](**dict(params), geometry=self.geometry)
        return self._pdk[key]

    def origin(self, plan: Plan) -> tuple[float, float]:
        return plan_origin(plan)

    def cell(self, plan: Plan) -> gf.Component:
        """The layout cell of ``plan`` (drawn once per process and geometry), in the frame of ``origin(plan)``."""
        key = (self.gkey, plan.key)
        if key in _DRAWN:
            return _DRAWN[key]
        children = [self.cell(place.plan) for place in plan.children]  # draw bottom-up
        ox, oy = self.origin(plan)
        name = self.names.get(plan.key) or f"{plan.name}_{plan.key[:8]}{self.adapter.cell_suffix}"
        _NAMES.setdefault(name, (self.adapter.name, self.gkey, plan.key))
        c = gf.Component(name=name)
        try:
            for prim in plan.prims:
                ref = c.add_ref(self.pdk_cell(prim.cell, prim.params), columns=prim.columns, rows=prim.rows,
                                column_pitch=prim.column_pitch, row_pitch=prim.row_pitch)
                ref.dmove((prim.x - ox, prim.y - oy))
            for place, child in zip(plan.children, children):
                cx, cy = self.origin(place.plan)
                ref = c.add_ref(child, name=place.name, columns=place.columns, rows=place.rows,
                                column_pitch=place.column_pitch, row_pitch=place.row_pitch)
                ref.dmove((place.x + cx - ox, place.y + cy - oy))
            if plan.wires is not None and not plan.wires.empty:
                c.add_ref(self.wires_cell(plan, name, ox, oy), name="wires")
            n_in, n_out = plan.west_y.size, plan.east_y.size
            if not floorplan_only(plan):
                self.set_ports(c, [([west_port(i, n_in) for i in range(n_in)], -ox, plan.west_y - oy, 2),
                                   ([east_port(j, n_in, n_out) for j in range(n_out)], plan.width - ox,
                                    plan.east_y - oy, 0)])
            c.info.update({"kind": plan.kind, "mzis": plan.mzis, **plan.info})
        except BaseException:
            c.delete()
            raise
        _DRAWN[key] = c
        return c

    def arc_cell(self) -> gf.Component:
        """Quarter-circle bend of radius bend_radius, (0, 0) heading east to (R, R) heading north.

        Every routed net turns with two instances of this one cell (mirrored/rotated), so a
        channel of thousands of nets stores one arc polygon, not thousands of S-bend outlines.
        """
        g = self.geometry
        key = (self.gkey, "arc")
        if key not in _DRAWN:
            c = gf.Component(name=f"route_arc_R{g.bend_radius:g}_{self.gkey[:8]}")
            c.shapes(self.wg_layer).insert(kdb.DPolygon([kdb.DPoint(x, y) for x, y in arc_outline(g).tolist()]))
            _DRAWN[key] = c
        return _DRAWN[key]

    def wires_cell(self, plan: Plan, owner: str, ox: float, oy: float) -> gf.Component:
        """The composite's waveguides, drawn in its cell's frame (plan frame shifted by −(ox, oy))."""
        wires = plan.wires
        g = self.geometry
        c = gf.Component(name=f"wires_{owner}")
        try:
            half, r = g.wg_width / 2, g.bend_radius
            shapes = c.shapes(self.wg_layer)
            segments = wires.segments - (ox, ox, oy)
            bends = wires.bends - (ox, oy, 0.0)
            crossings = wires.crossing_xy - (ox, oy)
            tracks = []  # the vertical straight of each two-turn bend: x, y from, y to
            arc_index, cell = self.arc_cell().cell_index(), c.kdb_cell
            for x0, y0, dy in bends.tolist():
                if abs(dy) < 2 * r:  # too small for two quarter turns: one S-bend outline
                    pts = sbend_outline(wires.bend_length, dy, g.wg_width) + (x0, y0)
                    shapes.insert(kdb.DPolygon([kdb.DPoint(px, py) for px, py in pts.tolist()]))
                    continue
                y1, xt = y0 + dy, x0 + r
                # up: arc as drawn, then rotated 180°; down: mirrored about x, then about y
                first, second = ((kdb.DTrans.R0, kdb.DTrans.R180) if dy > 0 else (kdb.DTrans.M0, kdb.DTrans.M90))
                # plain klayout instances: the arc has no ports, and add_ref costs 30x more per instance
                cell.insert(kdb.DCellInstArray(arc_index, kdb.DTrans(first, kdb.DVector(x0, y0))))
                cell.insert(kdb.DCellInstArray(arc_index, kdb.DTrans(second, kdb.DVector(xt + r, y1))))
                tracks.append((xt, min(y0, y1) + r, max(y0, y1) - r))
            cut = g.crossing_length / 2
            across = pieces.cut(segments[:, [2, 0, 1]], crossings[:, [1, 0]], cut)  # y, x from, x to
            up = pieces.cut(np.array(tracks).reshape(-1, 3), crossings, cut)  # x, y from, y to
            self.draw_pieces(c, np.concatenate([
                np.stack([across[:, 1], across[:, 0] - half, across[:, 2], across[:, 0] + half], axis=1),
                np.stack([up[:, 0] - half, up[:, 1], up[:, 0] + half, up[:, 2]], axis=1)]))
            self.place_crossings(c, crossings)
            self._draw_uturns(c, wires, ox, oy)
            n = 0 if floorplan_only(plan) else wires.starts.shape[0]
            self.set_ports(c, [([f"in{i}" for i in range(n)], wires.starts[:, 0] - ox, wires.starts[:, 1] - oy, 2),
                               ([f"out{i}" for i in range(n)], wires.ends[:, 0] - ox, wires.ends[:, 1] - oy, 0)])
            c.info.update({"crossings": wires.crossings, "tracks": wires.tracks, "detours": wires.detours})
        except BaseException:
            c.delete()
            raise
        return c

    def _draw_uturns(self, c: gf.Component, wires, ox: float, oy: float) -> None:
        """A folded die's U-turns (``fold.py``): vertical straights, and quarter turns as arc instances."""
        half, r = self.geometry.wg_width / 2, self.geometry.bend_radius
        shapes = c.shapes(self.wg_layer)
        for x, y0, y1 in (wires.verticals - (ox, oy, oy)).tolist():
            shapes.insert(kdb.DBox(x - half, min(y0, y1), x + half, max(y0, y1)))
        arc_index, cell = self.arc_cell().cell_index(), c.kdb_cell
        for x, y, kind in (wires.corners - (ox, oy, 0.0)).tolist():
            rotation, dx, dy = _TURNS[int(kind)]
            cell.insert(kdb.DCellInstArray(arc_index, kdb.DTrans(rotation, kdb.DVector(x + dx * r, y + dy * r))))

    def piece_cell(self, width: int, height: int) -> int:
        """Index of the cell holding one waveguide box of ``width`` × ``height`` dbu, lower left at its origin."""
        key = (self.gkey, f"piece_{width}x{height}")
        if key not in _DRAWN:
            c = gf.Component(name=f"route_piece_{width}x{height}_{self.gkey[:8]}")
            c.shapes(self.wg_layer).insert(kdb.Box(0, 0, width, height))
            _DRAWN[key] = c
        return _DRAWN[key].cell_index()

    def draw_pieces(self, c: gf.Component, boxes: np.ndarray) -> None:
        """Straight waveguide boxes (n, 4: x0, y0, x1, y1 µm): equal boxes at a regular pitch along their length
        (the pieces between the crossings of one track) as one array of a piece cell, the rest as one Region."""
        if boxes.size == 0:
            return
        box = pieces.to_grid(boxes, self.kcl.dbu)
        size = box[:, 2:] - box[:, :2]
        vertical = size[:, 1] > size[:, 0]
        fixed, along = np.where(vertical, box[:, 0], box[:, 1]), np.where(vertical, box[:, 1], box[:, 0])
        first, count, step = pieces.grouped_progressions(np.stack([vertical, size[:, 0], size[:, 1], fixed], axis=1), along)
        arrays = count > 1
        for i, n, pitch in zip(first[arrays].tolist(), count[arrays].tolist(), step[arrays].tolist()):
            w, h = size[i].tolist()
            a = kdb.Vector(0, pitch) if vertical[i] else kdb.Vector(pitch, 0)
            c.kdb_cell.insert(kdb.CellInstArray(self.piece_cell(w, h), kdb.Trans(kdb.Vector(*box[i, :2].tolist())),
                                                a, kdb.Vector(0, 0), n, 1))
        singles = box[first[~arrays]]
        c.shapes(self.wg_layer).insert(kdb.Region([kdb.Box(*b) for b in singles.tolist()]))

    def place_crossings(self, c: gf.Component, centres: np.ndarray) -> None:
        """A crossing cell at every centre: the crossings of one vertical track at a regular pitch form one array."""
        if centres.size == 0:
            return
        index, dbu = self.pdk_cell("crossing", ()).cell_index(), self.kcl.dbu
        grid = np.rint(centres / dbu).astype(np.int64)
        first, count, step = pieces.grouped_progressions(grid[:, :1], grid[:, 1])
        for i, n, pitch in zip(first.tolist(), count.tolist(), step.tolist()):
            x, y = grid[i].tolist()
            c.kdb_cell.insert(kdb.CellInstArray(index, kdb.Trans(kdb.Vector(x, y)), kdb.Vector(0, max(pitch, 1)),
                                                kdb.Vector(0, 0), n, 1))

    def set_ports(self, c: gf.Component, groups: list[tuple[list[str], object, np.ndarray, int]]) -> None:
        """Give ``c`` its optical ports: groups of (names, x, y, rotation in quarter turns: 2 west, 0 east).

        Built as kfactory port records and set in one assignment: ``add_port`` copies and
        re-validates every port (~0.3 ms each through gdsfactory), and a 1024-mode mesh has 2048.
        The records skip validation (their values are valid by construction) and share one empty
        ``info`` (nothing writes port info in these cells).
        """
        dbu = self.kcl.dbu
        ports = []
        for names, x, y, rotation in groups:
            ys = np.rint(np.asarray(y, dtype=np.float64) / dbu).astype(np.int64)
            xs = np.broadcast_to(np.rint(np.asarray(x, dtype=np.float64) / dbu).astype(np.int64), ys.shape)
            ports += [
                kf.Port(base=kf.port.BasePort.model_construct(
                    name=name, kcl=self.kcl, cross_section=self.cross_section,
                    trans=kdb.Trans(rotation, False, xi, yi), dcplx_trans=None, info=self._port_info,
                    port_type="optical",
                ))
                for name, xi, yi in zip(names, xs.tolist(), ys.tolist())
            ]
        c.ports = ports
