"""Optical connectivity port to port, extracted from the written layout and compared with the description.

The open-ends count (``connectivity.py``) proves that every waveguide abuts a neighbour; a swapped or
mis-wired channel that still abuts everywhere passes it. This check follows every waveguide from the
port where it leaves a device to the port where it ends, in the file as written, and compares the
connections with the block netlists the description gives (``netlists.py``: the same instances and
port pairs a user simulates, placed as drawn).

**Extraction (KLayout, the file only).** Every distinct cell is visited once, bottom up, and summarised
as its exposed ends (width-long end edges: 2 × midpoint and outward facing, in its frame) and the
*terminals* inside it (device ports), each labelled with the connected piece (``component``) it belongs
to. A waveguide polygon joins its two ends; a crossing (one polygon with four ends, or a cell named
``crossing*``) joins west with east and north with south; ends that coincide facing each other (pieces
abut) join their pieces. A **node** — a device cell (named after a non-waveguide cell of the block
netlists: ``mzi2x2*``, ``phase_shifter*``, trees…, so variants of a cell work) or the cell of a
description block — shows its parent only its ports, each a terminal of its own; nothing inside it is
followed from the parent. Arrays are placed member by member as numbers (numpy), never flattened into
the layout: a block's summary holds its children's ports, never their contents.

**Comparison.** The description's blocks are matched to layout cells by placement (each child block's
cell sits where the plan puts it). For every distinct block cell, the reference is that block's netlist
with its straights and S-bends collapsed (``reference_links``): each connection is the set of device
ports (``t``, with what they are a port of: the device's cell prefix or the child block's plan) and loose
waveguide ends (``f``: a block port, a source's laser input) one waveguide path joins, at their positions
and facings. A connection in one and not the other is a mismatch, so a swapped pair
of channels costs 4 (two connections missing, two found instead), a piece moved off its neighbours 4 (one
missing, three found), a missing device twice the ports it joined. Ports with no waveguide are left out on
both sides: a nonlinear unit's (drawn on its own layer) and a dark channel's (the wider side of an
attenuator column). Cells over ±1 m (drawn centred, ``draw.plan_origin``) are compared in their drawn frame.

**The permutation view.** Each composite's extracted connections are also read as channel pairs (west
channel c → child channel, child → child, child → east channel j) and compared with the description's own
wiring (``inputs``, ``links``, ``outputs``: ``circuit/wiring.py``), not with the plan.

**Die builds** (``--die``, ``floorplan.py``): the plan is cut into slices, but every block below the cut (an
attenuator column, a tree array, a mesh between two cuts, a whole layer) is still drawn as the block's own cell.
``die_blocks`` walks each die's plan from its top cell, placement by placement, and compares every block cell it
reaches whole exactly as above (with the floorplan's packed planner); the cut cells between them (dies,
slices, fan-outs, U-turns) are counted (``cut_cells``), not compared.

**Fixed-phase builds** (``--phases fixed``): each phase is a ``phase_delay`` cell in the open slot of its MZI
frame (``mzi2x2_fixed``, ``mzi_attenuator_fixed``), which the block netlist places but does not join
(``FILLERS``): where a delay's port and its frame's port face the same way (the slot opens on the frame's
edge) the delay's is the one drawn; a delay port inside a frame that faces no port meets the frame's own
waveguide end there, a terminal of the frame facing it. A delay missing from its slot, or moved, is a
mismatch. The reference reads the delay's ports without its level (the same for every level).

What it does not cover: in a die build, the cut cells and the inter-die links (slices of a mesh or a
composite, their routed wires, fan-outs, U-turns: the open-ends count covers them); the die frame around a
mounted design (fibre routes and edge couplers); and what lies inside a device cell (the PDK's own cells,
checked by their regression tests).
Measured on b8n4 (shared 2-core machine): 3.2 s for 32 281 connections in 46 block cells, against 1.8 s
for the open-ends count (``benchmarks/README.md``); b8n4 on reticle dies (11 dies): 0.67 s for 5 680
connections in 32 block cells, 98 cut cells not compared (its meshes are cut between columns).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import klayout.db as kdb
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from optinc_pdk.circuit.model import Block, Composite
from optinc_pdk.errors import OptincError
from optinc_pdk.layout.connectivity import WAVEGUIDE_LAYER, WIDTH_SLACK_DBU
from optinc_pdk.layout.floorplan import Floorplan
from optinc_pdk.layout.netlists import GRID_UM, Level, composite_level, leaf_level
from optinc_pdk.layout.plan import Plan
from optinc_pdk.layout.planner import Planner
from optinc_pdk.layout.readback import read_layout
from optinc_pdk.pdk.ports import east_port, west_port

WIRE_CELLS = ("straight", "sbend")  # netlist instances that are waveguide, collapsed into connections
CROSSING_PREFIX = "crossing"
FILLERS = ("phase_delay",)  # cells drawn in another device's open slot: a fixed build's delay sections
_EMPTY = np.zeros((0, 4), np.int64)


@dataclass
class Summary:
    """A cell as its parent sees it: exposed ends and terminals (n, 4: 2x, 2y dbu, facing fx, fy), each with
    the component it belongs to; ``end_term``: the end is itself a terminal (a device port left open)."""

    ends: np.ndarray
    end_comp: np.ndarray
    end_term: np.ndarray
    terms: np.ndarray
    term_comp: np.ndarray
    n_comp: int
    term_kind: np.ndarray  # what each terminal is a port of (``Extractor.kinds``)

    def as_node(self, kind: int) -> Summary:
        """A device or block seen from outside: every exposed end is a port of ``kind``, a terminal of its own."""
        n = self.ends.shape[0]
        index = np.arange(n)
        return Summary(self.ends, index, np.ones(n, bool), self.ends, index, n, np.full(n, kind))


def _own_summary(cell: kdb.Cell, layer: int | None, width: int) -> Summary:
    """The cell's own waveguide polygons: a polygon's two ends are one piece; four ends facing the four ways
    (a crossing) are two, west-east and south-north; any other count leaves each end a piece of its own."""
    rows, comps, n_comp = [], [], 0
    if layer is not None:
        for shape in cell.shapes(layer).each():
            polygon = shape.polygon
            if polygon is None:
                continue
            ends = [(e.p1.x + e.p2.x, e.p1.y + e.p2.y, -np.sign(e.dy()), np.sign(e.dx()))
                    for e in polygon.each_edge() if width - WIDTH_SLACK_DBU <= e.length() <= width + WIDTH_SLACK_DBU]
            rows += ends
            if len(ends) == 2:
                comps += [n_comp, n_comp]
            elif {(e[2], e[3]) for e in ends} == {(1, 0), (-1, 0), (0, 1), (0, -1)}:
                comps += [n_comp + (e[2] == 0) for e in ends]
            else:
                comps += [n_comp + k for k in range(len(ends))]
            n_comp += max(comps[-1] - n_comp + 1, 0) if ends else 0
    ends = np.array(rows, np.int64).reshape(-1, 4)
    none = np.zeros(0, np.int64)
    return Summary(ends, np.array(comps, np.int64), np.zeros(len(rows), bool), _EMPTY, none, n_comp, none)


def _matrix(array: kdb.CellInstArray) -> tuple[np.ndarray, tuple[float, float]]:
    """The instance's linear part (2 x 2) and displacement (dbu, float: exact for magnified members too)."""
    if not array.is_complex():
        trans = array.trans
        return _ORIENTATIONS[trans.rot], (float(trans.disp.x), float(trans.disp.y))
    trans = kdb.DCplxTrans(array.cplx_trans)
    origin = trans * kdb.DPoint(0, 0)
    ex, ey = trans * kdb.DPoint(1, 0) - origin, trans * kdb.DPoint(0, 1) - origin
    return np.array([[ex.x, ey.x], [ex.y, ey.y]]), (origin.x, origin.y)


