"""Placement of a composite: children left to right in columns, stacked vertically, wires between.

1. **Columns.** A child's column is its longest link path from the composite's inputs (children
   without any input — bias light sources — move right, next to their first consumer). Children of
   one column are independent: the blocks of a tall or wide matrix share a column and are stacked,
   so each block receives its rows at its own height (no block sits behind another).
2. **Feed-throughs.** A signal that skips columns runs straight through them; signals from one
   child to one child travel as a bundle, placed like an element of each column they cross.
3. **Stacking.** Column by column, each element goes where its incoming signals arrive straight
   (the lower median of source − port heights), heaviest element first (most signals); an element
   that would collide moves to the nearest free height, on the half-pitch lattice. Elements fed
   only from the composite's west edge are stacked top-down in input-channel order.
4. **Routing.** Between two columns, :func:`optinc_pdk.layout.router.route_channel` draws every
   signal (straight where heights match, else one track each, crossings at 90°). Children of one
   column are left-aligned; shorter ones' outputs are extended by straights.

A fan-out (a tall matrix's splitter trees feeding stacked blocks, the bias combiners) needs
crossings — inputs that must reach every block cannot all stay in order in a plane — and the
router makes exactly one crossing per pair of signals whose order flips.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from optinc_pdk.circuit.model import Composite
from optinc_pdk.layout.plan import Placement, Plan, Wires, placement_box, union
from optinc_pdk.layout.router import RouterRules, route_channel
from optinc_pdk.spec.geometry import DeviceGeometry

WEST, EAST = -1, -2
_EPS = 1e-6


#: Composite roles drawn once per design: their cells carry the block's name (``L3_256x128``).
NAMED_ROLES = ("layer", "optinc", "averager", "broadcast")


def composite_cell_name(block: Composite) -> str:
    """Readable cell name, shape out×in as the reports write it: ``L1_64x4`` for a layer, ``block_4x4``."""
    shape = f"{block.n_out}x{block.n_in}"
    if block.role in NAMED_ROLES:
        return f"{block.name.replace('/', '_')}_{shape}" if block.role == "layer" else f"{block.role}_{shape}"
    return f"{block.role or 'composite'}_{shape}"


def child_ranks(block: Composite) -> np.ndarray:
    """Column of every child: longest link path; input-less children right before their first consumer."""
    n = len(block.children)
    rank = np.zeros(n, dtype=np.int64)
    links = block.links
    for i in range(n):  # links run from earlier to later children, so one pass in order suffices
        incoming = links[links[:, 2] == i, 0]
        if incoming.size:
            rank[i] = rank[incoming].max() + 1
    fed = set(block.inputs[:, 0].tolist()) | set(links[:, 2].tolist())
    for i in reversed(range(n)):
        consumers = links[links[:, 0] == i, 2]
        if i not in fed and consumers.size:
            rank[i] = max(0, int(rank[consumers].min()) - 1)
    return rank


class _Element:
    """One thing stacked in a column: a child, or a bundle of signals crossing the column."""

    def __init__(self, child: int | None, members: np.ndarray, local_y: np.ndarray, lo: float, hi: float) -> None:
        self.child = child
        self.members = members  # signal indices entering this element (a bundle: all its signals)
        self.local_y = local_y  # their port heights in the element's own frame
        self.lo, self.hi = lo, hi  # vertical extent in the element's frame
        self.offset = 0.0
        self.desired: float | None = None
        self.order_key: tuple = ()


class _Stack:
    """Occupied vertical intervals of one column."""

    def __init__(self, gap: float, lattice: float) -> None:
        self.taken: list[tuple[float, float]] = []
        self.gap, self.lattice = gap, lattice

    def _free(self, lo: float, hi: float) -> bool:
        return all(hi + self.gap <= a + _EPS or lo - self.gap >= b - _EPS for a, b in self.taken)

    def _down(self, value: float) -> float:
        return math.floor(value / self.lattice + 1e-9) * self.lattice

    def _up(self, value: float) -> float:
        return math.ceil(value / self.lattice - 1e-9) * self.lattice

    def nearest(self, e: _Element, desired: float) -> float:
        if self._free(desired + e.lo, desired + e.hi):
            return desired
        candidates = [self._down(a - self.gap - e.hi) for a, _ in self.taken]
        candidates += [self._up(b + self.gap - e.lo) for _, b in self.taken]
        fits = [c for c in candidates if self._free(c + e.lo, c + e.hi)]
        return min(fits, key=lambda c: (abs(c - desired), c))

    def below(self, e: _Element) -> float:
        floor = min((a for a, _ in self.taken), default=self.gap)
        return self._down(floor - self.gap - e.hi)

    def take(self, e: _Element) -> None:
        self.taken.append((e.offset + e.lo, e.offset + e.hi))


def plan_composite(block: Composite, kids: list[Plan], key: str, g: DeviceGeometry, rules: RouterRules,
                   packed_west: bool = False) -> Plan:
    n_kids = len(kids)
    rank = child_ranks(block)
    last = int(rank.max()) if n_kids else -1
    n_in = block.n_in
    # every connection as a signal: (source child | WEST, channel, destination child | EAST, channel)
    sig = np.concatenate([
        np.stack([np.full(n_in, WEST), np.arange(n_in), block.inputs[:, 0], block.inputs[:, 1]], axis=1),
        block.links,
        np.stack([block.outputs[:, 0], block.outputs[:, 1], np.full(block.n_out, EAST), np.arange(block.n_out)], axis=1),
    ]).astype(np.int64)
    src, src_ch, dst, dst_ch = sig.T
    src_col = np.where(src == WEST, -1, rank[np.maximum(src, 0)])
    dst_col = np.where(dst == EAST, last + 1, rank[np.maximum(dst, 0)])
    half = g.mode_pitch / 2

    exit_y = np.full(sig.shape[0], np.nan)  # height where a signal leaves the column it is in
    exit_x = np.full(sig.shape[0], np.nan)
    entry_y = np.full(sig.shape[0], np.nan)  # height of its destination port
    entry_x = np.full(sig.shape[0], np.nan)
    west_port_y = np.full(n_in, np.nan)
    offsets = np.zeros(n_kids)
    column_x: list[float] = []
    segments: list[np.ndarray] = []
    bends: list[np.ndarray] = []
    cuts: list[tuple[float, np.ndarray]] = []
    crossing_xy: list[np.ndarray] = [np.zeros((0, 2))]
    paths = np.zeros((3, sig.shape[0]))  # per signal: waveguide length (µm), 90° bends, crossings
    crossings = tracks = detours = 0
    x = 0.0
    prev_width = 0.0
    for q in range(last + 1):
        elements = _column_elements(q, rank, kids, sig, src_col, dst_col, exit_y, g, packed_west)
        stack = _Stack(g.mode_pitch, half)
        _place(elements, stack, exit_y)
        width = max((kids[e.child].width for e in elements if e.child is not None), default=0.0)
        # route the signals entering this column from the previous one
        entering = np.concatenate([e.members for e in elements]) if elements else np.zeros(0, dtype=np.int64)
        dest_y = np.concatenate([e.local_y + e.offset for e in elements]) if elements else np.zeros(0)
        if q > 0 and entering.size:
            start = x + prev_width
            route = route_channel(exit_x[entering], exit_y[entering], dest_y, start, rules, g.stage_gap)
            segments.append(route.segments)
            bends.append(route.bends)
            crossing_xy.append(route.crossing_xy)
            paths[:, entering] += np.stack([route.net_length, route.net_bends, route.net_crossings])
            crossings, tracks, detours = crossings + route.crossings, max(tracks, route.tracks), detours + route.detours
            x = start + route.length
            cuts.append((x, np.sort(dest_y)[::-1]))
        elif q > 0:
            x += prev_width
        column_x.append(x)
        # record where each signal now is
        for e in elements:
            y = e.local_y + e.offset
            if e.child is None:  # a bundle spans the column
                exit_y[e.members], exit_x[e.members] = y, x + width
                if width > 0:
                    segments.append(np.stack([np.full(y.size, x), np.full(y.size, x + width), y], axis=1))
                    paths[0, e.members] += width
                if q == 0:
                    from_west = src[e.members] == WEST
                    west_port_y[src_ch[e.members[from_west]]] = y[from_west]
            else:
                offsets[e.child] = e.offset
                entry_y[e.members], entry_x[e.members] = y, x
                out = np.flatnonzero(src == e.child)
                exit_y[out] = kids[e.child].east_y[src_ch[out]] + e.offset
                exit_x[out] = x + kids[e.child].width
                if q == 0:
                    from_west = src[e.members] == WEST
                    west_port_y[src_ch[e.members[from_west]]] = y[from_west]
        prev_width = width
    end = x + prev_width
    outs = np.flatnonzero(dst == EAST)
    ext = outs[exit_x[outs] < end - _EPS]  # outputs of shorter children run on to the east edge
    if ext.size:
        segments.append(np.stack([exit_x[ext], np.full(ext.size, end), exit_y[ext]], axis=1))
        paths[0, ext] += end - exit_x[ext]
    entry_y[outs], entry_x[outs] = exit_y[outs], end
    east_port_y = np.empty(block.n_out)
    east_port_y[dst_ch[outs]] = exit_y[outs]

    wires = _wires(sig, src, src_col, column_x, kids, rank, offsets, entry_x, entry_y, west_port_y, segments, bends,
                   rules.radius, crossings, tracks, detours)
    wires = replace(wires, crossing_xy=np.concatenate(crossing_xy), signal_paths=paths)
    children = _placements(block, kids, rank, column_x, offsets)
    bbox = union([placement_box(c) for c in children] + [wires.box(g)])
    mzis = sum(c.plan.mzis * c.count for c in children)
    role = block.role or "composite"
    info = {"crossings": crossings, "tracks": tracks, "detours": detours, "mzis": mzis}
    origins = np.stack([np.array(column_x)[rank], offsets], axis=1) if n_kids else np.zeros((0, 2))
    return Plan(key=key, name=composite_cell_name(block), kind=role, width=end,
                west_y=west_port_y, east_y=east_port_y, bbox=bbox, prims=(), children=children, wires=wires,
                mzis=mzis, info=info, origins=origins, column_cuts=tuple(cuts))


def _column_elements(q: int, rank: np.ndarray, kids: list[Plan], sig: np.ndarray, src_col: np.ndarray,
                     dst_col: np.ndarray, exit_y: np.ndarray, g: DeviceGeometry, packed_west: bool) -> list[_Element]:
    src, src_ch, dst, dst_ch = sig.T
    elements: list[_Element] = []
    for i in np.flatnonzero(rank == q).tolist():
        members = np.flatnonzero(dst == i)
        local = kids[i].west_y[dst_ch[members]]
        lo, hi = kids[i].extent
        e = _Element(i, members, local, lo, hi)
        known = ~np.isnan(exit_y[members])  # placed in an earlier column (a child's output or a bundle)
        if known.any():
            e.desired = _best_offset(exit_y[members[known]], local[known], g.mode_pitch / 2)
        inputs = src_ch[members[src[members] == WEST]]
        e.order_key = (-int(known.sum()), 0 if inputs.size else 1, int(inputs.min()) if inputs.size else 0, i)
        elements.append(e)
    crossing = np.flatnonzero((src_col < q) & (q < dst_col))
    groups: dict[tuple[int, int], list[int]] = {}
    for s in crossing.tolist():  # bundles: signals from one source to one destination cross together
        groups.setdefault((int(src[s]), int(dst[s])), []).append(s)
    for (source, target), members in groups.items():
        members = np.array(members, dtype=np.int64)
        if q > 0 or source != WEST:
            local = exit_y[members].copy()  # keep their heights: straight through
            desired: float | None = 0.0
        else:  # from the west edge: space them as their destination expects (or packed, in its order)
            local = (kids[target].west_y[dst_ch[members]] if target != EAST
                     else -dst_ch[members] * g.mode_pitch).astype(np.float64)
            if packed_west:
                local[np.argsort(-local, kind="stable")] = -np.arange(local.size) * g.mode_pitch
            desired = None
        e = _Element(None, members, local, local.min() - g.wg_width / 2, local.max() + g.wg_width / 2)
        e.desired = desired
        first_input = int(src_ch[members].min()) if source == WEST else 0
        e.order_key = (-members.size if desired is not None else 0, 0 if source == WEST else 1, first_input, -1)
        elements.append(e)
    return elements


def _straightest_offset(diffs: np.ndarray) -> float:
    """Offset that makes the most incoming signals straight; with no two alike, the lower median.

    (A bias combiner takes its signals at one offset and its bias lines at another: the signals,
    which continue the layer, stay straight, and only the bias lines are routed.)
    """
    values, counts = np.unique(np.round(diffs, 6), return_counts=True)
    ordered = np.sort(diffs)
    median = float(ordered[(ordered.size - 1) // 2])
    if counts.max() < 2:
        return median
    best = values[counts == counts.max()]
    return float(best[np.argmin(np.abs(best - median))])


def _best_offset(source_y: np.ndarray, port_y: np.ndarray, half: float) -> float:
    """Offset for an element whose ports ``port_y`` receive signals arriving at ``source_y``.

    Candidates: the straightest offset and the same ± half a pitch. Each is charged one per
    signal that must be routed, plus one per routed signal that starts at the height where
    another routed signal ends: the router must then turn the first before the second, which
    fights its crossing-free order (a fan-out whose blocks sit on its leaves' lattice has dozens
    of such pairs; shifted by half a pitch it has none, and crosses each swapped pair once).
    """
    base = _straightest_offset(source_y - port_y)

    def cost(offset: float) -> int:
        dest = port_y + offset
        moving = np.abs(dest - source_y) > _EPS
        starts = np.round(source_y[moving], 3)
        ends = np.round(dest[moving], 3)
        return int(moving.sum()) + int(np.isin(starts, ends).sum())

    return min((base, base - half, base + half), key=cost)


def _place(elements: list[_Element], stack: _Stack, exit_y: np.ndarray) -> None:
    anchored = sorted((e for e in elements if e.desired is not None), key=lambda e: e.order_key)
    stacked = sorted((e for e in elements if e.desired is None), key=lambda e: e.order_key)
    for e in anchored:
        e.offset = stack.nearest(e, e.desired)
        stack.take(e)
    for e in stacked:
        e.offset = stack.below(e)
        stack.take(e)


def _wires(sig, src, src_col, column_x, kids, rank, offsets, entry_x, entry_y, west_port_y, segments, bends,
           radius, crossings, tracks, detours) -> Wires:
    """All drawn waveguides, and the two ends of every signal that has length (the wires cell's ports)."""
    src_ch = sig[:, 1]
    from_west = src == WEST
    start_x = np.zeros(sig.shape[0])
    start_y = np.empty(sig.shape[0])
    start_y[from_west] = west_port_y[src_ch[from_west]]
    for child, plan in enumerate(kids):
        mine = np.flatnonzero(src == child)
        start_x[mine] = column_x[rank[child]] + plan.width
        start_y[mine] = plan.east_y[src_ch[mine]] + offsets[child]
    drawn = entry_x - start_x > _EPS
    segs = np.concatenate(segments) if segments else np.zeros((0, 3))
    segs = segs[segs[:, 1] - segs[:, 0] > _EPS]
    return Wires(
        segs, np.concatenate(bends) if bends else np.zeros((0, 3)), 2 * radius,
        np.stack([start_x[drawn], start_y[drawn]], axis=1), np.stack([entry_x[drawn], entry_y[drawn]], axis=1),
        crossings, tracks, detours,
    )


def _placements(block: Composite, kids: list[Plan], rank: np.ndarray, column_x: list[float],
                offsets: np.ndarray) -> tuple[Placement, ...]:
    """Children as placements; identical children stacked at one pitch in a column become one array."""
    names = [child.name.rsplit("/", 1)[-1] for child in block.children]
    out: list[Placement] = []
    for q, x in enumerate(column_x):
        members = [i for i in np.flatnonzero(rank == q).tolist()]
        by_key: dict[str, list[int]] = {}
        for i in members:
            by_key.setdefault(kids[i].key, []).append(i)
        for same in by_key.values():
            same.sort(key=lambda i: offsets[i])
            ys = offsets[same]
            steps = np.diff(ys)
            if len(same) > 1 and np.allclose(steps, steps[0]) and steps[0] > 0:
                label = f"{names[same[-1]]}..{names[same[0]]}"  # rows count upward: the last row is the top child
                out.append(Placement(kids[same[0]], label, x, float(ys[0]), rows=len(same), row_pitch=float(steps[0])))
            else:
                out.extend(Placement(kids[i], names[i], x, float(offsets[i])) for i in same)
    return tuple(out)