#: KLayout's eight fixed orientations as matrices, by ``Trans.rot`` (R0, R90, R180, R270, M0, M45, M90, M135).
_ORIENTATIONS = [np.array(m, np.float64) for m in (
    [[1, 0], [0, 1]], [[0, -1], [1, 0]], [[-1, 0], [0, -1]], [[0, 1], [-1, 0]],
    [[1, 0], [0, -1]], [[0, 1], [1, 0]], [[-1, 0], [0, 1]], [[0, -1], [-1, 0]])]


def _members_of(array: kdb.CellInstArray, origin: tuple[float, float]) -> list[tuple[float, float]]:
    """Where each member of an instance (array) puts the child's origin (dbu)."""
    if not array.is_regular_array():
        return [origin]
    a, b = array.a, array.b
    return [(origin[0] + i * a.x + j * b.x, origin[1] + i * a.y + j * b.y) for i in range(array.na) for j in range(array.nb)]


def _placed(summary: Summary, matrix: np.ndarray, origins: np.ndarray) -> Summary:
    """A child's summary in the parent's frame at every origin (k, 2 dbu) under one linear part (components offset
    per member): all instances of one child in one orientation at once."""
    shift = 2 * origins
    scale = max(np.abs(matrix).max(), 1e-12)

    def place(rows: np.ndarray) -> np.ndarray:
        points = rows[:, :2] @ matrix.T
        facing = np.rint(rows[:, 2:] @ matrix.T / scale)
        out = np.concatenate([points[None] + shift[:, None, :], np.broadcast_to(facing, (len(shift), *facing.shape))],
                             axis=2)
        return np.rint(out).astype(np.int64).reshape(-1, 4)

    members = len(shift)
    offsets = (np.arange(members) * summary.n_comp)[:, None]
    return Summary(place(summary.ends), (summary.end_comp[None] + offsets).ravel(), np.tile(summary.end_term, members),
                   place(summary.terms), (summary.term_comp[None] + offsets).ravel(), summary.n_comp * members,
                   np.tile(summary.term_kind, members))


def _join(parts: list[Summary], crossing: bool) -> Summary:
    """Pieces joined where their ends abut facing each other; what stays exposed is the cell's ends."""
    offsets = np.cumsum([0] + [p.n_comp for p in parts])
    ends = np.concatenate([p.ends for p in parts]) if parts else _EMPTY
    end_comp = np.concatenate([p.end_comp + o for p, o in zip(parts, offsets)]) if parts else np.zeros(0, np.int64)
    end_term = np.concatenate([p.end_term for p in parts]) if parts else np.zeros(0, bool)
    terms = np.concatenate([p.terms for p in parts]) if parts else _EMPTY
    term_comp = np.concatenate([p.term_comp + o for p, o in zip(parts, offsets)]) if parts else np.zeros(0, np.int64)
    term_kind = np.concatenate([p.term_kind for p in parts]) if parts else np.zeros(0, np.int64)
    n = int(offsets[-1])
    order = np.lexsort((ends[:, 2] != 0, ends[:, 1], ends[:, 0]))  # ends at one point along one axis, side by side
    key = np.stack([ends[order, 0], ends[order, 1], ends[order, 2] != 0], axis=1)
    start = np.r_[True, np.any(key[1:] != key[:-1], axis=1)] if len(order) else np.zeros(0, bool)
    group = np.cumsum(start) - 1
    counts = np.bincount(group) if len(order) else np.zeros(0, np.int64)
    first = np.flatnonzero(start)
    pairs = first[counts == 2]
    members = np.stack([order[pairs], order[pairs + 1]], axis=1) if len(pairs) else np.zeros((0, 2), np.int64)
    facing_apart = np.all(ends[members[:, 0], 2:] == -ends[members[:, 1], 2:], axis=1)
    members = members[facing_apart]
    joined = np.zeros(len(ends), bool)
    joined[members.ravel()] = True
    links = end_comp[members]
    if crossing:  # a crossing cell: its exposed ends pass straight across
        links = np.concatenate([links, _across(ends[~joined], end_comp[~joined])])
    graph = coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])), shape=(n, n)) if n else None
    n_comp, label = connected_components(graph, directed=False) if n else (0, np.zeros(0, np.int64))
    keep = ~joined
    return Summary(ends[keep], label[end_comp[keep]], end_term[keep], terms, label[term_comp], int(n_comp), term_kind)


def _across(ends: np.ndarray, comp: np.ndarray) -> np.ndarray:
    """Component pairs of ends facing each other across a crossing: west-east on one row, south-north on one column."""
    pairs = []
    for axis in (0, 1):  # facing along x: same y; facing along y: same x
        along = np.flatnonzero(ends[:, 2 + axis] != 0)
        line = ends[along, 1 - axis]
        for value in np.unique(line):
            pair = along[line == value]
            if len(pair) == 2:
                pairs.append(comp[pair])
    return np.array(pairs, np.int64).reshape(-1, 2)


@dataclass
class Extractor:
    """Bottom-up summaries of a layout's cells; ``devices`` are the device-cell name prefixes, ``nodes`` the block
    cells (cell index → a name for what it is: its plan's key). A terminal's kind indexes ``kinds``."""

    layout: kdb.Layout
    width: int
    devices: tuple[str, ...]
    nodes: dict[int, str] = field(default_factory=dict)
    layer: int | None = None
    cache: dict[int, Summary] = field(default_factory=dict)
    outside: dict[int, Summary] = field(default_factory=dict)  # what a parent sees

    kinds: list[str] = field(default_factory=list)

    def device(self, name: str) -> str | None:
        """The device a cell of this name is (its prefix), or None."""
        return next((d for d in sorted(self.devices, key=len, reverse=True) if name == d or name.startswith(d + "_")), None)

    def kind(self, cell_index: int) -> int | None:
        label = self.nodes.get(cell_index) or self.device(self.layout.cell(cell_index).name)
        if label is None:
            return None
        if label not in self.kinds:
            self.kinds.append(label)
        return self.kinds.index(label)

    def summary(self, cell_index: int) -> Summary:
        """The cell's full summary (its inside joined); ``seen`` gives what a parent sees."""
        if cell_index not in self.cache:
            cell = self.layout.cell(cell_index)
            parts = [_own_summary(cell, self.layer, self.width)]
            groups: dict[tuple, tuple[np.ndarray, list]] = {}
            for inst in cell.each_inst():
                array = inst.cell_inst
                matrix, origin = _matrix(array)
                key = (inst.cell_index, array.trans.rot) if not array.is_complex() else (inst.cell_index, len(groups), 0)
                groups.setdefault(key, (matrix, []))[1].extend(_members_of(array, origin))
            parts += [_placed(self.seen(key[0]), matrix, np.array(origins, np.float64)) for key, (matrix, origins)
                      in groups.items()]
            self.cache[cell_index] = _join(parts, cell.name.startswith(CROSSING_PREFIX))
        return self.cache[cell_index]

    def seen(self, cell_index: int) -> Summary:
        if cell_index not in self.outside:
            kind = self.kind(cell_index)
            self.outside[cell_index] = self.summary(cell_index) if kind is None else self.summary(cell_index).as_node(kind)
        return self.outside[cell_index]


def extracted_links(summary: Summary, dbu: float, kinds: list[str]) -> Counter:
    """Each component of a cell as the set of its terminals (``t``, with what they are a port of: ``kinds``) and
    loose waveguide ends (``f``), at their positions (nm) and outward facings (degrees)."""
    scale = dbu / GRID_UM / 2
    keys: dict[int, list] = {}
    loose = ~summary.end_term
    for kind, rows, comps, of in (("t", summary.terms, summary.term_comp, [kinds[k] for k in summary.term_kind.tolist()]),
                                  ("f", summary.ends[loose], summary.end_comp[loose], [""] * int(loose.sum()))):
        for (x, y, fx, fy), comp, label in zip(rows.tolist(), comps.tolist(), of):
            keys.setdefault(comp, []).append((kind, round(x * scale), round(y * scale),
                                              round(float(np.degrees(np.arctan2(fy, fx)))) % 360, label))
    return Counter(tuple(sorted(v)) for v in keys.values())


def reference_links(level: Level, kinds: dict[str, str], origin_nm: tuple[int, int] = (0, 0),
                    undrawn: set[str] = frozenset()) -> Counter:
    """A block netlist's connections with its straights and S-bends collapsed (see ``extracted_links``); ``kinds``:
    instance → what it is (its PDK cell, or a child block's plan key).

    ``undrawn``: instance ports (``inst,port``) with no waveguide in the layout (a nonlinear unit's, drawn on its
    own layer): left out, so the waveguide that meets one ends loose there, as drawn."""
    wire = {name for name, entry in level.instances.items() if entry["component"] in WIRE_CELLS}
    empty = _empty_instances(level)
    refs: dict[str, int] = {}
    where: list[tuple] = []
    pairs = []
    frames = _frames(level, wire)
    for (x, y), placed in level.points.items():
        members = [(ref, angle) for ref, angle in placed if ref.split(",", 1)[0] not in empty and ref not in undrawn]
        if frames is not None:
            members = _fill_slots(members, x, y, frames)
        for ref, angle in members:
            refs[ref] = len(where)
            where.append((x - origin_nm[0], y - origin_nm[1], angle % 360))
        if len(members) == 2 and abs(members[0][1] - members[1][1]) == 180:
            pairs.append((refs[members[0][0]], refs[members[1][0]]))
    joined = {i for pair in pairs for i in pair}
    by_instance: dict[str, list[int]] = {}
    for ref, i in refs.items():
        by_instance.setdefault(ref.split(",", 1)[0], []).append(i)
    pairs += [(ids[0], other) for name in wire for ids in [by_instance[name]] for other in ids[1:]]
    n = len(where)
    edges = np.array(pairs, np.int64).reshape(-1, 2)
    _, label = connected_components(coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)),
                                    directed=False)
    keys: dict[int, list] = {}
    for ref, i in refs.items():
        name = ref.split(",", 1)[0]
        if name in wire and i in joined:
            continue
        keys.setdefault(int(label[i]), []).append(("f", *where[i], "") if name in wire else ("t", *where[i], kinds[name]))
    return Counter(tuple(sorted(v)) for v in keys.values())


def _frames(level: Level, wire: set[str]) -> tuple[list[str], np.ndarray, set[str]] | None:
    """Where a block has slot fillers (``FILLERS``): every other device instance and the box its ports span (x0, x1,
    y0, y1, grid units), and the fillers' names; None without fillers."""
    fillers = {name for name, entry in level.instances.items() if entry["component"] in FILLERS}
    if not fillers:
        return None
    spans: dict[str, list] = {}
    for (x, y), placed in level.points.items():
        for ref, _ in placed:
            name = ref.split(",", 1)[0]
            if name not in wire and level.instances[name]["component"] not in FILLERS:
                spans.setdefault(name, []).append((x, y))
    names = list(spans)
    boxes = np.array([[min(p[0] for p in spans[n]), max(p[0] for p in spans[n]), min(p[1] for p in spans[n]),
                       max(p[1] for p in spans[n])] for n in names], np.int64).reshape(-1, 4)
    return names, boxes, fillers


def _fill_slots(members: list[tuple[str, int]], x: int, y: int,
                frames: tuple[list[str], np.ndarray, set[str]]) -> list[tuple[str, int]]:
    """A fixed build's delay sections lie in the open slots of their MZI frames (``mzis.py``), which the block
    netlist does not draw: where a filler's port and a frame's port face the same way, the slot opens there and the
    filler's port is the one drawn; a filler's port inside a frame that faces no port meets the frame's own waveguide
    end there (a terminal of the frame, facing it)."""
    names, boxes, filler_names = frames
    fillers = [(ref, angle) for ref, angle in members if ref.split(",", 1)[0] in filler_names]
    if not fillers:
        return members
    facing = {angle % 360 for _, angle in fillers}
    kept = [(ref, angle) for ref, angle in members if (ref, angle) in fillers or angle % 360 not in facing]
    for ref, angle in fillers:
        if any(abs(other - angle) == 180 for _, other in kept):
            continue
        inside = np.flatnonzero((boxes[:, 0] < x) & (x < boxes[:, 1]) & (boxes[:, 2] <= y) & (y <= boxes[:, 3]))
        if inside.size:
            kept.append((f"{names[inside[0]]},slot:{ref}", (angle + 180) % 360))
    return kept


def _empty_instances(level: Level) -> set[str]:
    """Instances of no length (a one-leaf tree array): each port lies on another of its own, facing it. The
    layout draws nothing there, so the neighbours on either side abut directly."""
    at: dict[str, Counter] = {}
    for point, members in level.points.items():
        for ref, _ in members:
            at.setdefault(ref.split(",", 1)[0], Counter())[point] += 1
    return {name for name, points in at.items() if all(count % 2 == 0 for count in points.values())}


def _members(layout: kdb.Layout, cell: kdb.Cell) -> dict[tuple[int, int], list[int]]:
    """Displacement (dbu) → child cells of every instance (array members included) of ``cell``."""
    out: dict[tuple[int, int], list[int]] = {}
    for inst in cell.each_inst():
        array = inst.cell_inst
        disp = (array.cplx_trans if array.is_complex() else array.trans).disp
        shifts = [(0, 0)]
        if array.is_regular_array():
            shifts = [(i * array.a.x + j * array.b.x, i * array.a.y + j * array.b.y)
                      for i in range(array.na) for j in range(array.nb)]
        for sx, sy in shifts:
            out.setdefault((round(disp.x) + sx, round(disp.y) + sy), []).append(inst.cell_index)
    return out


def _drawn_as(layout: kdb.Layout, candidates: list[int], plan: Plan) -> int:
    """Of the cells placed at one point (a child block and the composite's wires start at its origin), the one
    whose extent is the plan's."""
    from optinc_pdk.layout.draw import plan_origin

    box, (ox, oy) = plan.bbox, plan_origin(plan)
    want = np.array([box.xmin - ox, box.ymin - oy, box.xmax - ox, box.ymax - oy]) if box is not None else np.zeros(4)

    def distance(index: int) -> float:
        got = layout.cell(index).dbbox()
        return float(np.abs(np.array([got.left, got.bottom, got.right, got.top]) - want).max())

    return min(candidates, key=distance)


def _child_offsets(block: Composite, plan: Plan, planner: Planner, dbu: float) -> list[tuple[Block, Plan, tuple[int, int]]]:
    """Each child block, its plan and where its cell sits in the composite's cell (dbu)."""
    from optinc_pdk.layout.draw import plan_origin

    ox, oy = plan_origin(plan)
    out = []
    for child, (cx, cy) in zip(block.children, plan.origins.tolist()):
        child_plan = planner.plan(child)
        dx, dy = plan_origin(child_plan)
        out.append((child, child_plan, (round((cx + dx - ox) / dbu), round((cy + dy - oy) / dbu))))
    return out


def _design_cell(layout: kdb.Layout, top: Block, planner: Planner) -> int | None:
    """The cell of the description's top block: the one whose instances sit where the plan puts its children."""
    if not isinstance(top, Composite):
        return None
    expected = {offset for _, _, offset in _child_offsets(top, planner.plan(top), planner, layout.dbu)}
    near = [top.cell_index() for top in layout.top_cells()]  # the design's cell, or the die's cell around it
    near += [inst.cell_index for index in near for inst in layout.cell(index).each_inst()]
    for index in [*near, *(cell.cell_index() for cell in layout.each_cell())]:
        if expected <= set(_members(layout, layout.cell(index))):
            return index
    return None


def map_blocks(layout: kdb.Layout, top: Block, planner: Planner) -> tuple[list[tuple[int, Block, Plan]], list[str]]:
    """(layout cell, block, plan) of every distinct plan, walking the description from its top block, children
    before their parents; and the blocks whose cell is not where the plan puts it."""
    order: list[tuple[int, Block, Plan]] = []
    missing: list[str] = []
    root = _design_cell(layout, top, planner)
    if root is None:
        return order, [top.name]
    _walk_block(layout, top, planner.plan(top), root, planner, order, missing, set())
    return order, missing


def _walk_block(layout: kdb.Layout, block: Block, plan: Plan, index: int, planner: Planner,
                order: list[tuple[int, Block, Plan]], missing: list[str], seen: set[str]) -> None:
    """``block`` drawn as cell ``index`` and its children found by placement, depth-first, a block after its
    children, each distinct plan once (``seen``), into ``order``; a child not where the plan puts it into ``missing``."""
    seen.add(plan.key)
    if isinstance(block, Composite):
        members = _members(layout, layout.cell(index))
        for child, child_plan, offset in _child_offsets(block, plan, planner, layout.dbu):
            if offset not in members:
                missing.append(child.name)
            elif child_plan.key not in seen:
                _walk_block(layout, child, child_plan, _drawn_as(layout, members[offset], child_plan), planner, order,
                            missing, seen)
    order.append((index, block, plan))


def die_blocks(layout: kdb.Layout, top: Block, planner: Planner, dies: list[tuple[str, Plan]]
               ) -> tuple[list[tuple[int, Block, Plan]], list[str], int]:
    """The description's blocks a die build draws whole, found below the die top cells (``dies``: cell name, die
    plan) by the plans' placements: (layout cell, block, plan) as :func:`map_blocks` gives; the placements not
    where their plan puts them; and how many distinct cut cells (die, slices, fan-outs, U-turns) were walked,
    which this check does not compare (their waveguides are the open-ends count's)."""
    from optinc_pdk.layout.draw import plan_origin

    whole = {planner.plan(block).key: block for block in top.walk()}
    order: list[tuple[int, Block, Plan]] = []
    missing: list[str] = []
    seen: set[str] = set()
    cut: set[str] = set()

    def visit(plan: Plan, index: int) -> None:
        if plan.key in seen or plan.key in cut:
            return
        if plan.key in whole:
            _walk_block(layout, whole[plan.key], plan, index, planner, order, missing, seen)
            return
        cut.add(plan.key)
        ox, oy = plan_origin(plan)
        members = _members(layout, layout.cell(index))
        for place in plan.children:
            cx, cy = plan_origin(place.plan)
            offset = (round((place.x + cx - ox) / layout.dbu), round((place.y + cy - oy) / layout.dbu))
            if offset not in members:
                missing.append(f"{plan.name}/{place.name}")
            else:
                visit(place.plan, _drawn_as(layout, members[offset], place.plan))

    for name, plan in dies:
        cell = layout.cell(name)
        if cell is None:
            missing.append(name)
        else:
            visit(plan, cell.cell_index())
    return order, missing, len(cut)


def _undrawn_devices(extractor: Extractor) -> set[str]:
    """Device cells (by name prefix) that draw no waveguide end: their ports are not on the waveguide layer."""
    ends: dict[str, int] = {}
    for cell in extractor.layout.each_cell():
        for device in extractor.devices:
            if cell.name == device or cell.name.startswith(device + "_"):
                ends[device] = ends.get(device, 0) + extractor.summary(cell.cell_index()).ends.shape[0]
    return {device for device, n in ends.items() if n == 0}


def _undrawn_ports(level: Level, plan: Plan, undrawn: set[str]) -> set[str]:
    """A block's ports with no waveguide: those on an undrawn instance port, and those no instance serves (a dark
    channel: the unused side of an attenuator column wider on one side)."""
    n_in, n_out = plan.west_y.size, plan.east_y.size
    names = [west_port(c, n_in) for c in range(n_in)] + [east_port(j, n_in, n_out) for j in range(n_out)]
    at = [(0.0, y, 180) for y in plan.west_y.tolist()] + [(plan.width, y, 0) for y in plan.east_y.tolist()]
    ports = level.netlist(plan.west_y, plan.east_y, plan.width)["ports"]
    return {name for name, (x, y, angle) in zip(names, at)
            if (name not in ports or ports[name] in undrawn) and not _filler_at(level, x, y, angle)}


def _filler_at(level: Level, x: float, y: float, angle: int) -> bool:
    """A slot filler's port faces out of the block at (x, y) µm: the block's port, drawn by the filler (its frame's
    port there is the open slot, ``_fill_slots``)."""
    placed = level.points.get((round(x / GRID_UM), round(y / GRID_UM)), [])
    return any(facing % 360 == angle and level.instances[ref.split(",", 1)[0]]["component"] in FILLERS
               for ref, facing in placed)


def _instance_kinds(block: Block, level: Level, planner: Planner) -> dict[str, str]:
    """What each instance of a block netlist is: a child block's plan key (the drawn cell's identity), else its PDK cell."""
    children = {child.name.rsplit("/", 1)[-1]: _block_kind(planner.plan(child)) for child in getattr(block, "children", ())}
    return {name: children.get(name, entry["component"]) for name, entry in level.instances.items()}


def _block_kind(plan: Plan) -> str:
    """A block cell's identity in a connection: its plan (name for reading, key for telling equal names apart)."""
    return f"{plan.name}#{plan.key[:12]}"


def _undrawn_refs(block: Block, level: Level, undrawn_devices: set[str], undrawn_ports: dict[str, set[str]],
                  planner: Planner) -> set[str]:
    """Instance ports of ``level`` with no waveguide: every port of an undrawn device, a child block's undrawn ports."""
    out = set()
    children = {child.name.rsplit("/", 1)[-1]: planner.plan(child).key for child in getattr(block, "children", ())}
    for members in level.points.values():
        for ref, _ in members:
            name, port = ref.split(",", 1)
            component = level.instances[name]["component"]
            if component in undrawn_devices or port in undrawn_ports.get(children.get(name, ""), ()):
                out.add(ref)
    return out


@dataclass
class PortCheck:
    """Port-to-port connections of the written layout against the description's block netlists."""

    blocks: int  # distinct block cells compared
    connections: int  # connections of the description checked (per distinct block cell)
    mismatches: int
    missing: list[str]  # the description's connections not found (first few, readable)
    extra: list[str]  # connections found that the description does not have
    unplaced: list[str]  # blocks whose cell is not where the plan puts it
    wiring: int  # channel pairs of the description's composites (``circuit/wiring.py``) checked
    wiring_mismatches: int  # pairs described and not drawn, or drawn and not described
    wiring_wrong: list[str]
    seconds: float
    cut_cells: int | None = None  # a die build: distinct cut cells (dies, slices, fan-outs, U-turns) not compared

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and self.wiring_mismatches == 0 and self.blocks > 0

    def to_dict(self) -> dict:
        return {"ok": self.ok, "blocks": self.blocks, "connections": self.connections, "mismatches": self.mismatches,
                "missing": self.missing, "extra": self.extra, "unplaced": self.unplaced, "wiring": self.wiring,
                "wiring_mismatches": self.wiring_mismatches, "wiring_wrong": self.wiring_wrong, "seconds": self.seconds,
                **({"cut_cells": self.cut_cells} if self.cut_cells is not None else {})}


def _channel_ends(block: Composite, plan: Plan, planner: Planner, origin_nm: tuple[int, int]) -> dict[tuple, set]:
    """Position (nm, drawn frame) → the channel ends there: the composite's own (``in``/``out``, channel) and its
    children's (``to``/``from``, child, channel); children of no length are left out (``_through_empty``)."""
    out: dict[tuple, set] = {}

    def add(x: float, y: float, end: tuple) -> None:
        out.setdefault((round(x / GRID_UM) - origin_nm[0], round(y / GRID_UM) - origin_nm[1]), set()).add(end)

    for c, y in enumerate(plan.west_y.tolist()):
        add(0.0, y, ("in", c))
    for j, y in enumerate(plan.east_y.tolist()):
        add(plan.width, y, ("out", j))
    for k, (child, (cx, cy)) in enumerate(zip(block.children, plan.origins.tolist())):
        child_plan = planner.plan(child)
        if child_plan.width > 0:
            for c, y in enumerate(child_plan.west_y.tolist()):
                add(cx, cy + y, ("to", k, c))
            for j, y in enumerate(child_plan.east_y.tolist()):
                add(cx + child_plan.width, cy + y, ("from", k, j))
    return out


def _through_empty(pairs: set[tuple], block: Composite, planner: Planner) -> set[tuple]:
    """The description's channel pairs with each child of no length (a one-leaf tree array) passed straight through."""
    for k, child in enumerate(block.children):
        if planner.plan(child).width > 0:
            continue
        into = {pair for pair in pairs if pair[1][:2] == ("to", k)}
        out_of = {pair for pair in pairs if pair[0][:2] == ("from", k)}
        pairs = (pairs - into - out_of) | {(a, b) for a, to in into for frm, b in out_of if to[2] == frm[2]}
    return pairs


def wiring_pairs(block: Composite) -> set[tuple]:
    """The description's wiring of a composite (``circuit/wiring.py``) as (source, sink) channel ends."""
    pairs = {(("in", c), ("to", int(k), int(ch))) for c, (k, ch) in enumerate(block.inputs.tolist())}
    pairs |= {(("from", int(a), int(j)), ("to", int(b), int(c))) for a, j, b, c in block.links.tolist()}
    pairs |= {(("from", int(k), int(ch)), ("out", j)) for j, (k, ch) in enumerate(block.outputs.tolist())}
    return pairs


def realised_pairs(found: Counter, ends: dict[tuple, set]) -> set[tuple]:
    """The (source, sink) channel ends each extracted connection joins; where nothing is drawn at a point (a
    nonlinear unit's output on the composite's edge), the channel ends that meet there."""
    pairs, seen = set(), set()
    groups = []
    for links in found:
        points = {(x, y) for _, x, y, _, _ in links}
        seen |= points
        groups.append(set().union(*(ends.get(point, set()) for point in points)))
    groups += [joined for point, joined in ends.items() if point not in seen]
    for joined in groups:
        sources = [end for end in joined if end[0] in ("in", "from")]
        pairs |= {(a, b) for a in sources for b in joined if b[0] in ("out", "to")}
    return pairs


def _inner_ends_dropped(found: Counter, reference: Counter) -> Counter:
    """``found`` without the lone ends a child leaves open inside itself (an attenuator's unused ports, a bias
    source's laser input): not ports of the child's netlist, they are its own business, checked at its level."""
    ports = {end for links in reference for end in links if end[0] == "t"}
    return Counter({links: n for links, n in found.items() if len(links) > 1 or links[0][0] != "t" or links[0] in ports})


def _readable(block: Block, links: tuple) -> str:
    ends = ", ".join(f"{of.split('#')[0]} port ({x / 1000:g}, {y / 1000:g}) {angle}°" if kind == "t" else
                     f"loose end ({x / 1000:g}, {y / 1000:g}) {angle}°" for kind, x, y, angle, of in sorted(links))
    return f"{block.name}: {ends}"


def compare_links(layout: kdb.Layout, top: Block, planner: Planner, width_um: float,
                  layer: tuple[int, int] = WAVEGUIDE_LAYER, examples: int = 5) -> PortCheck:
    """Extract every distinct block cell's connections from ``layout`` and compare them with the block's netlist."""
    start = time.perf_counter()
    order, unplaced = map_blocks(layout, top, planner)
    return _compare(layout, order, unplaced, planner, width_um, layer, examples, start)


def compare_die_links(layout: kdb.Layout, top: Block, planner: Planner, dies: list[tuple[str, Plan]], width_um: float,
                      layer: tuple[int, int] = WAVEGUIDE_LAYER, examples: int = 5) -> PortCheck:
    """:func:`compare_links` for a die build: every block cell the dies draw whole (``die_blocks``; ``planner``: the
    floorplan's, packed) against its netlist; the cut cells between them are counted, not compared."""
    start = time.perf_counter()
    order, unplaced, cut = die_blocks(layout, top, planner, dies)
    result = _compare(layout, order, unplaced, planner, width_um, layer, examples, start)
    result.cut_cells = cut
    return result


def _compare(layout: kdb.Layout, order: list[tuple[int, Block, Plan]], unplaced: list[str], planner: Planner,
             width_um: float, layer: tuple[int, int], examples: int, start: float) -> PortCheck:
    """Each mapped block cell's extracted connections against its block netlist, children before parents."""
    from optinc_pdk.layout.draw import plan_origin

    g = planner.geometry
    levels = [composite_level(block, plan, planner) if isinstance(block, Composite)
              else leaf_level(block, plan, g, phases=False) for _, block, plan in order]
    devices = sorted({entry["component"] for (_, block, _), level in zip(order, levels) if not isinstance(block, Composite)
                      for entry in level.instances.values() if entry["component"] not in WIRE_CELLS})
    extractor = Extractor(layout, round(width_um / layout.dbu), tuple(devices),
                          {index: _block_kind(plan) for index, _, plan in order}, layout.find_layer(*layer))
    undrawn_devices = _undrawn_devices(extractor)
    undrawn_ports: dict[str, set[str]] = {}
    connections = mismatches = wiring = wiring_wrong = 0
    missing_text: list[str] = []
    extra_text: list[str] = []
    wiring_text: list[str] = []
    for (index, block, plan), level in zip(order, levels):
        ox, oy = plan_origin(plan)
        undrawn = _undrawn_refs(block, level, undrawn_devices, undrawn_ports, planner)
        undrawn_ports[plan.key] = _undrawn_ports(level, plan, undrawn)
        origin = (round(ox / GRID_UM), round(oy / GRID_UM))
        reference = reference_links(level, _instance_kinds(block, level, planner), origin, undrawn)
        found = _inner_ends_dropped(extracted_links(extractor.summary(index), layout.dbu, extractor.kinds), reference)
        missing, extra = reference - found, found - reference
        connections += sum(reference.values())
        mismatches += sum(missing.values()) + sum(extra.values())
        if isinstance(block, Composite):  # the permutation view: which channel lands where, against the description
            expected = _through_empty(wiring_pairs(block), block, planner)
            realised = realised_pairs(found, _channel_ends(block, plan, planner, origin))
            wiring += len(expected)
            wrong = sorted(expected ^ realised)
            wiring_wrong += len(wrong)
            wiring_text += [f"{block.name}: {'not drawn' if pair in expected else 'drawn, not described'}: "
                            f"{pair[0]} → {pair[1]}" for pair in wrong][:examples - len(wiring_text)]
        missing_text += [_readable(block, links) for links in missing][:examples - len(missing_text)]
        extra_text += [_readable(block, links) for links in extra][:examples - len(extra_text)]
    return PortCheck(len(order), connections, mismatches + len(unplaced), missing_text, extra_text, unplaced, wiring,
                     wiring_wrong, wiring_text, time.perf_counter() - start)


def check_port_links(path: str | Path, top: Block, planner: Planner, width_um: float,
                     layer: tuple[int, int] = WAVEGUIDE_LAYER) -> PortCheck:
    """:func:`compare_links` on the layout written at ``path``."""
    return compare_links(read_layout(path), top, planner, width_um, layer)


def check_die_links(path: str | Path, top: Block, planner: Planner, floorplan: Floorplan, width_um: float,
                    layer: tuple[int, int] = WAVEGUIDE_LAYER) -> PortCheck:
    """:func:`compare_die_links` on the die build written at ``path`` (``floorplan``: the plan it was drawn from)."""
    return compare_die_links(read_layout(path), top, planner, [(die.name, die.plan) for die in floorplan.dies], width_um,
                             layer)


def require_linked(result: PortCheck, path: str | Path) -> None:
    """One line naming the file when the drawn connections are not the description's."""
    if not result.ok:
        first = (result.missing + result.extra + result.unplaced + result.wiring_wrong
                 + ["no block of the description found"])[0]
        raise OptincError(f"{path}: optical connectivity: {result.mismatches} mismatches against the description's "
                          f"netlists ({result.connections} connections checked), first: {first}")
