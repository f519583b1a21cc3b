"""Floorplan: the layout plan cut into die-sized slices, placed on dies in rows (numpy, no gdsfactory).

The design's plan (``plan.py``) is one west-to-east chain. A vertical line may cut it only where
every waveguide it meets abuts or runs straight (:class:`Cutter`): at the west edge of a column of
a composite (where the routed signals enter it), between two MZI columns of a mesh, or anywhere
inside a column where each child is itself cut there and everything else is a straight. A cut
never passes through a cell or a bend, so the two sides of a cut are plans of their own
(``Cutter.slice``), drawn by the same code as the unfolded layout, hierarchy and arrays kept.

Dies (``plan_dies``) are filled west to east: each die takes the most rows that fit, each row the
longest slice that fits the die's width, rows joined by U-turn bundles (``fold.py``); then fewer
rows, then one; it backs up where the rest could not be placed (greedy, not a proof of the fewest
dies). The first row's west waveguides and the last row's east waveguides run through fan-outs
(``router.route_channel``) to ``edge_coupler`` cells at the fibre-array pitch on the die's edges:
the server inputs and broadcast outputs on the first and last die, the signals of each inter-die
link on the two dies it joins. A ``die_frame`` cell outlines the die and names it. The die plan is
what the layout draws, so the drawn dies equal this plan (same slices, same positions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from optinc_pdk.circuit.model import Block, Composite
from optinc_pdk.errors import OptincError
from optinc_pdk.layout import fold
from optinc_pdk.layout.compose import child_ranks
from optinc_pdk.layout.plan import Placement, Plan, Prim, Wires, digest, placement_box, plan_heaters, prim_box, union
from optinc_pdk.layout.planner import Planner
from optinc_pdk.layout.router import RouterRules, route_channel
from optinc_pdk.pdk import dimensions as dim
from optinc_pdk.spec.dies import DIES
from optinc_pdk.spec.geometry import DeviceGeometry

#: Die presets (mm): an optical-lithography reticle field, and CORNERSTONE's MPW cells (cspdk 2.1 ``cspdk.si220``).
DIE_PRESETS = {name: (spec.width / 1000, spec.height / 1000) for name, spec in DIES.items()}  # mm, one table: spec/dies.py
FIBRE_PITCH_UM = dim.FIBRE_PITCH_UM
DIE_MARGIN_UM = 100.0  # kept free along the top and bottom edges (dicing lane, frame label)
_TOL = 1e-3  # µm: coordinates are on a 1 nm grid
_FANOUTS: dict[tuple[str, str], Plan] = {}  # (geometry, ports and couplers) → the fan-out: equal ones on many dies


def parse_die(text: str) -> tuple[str, float, float]:
    """(name, width mm, height mm) from a preset name or ``WxH`` in mm (``x``, ``X`` or ``×``)."""
    key = text.strip().lower()
    if key in DIE_PRESETS:
        return key, *DIE_PRESETS[key]
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*[x×]\s*([0-9]*\.?[0-9]+)\s*", key)
    if not match or min(float(match[1]), float(match[2])) <= 0:
        raise OptincError(f"--die: {text!r}: give W×H in mm (e.g. 26x33) or a preset: {', '.join(DIE_PRESETS)}")
    w, h = float(match[1]), float(match[2])
    return f"{w:g}x{h:g}mm", w, h


class Cutter:
    """Where a plan may be cut (``cuts``), which waveguides a cut meets (``heights``), and the slices."""

    def __init__(self, geometry: DeviceGeometry) -> None:
        self.g = geometry
        self._cuts: dict[str, np.ndarray] = {}
        self._heights: dict[tuple[str, float], np.ndarray] = {}
        self._slices: dict[tuple[str, float, float], Plan] = {}

    @staticmethod
    def _is_mesh(plan: Plan) -> bool:
        return plan.kind == "mesh"

    def cuts(self, plan: Plan) -> np.ndarray:
        """Sorted x (plan frame) strictly inside the plan where it may be cut."""
        if plan.key in self._cuts:
            return self._cuts[plan.key]
        if self._is_mesh(plan):
            found = np.arange(1, plan.info["columns"] + 1) * dim.mzi_length(self.g)
        elif plan.wires is not None:
            inside = [place.x + self.cuts(place.plan) for place in plan.children if place.columns == 1]
            candidates = np.unique(np.concatenate(inside)) if inside else np.zeros(0)
            candidates = candidates[self._cuttable_inside(plan, candidates)]
            own = np.array([x for x, _ in plan.column_cuts])
            found = np.unique(np.concatenate([own, candidates]))
        else:
            found = np.zeros(0)
        self._cuts[plan.key] = found[(found > _TOL) & (found < plan.width - _TOL)]
        return self._cuts[plan.key]

    def _cuttable_inside(self, plan: Plan, xs: np.ndarray) -> np.ndarray:
        """Mask of the x inside columns where every child there is cut at x and no bend or straight ends."""
        ok = np.ones(xs.size, dtype=bool)
        w = plan.wires
        if w.segments.size:
            ends = np.unique(w.segments[:, :2])
            at = np.clip(np.searchsorted(ends, xs), 1, ends.size - 1) if ends.size > 1 else np.zeros(xs.size, int)
            near = np.minimum(np.abs(ends[at] - xs), np.abs(ends[np.maximum(at - 1, 0)] - xs))
            ok &= near >= _TOL
        if w.bends.size:
            start = np.sort(w.bends[:, 0])
            # a bend covers x when it starts within bend_length before x
            first = np.searchsorted(start, xs - w.bend_length - _TOL, side="right")
            last = np.searchsorted(start, xs + _TOL, side="left")
            ok &= last <= first
        for place in plan.children:
            lo, hi = place.x, place.x + place.plan.width + (place.columns - 1) * place.column_pitch
            inside = (lo - _TOL < xs) & (xs < hi + _TOL)
            if not inside.any():
                continue
            if place.columns != 1:
                ok &= ~inside
                continue
            mine = self.cuts(place.plan) + lo
            at = np.clip(np.searchsorted(mine, xs), 1, max(mine.size - 1, 1)) if mine.size else None
            hit = (np.zeros(xs.size, bool) if at is None else
                   (np.abs(mine[np.minimum(at, mine.size - 1)] - xs) < _TOL) | (np.abs(mine[at - 1] - xs) < _TOL))
            ok &= ~inside | hit
        return ok

    def counts(self, plan: Plan, xs: np.ndarray) -> np.ndarray:
        """``heights(plan, x).size`` for every x at once (the signals a cut meets), vectorised."""
        xs = np.asarray(xs, dtype=np.float64)
        if self._is_mesh(plan):
            return np.full(xs.size, plan.west_y.size)
        out = np.zeros(xs.size, dtype=np.int64)
        if plan.wires is None:  # a leaf other than a mesh is never cut
            return out
        s = plan.wires.segments
        if s.size:
            out += np.searchsorted(np.sort(s[:, 0]), xs, "left") - np.searchsorted(np.sort(s[:, 1]), xs, "right")
        for place in plan.children:
            inside = (place.x < xs) & (xs < place.x + place.plan.width)
            if inside.any():
                out[inside] += self.counts(place.plan, xs[inside] - place.x) * place.rows
        for cx, ys in plan.column_cuts:
            out[np.abs(xs - cx) < _TOL] = ys.size
        return out

    def heights(self, plan: Plan, x: float) -> np.ndarray:
        """y (plan frame, descending) of every waveguide that a cut at x meets."""
        key = (plan.key, round(x, 3))
        if key not in self._heights:
            self._heights[key] = self._find_heights(plan, x)
        return self._heights[key]

    def _find_heights(self, plan: Plan, x: float) -> np.ndarray:
        if self._is_mesh(plan):
            return np.sort(plan.west_y)[::-1]
        for cx, ys in plan.column_cuts:
            if abs(cx - x) < _TOL:
                return ys
        parts = []
        s = plan.wires.segments
        if s.size:
            parts.append(s[(s[:, 0] < x) & (x < s[:, 1]), 2])
        for place in plan.children:
            if place.x < x < place.x + place.plan.width:
                inner = self.heights(place.plan, x - place.x) + place.y
                parts += [inner + r * place.row_pitch for r in range(place.rows)]
        return np.sort(np.concatenate(parts))[::-1] if parts else np.zeros(0)

    def slice(self, plan: Plan, a: float, b: float) -> Plan:
        """The part of ``plan`` between the cuts a < b (or its edges), as a plan whose x = 0 is a."""
        if a <= _TOL and b >= plan.width - _TOL:
            return plan
        key = (plan.key, round(a, 3), round(b, 3))
        if key not in self._slices:
            self._slices[key] = self._slice(plan, a, b)
        return self._slices[key]

    def _slice(self, plan: Plan, a: float, b: float) -> Plan:
        west = plan.west_y if a <= _TOL else self.heights(plan, a)
        east = plan.east_y if b >= plan.width - _TOL else self.heights(plan, b)
        if self._is_mesh(plan):
            children, prims, wires = self._slice_mesh(plan, a, b)
        else:
            children, prims, wires = self._slice_composite(plan, a, b), (), self._slice_wires(plan.wires, a, b)
        boxes = [placement_box(c) for c in children] + [prim_box(p, self.g) for p in prims]
        boxes.append(wires.box(self.g) if wires is not None else None)
        mzis = sum(c.plan.mzis * c.count for c in children) + sum(p.count for p in prims if p.cell.startswith("mzi"))
        return Plan(key=digest(plan.key, "slice", round(a, 3), round(b, 3)), name=f"{plan.name}_from{round(a)}um",
                    kind=plan.kind, width=b - a, west_y=west, east_y=east, bbox=union(boxes), prims=prims,
                    children=children, wires=wires, mzis=mzis, info={"mzis": mzis, "slice_of": plan.name})

    def _slice_composite(self, plan: Plan, a: float, b: float) -> tuple[Placement, ...]:
        out = []
        for place in plan.children:
            lo, hi = place.x, place.x + place.plan.width
            if hi <= a + _TOL or lo >= b - _TOL:
                continue
            if lo >= a - _TOL and hi <= b + _TOL:
                out.append(Placement(place.plan, place.name, place.x - a, place.y, rows=place.rows,
                                     row_pitch=place.row_pitch))
                continue
            ca, cb = max(a - lo, 0.0), min(b - lo, place.plan.width)
            out.append(Placement(self.slice(place.plan, ca, cb), place.name, lo + ca - a, place.y, rows=place.rows,
                                 row_pitch=place.row_pitch))
        return tuple(out)

    def _slice_wires(self, wires: Wires, a: float, b: float) -> Wires:
        s = wires.segments.copy()
        s[:, 0], s[:, 1] = np.maximum(s[:, 0], a), np.minimum(s[:, 1], b)
        s = s[s[:, 1] - s[:, 0] > _TOL] - (a, a, 0.0)
        bends = wires.bends
        inside = (bends[:, 0] >= a - _TOL) & (bends[:, 0] + wires.bend_length <= b + _TOL)
        outside = (bends[:, 0] + wires.bend_length <= a + _TOL) | (bends[:, 0] >= b - _TOL)
        if not (inside | outside).all():  # cuts avoid bends: a planner bug, never a user error
            raise OptincError(f"floorplan: a cut at {a:.3f} or {b:.3f} µm meets a waveguide bend")
        z2 = np.zeros((0, 2))
        return Wires(s, bends[inside] - (a, 0.0, 0.0), wires.bend_length, z2, z2)

    def _slice_mesh(self, plan: Plan, a: float, b: float):
        length = dim.mzi_length(self.g)
        children = []
        for place in plan.children:
            xs = place.x + np.arange(place.columns) * place.column_pitch
            keep = np.flatnonzero((xs >= a - _TOL) & (xs + length <= b + _TOL))
            if keep.size:
                children.append(Placement(place.plan, f"col{round(xs[keep[0]] / length)}", xs[keep[0]] - a, place.y,
                                          columns=keep.size, column_pitch=place.column_pitch))
        prims = tuple(Prim(p.cell, p.params, p.x - a, p.y, rows=p.rows, row_pitch=p.row_pitch)
                      for p in plan.prims if p.x >= a - _TOL and p.x <= b + _TOL and p.x + _TOL < b)
        return tuple(children), prims, None


# --- dies ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DieFit:
    """A die plan that fits: the plan, its rows (design x0, x1, slice box on the die), its couplers."""

    plan: Plan
    rows: tuple[tuple[float, float, tuple[float, float, float, float]], ...]
    couplers_west: int
    couplers_east: int


@dataclass(frozen=True)
class Die:
    index: int
    name: str  # its top cell's name
    plan: Plan  # the die cell's plan: frame, couplers, fan-outs, rows of slices, U-turns; corner at (0, 0)
    rows: tuple[tuple[float, float, tuple[float, float, float, float]], ...]  # design x0, x1, slice box on the die
    couplers_west: int
    couplers_east: int
    mzis: int
    part: str = ""  # a side-by-side design (a cascade): the child of the top block it holds

    @property
    def x0_um(self) -> float:
        return self.rows[0][0]

    @property
    def x1_um(self) -> float:
        return self.rows[-1][1]

    @property
    def device_area_mm2(self) -> float:
        return sum((x1 - x0) * (y1 - y0) for _, _, (x0, y0, x1, y1) in self.rows) / 1e6

    def to_dict(self, die_w_um: float, die_h_um: float) -> dict:
        device = self.device_area_mm2
        return {"die": self.index, "cell": self.name, **({"part": self.part} if self.part else {}),
                "design_x_um": [round(self.x0_um, 3), round(self.x1_um, 3)],
                "rows": [{"design_x_um": [round(a, 3), round(b, 3)], "box_um": [round(float(v), 3) for v in box]}
                         for a, b, box in self.rows],
                "device_area_mm2": round(float(device), 4),
                "utilisation": round(float(device) / (die_w_um * die_h_um / 1e6), 4), "mzis": self.mzis,
                "heaters": plan_heaters(self.plan), "edge_couplers_west": self.couplers_west,
                "edge_couplers_east": self.couplers_east}


@dataclass(frozen=True)
class Floorplan:
    design: str
    die: str  # preset name or WxHmm
    die_w_um: float
    die_h_um: float
    dies: tuple[Die, ...]
    links: tuple[dict, ...]  # one per inter-die link: dies, cut position, signals
    io: dict  # optical I/O on edge couplers: inputs (first die, west), outputs (last die, east)
    mzis: int

    @property
    def device_area_mm2(self) -> float:
        return sum(d.device_area_mm2 for d in self.dies)

    def to_dict(self) -> dict:
        area = self.die_w_um * self.die_h_um / 1e6
        return {"design": self.design, "die": self.die, "die_mm": [self.die_w_um / 1000, self.die_h_um / 1000],
                "dies": len(self.dies), "die_area_mm2": round(area, 4),
                "device_area_mm2": round(self.device_area_mm2, 4),
                "utilisation": round(self.device_area_mm2 / (area * len(self.dies)), 4),
                "fibre_pitch_um": FIBRE_PITCH_UM, "edge_couplers": sum(d.couplers_west + d.couplers_east for d in self.dies),
                "optical_io": self.io, "inter_die_links": list(self.links), "mzis": self.mzis,
                "per_die": [d.to_dict(self.die_w_um, self.die_h_um) for d in self.dies]}


class DiePlanner:
    """Builds die plans for slices of one design plan: couplers, fan-outs, frame; checks the fit."""

    def __init__(self, design: Plan, name: str, die: tuple[str, float, float], geometry: DeviceGeometry,
                 fold_rows: bool = True) -> None:
        self.design, self.name, self.g, self.fold_rows = design, name, geometry, fold_rows
        self.die_name, self.w, self.h = die[0], die[1] * 1000, die[2] * 1000
        self.cutter = Cutter(geometry)
        self.rules = RouterRules.from_geometry(geometry)
        self.coupler = dim.edge_coupler_length(geometry)
        self.gkey = digest(geometry.model_dump_json())

    def admissible(self, stops: np.ndarray) -> np.ndarray:
        """The cuts whose signals fit one die edge at the fibre pitch (the design's east end always)."""
        room_y = self.h - 2 * DIE_MARGIN_UM
        signals = np.concatenate([self.cutter.counts(self.design, stops[:-1]), [0]])
        return stops[(signals - 1) * FIBRE_PITCH_UM <= room_y]

    def fits(self, index: int, a: float, stops: np.ndarray):
        """Die plans starting at cut ``a``, best first: the most rows that fit (each the longest slice
        that fits the die's width), then fewer rows, then one row, longest first."""
        rows = self._greedy_rows(a, stops) if self.fold_rows else [a]
        for m in range(len(rows) - 1, 1, -1):  # m rows; the last one may have to be shorter (its fan-out)
            ends = [x for x in self.candidates(rows[m - 1], stops) if x <= rows[m] + _TOL]
            if not ends or self.die_plan(index, rows[:m] + [ends[0]]) is None:
                continue  # not even with the shortest last row: the rows above leave no room
            for b in ends[::-1]:
                fit = self.die_plan(index, rows[:m] + [b])
                if fit is not None:
                    yield fit
                    break
        for b in self.candidates(a, stops)[::-1]:
            fit = self.die_plan(index, [a, b])
            if fit is not None:
                yield fit

    def _greedy_rows(self, a: float, stops: np.ndarray) -> list[float]:
        """Row cuts from ``a``: each row the longest slice that fits the die's width as a middle row
        (U-turn legs on both sides), while the rows' heights and lanes fit the die's height."""
        g, rows, height = self.g, [a], 0.0
        while rows[-1] < self.design.width - _TOL:
            start = rows[-1]
            entering = int(self.cutter.counts(self.design, [start])[0]) if start > _TOL else 0
            pick = None
            for b in self.candidates(start, stops)[::-1]:
                piece = self.cutter.slice(self.design, start, b)
                left = self.coupler if len(rows) == 1 else fold.west_room(entering, g)
                leaving = 0 if b >= self.design.width - _TOL else int(self.cutter.counts(self.design, [b])[0])
                if piece.bbox is not None and left + piece.bbox.width + fold.east_room(leaving, g) <= self.w:
                    pick = b, piece.bbox.height, leaving
                    break
            if pick is None:
                break
            height += pick[1] + (fold.lane_gap(entering, g) if len(rows) > 1 else 0.0)
            if height > self.h - 2 * DIE_MARGIN_UM:
                break
            rows.append(pick[0])
        return rows

    def candidates(self, a: float, stops: np.ndarray) -> list[float]:
        """Admissible cuts b > a whose slice is no longer than the die (``die_plan`` tests the rest)."""
        room_x = self.w - 2 * self.coupler
        return stops[(stops > a + _TOL) & (stops - a <= room_x + _TOL)].tolist()

    def _fanout(self, west: np.ndarray, east: np.ndarray, key: str, name: str) -> Plan:
        cached = _FANOUTS.get((self.gkey, key))
        if cached is None:
            cached = _FANOUTS[(self.gkey, key)] = self._route_fanout(west, east, key, name)
        return cached

    def _route_fanout(self, west: np.ndarray, east: np.ndarray, key: str, name: str) -> Plan:
        route = route_channel(np.zeros(west.size), west, east, 0.0, self.rules, self.g.stage_gap)
        ends = np.stack([np.full(east.size, route.length), east], axis=1)
        wires = Wires(route.segments, route.bends, 2 * self.rules.radius, np.stack([np.zeros(west.size), west], 1), ends,
                      route.crossings, route.tracks, route.detours)
        return Plan(key=key, name=name, kind="fanout", width=route.length, west_y=west, east_y=east,
                    bbox=wires.box(self.g), wires=wires, info={"crossings": route.crossings})

    def coupler_heights(self, west: np.ndarray, east: np.ndarray, box) -> tuple[np.ndarray, np.ndarray]:
        """Fibre-pitch heights (descending) of the west and east couplers: each column centred on the
        ports it serves, moved the least needed to keep both columns and the slice (``box``) within
        a band as tall as the tallest of the three."""
        spans = [max(p.size - 1, 0) * FIBRE_PITCH_UM for p in (west, east)]
        tall = max(spans + [box.height if box is not None else 0.0])
        centres = [(p.max() + p.min()) / 2 if p.size else 0.0 for p in (west, east)]
        if box is not None:
            floor = float(np.clip(np.mean(centres) - tall / 2, box.ymax - tall, box.ymin))
        else:
            floor = float(np.mean(centres) - tall / 2)
        out = []
        for ports, span, centre in zip((west, east), spans, centres):
            centre = float(np.clip(centre, floor + span / 2, floor + tall - span / 2))
            out.append(self._clear(ports, np.round(centre + ((ports.size - 1) / 2 - np.arange(ports.size))
                                                   * FIBRE_PITCH_UM, 3)))
        return out[0], out[1]

    def _clear(self, ports: np.ndarray, couplers: np.ndarray) -> np.ndarray:
        """The coupler column moved by whole µm until no fan-out net's vertical straight (|dy| − 2R)
        is as long as the waveguide is wide: its sides would read back as waveguide ends."""
        g = self.g
        for shift in (0, 1, -1, 2, -2, 3, -3):
            gap = np.abs(np.abs(ports - couplers - shift) - 2 * g.bend_radius - g.wg_width)
            if not (gap < 0.01).any():
                return couplers + shift
        return couplers

    def die_plan(self, index: int, cuts: list[float]) -> DieFit | None:
        """The plan of a die holding the design between consecutive ``cuts``, one row per slice (rows
        joined by U-turns, ``fold.py``), or None if it does not fit."""
        g, room_y = self.g, self.h - 2 * DIE_MARGIN_UM
        pieces = [self.cutter.slice(self.design, a, b) for a, b in zip(cuts, cuts[1:])]
        if any(p.bbox is None or p.bbox.height > room_y for p in pieces):
            return None  # the cheap tests first: a fan-out is routed only for slices that may fit
        first, last = pieces[0], pieces[-1]
        west_ports, east_ports = np.sort(first.west_y)[::-1], np.sort(last.east_y)[::-1]
        if len(pieces) == 1:
            west_c, east_c = self.coupler_heights(west_ports, east_ports, first.bbox)
        else:
            west_c = self.coupler_heights(west_ports, np.zeros(0), first.bbox)[0]
            east_c = self.coupler_heights(np.zeros(0), east_ports, last.bbox)[1]
        fan_w = self._fanout(west_c, west_ports, digest("fan", west_c, west_ports), f"fanin_{first.name}")
        xs = self._row_x(pieces, fan_w)
        if xs is None:
            return None
        fan_e = self._fanout(east_ports, east_c, digest("fan", east_ports, east_c), f"fanout_{last.name}")
        room = self.w - self.coupler - (xs[-1] + last.width + fan_e.width)
        if room < -_TOL:
            return None
        extents = [[p.bbox.ymin, p.bbox.ymax] for p in pieces]
        for k, fan, ys in ((0, fan_w, west_c), (-1, fan_e, east_c)):
            for box in (fan.bbox,) if fan.bbox is not None else ():
                extents[k] = [min(extents[k][0], box.ymin), max(extents[k][1], box.ymax)]
            if ys.size:
                extents[k] = [min(extents[k][0], ys.min()), max(extents[k][1], ys.max())]
        dys, bottom = [], 0.0
        for k, (lo, hi) in enumerate(extents):  # rows top down, a U-turn's lanes between two rows
            dys.append(-hi if k == 0 else bottom - fold.lane_gap(pieces[k - 1].east_y.size, g) - hi)
            bottom = dys[-1] + lo
        if -bottom > room_y + _TOL:
            return None
        shift = round(self.h / 2 - bottom / 2, 3)  # centred vertically
        dys = [round(dy + shift, 3) for dy in dys]
        return self._assemble(index, pieces, cuts, xs, dys, extents, fan_w, fan_e, west_c, east_c, room)

    def _row_x(self, pieces: list[Plan], fan_w: Plan) -> list[float] | None:
        """x of each row's slice on the die: after the fan-in, or after the U-turn's legs; None if too wide."""
        g, xs = self.g, []
        for k, piece in enumerate(pieces):
            x = self.coupler + fan_w.width if k == 0 else fold.west_room(pieces[k - 1].east_y.size, g) - piece.bbox.xmin
            if k < len(pieces) - 1 and x + piece.bbox.xmax + fold.east_room(piece.east_y.size, g) > self.w + _TOL:
                return None
            if x + piece.width + self.coupler > self.w + _TOL:
                return None
            xs.append(x)
        return xs

    def _assemble(self, index, pieces, cuts, xs, dys, extents, fan_w, fan_e, west_c, east_c, room) -> DieFit:
        g, last = self.g, len(pieces) - 1
        if room > _TOL and east_c.size:  # the east fan-out's straights run on to the couplers at the die's edge
            w = fan_e.wires
            tail = np.stack([np.full(east_c.size, fan_e.width), np.full(east_c.size, fan_e.width + room), east_c], 1)
            wires = Wires(np.concatenate([w.segments, tail]), w.bends, w.bend_length, w.starts, w.ends, w.crossings,
                          w.tracks, w.detours)
            fan_e = Plan(key=digest(fan_e.key, room), name=fan_e.name, kind="fanout", width=fan_e.width + room,
                         west_y=fan_e.west_y, east_y=fan_e.east_y, bbox=wires.box(g), wires=wires, info=fan_e.info)
        names = ["design"] if last == 0 else [f"row{k}" for k in range(last + 1)]
        children = [Placement(p, n, x, dy) for p, n, x, dy in zip(pieces, names, xs, dys)]
        if west_c.size:
            children.insert(0, Placement(fan_w, "fan_in", self.coupler, dys[0]))
        if east_c.size:
            children.append(Placement(fan_e, "fan_out", xs[-1] + pieces[-1].width, dys[-1]))
        if last > 0:
            children.append(Placement(self._uturns(pieces, xs, dys, extents), "uturns", 0.0, 0.0))
        prims = [Prim("die_frame", (("width", self.w), ("height", self.h), ("label", self._label(index))), 0.0, 0.0)]
        for side, ys, x, dy in (("west", west_c, 0.0, dys[0]), ("east", east_c, self.w - self.coupler, dys[-1])):
            if ys.size:
                prims.append(Prim("edge_coupler", (("facet", side),), x, float(ys.min()) + dy, rows=ys.size,
                                  row_pitch=FIBRE_PITCH_UM))
        name = f"{self.name}_die{index}"
        mzis = sum(p.mzis for p in pieces)
        plan = Plan(key=digest("die", self.w, self.h, name, tuple(c.plan.key for c in children), tuple(dys)), name=name,
                    kind="die", width=self.w, west_y=west_c + dys[0], east_y=east_c + dys[-1],
                    bbox=union([placement_box(c) for c in children] + [prim_box(p, g) for p in prims]),
                    prims=tuple(prims), children=tuple(children), mzis=mzis,
                    info={"mzis": mzis, "die_w_um": self.w, "die_h_um": self.h, "rows": last + 1})
        rows = tuple((a, b, (p.bbox.xmin + x, p.bbox.ymin + dy, p.bbox.xmax + x, p.bbox.ymax + dy))
                     for a, b, p, x, dy in zip(cuts, cuts[1:], pieces, xs, dys))
        return DieFit(plan, rows, int(west_c.size), int(east_c.size))

    def _uturns(self, pieces, xs, dys, extents) -> Plan:
        """Every U-turn of a folded die, as one plan in the die's frame."""
        parts = [fold.uturns(np.sort(pieces[k].east_y)[::-1] + dys[k], xs[k] + pieces[k].width,
                             xs[k] + pieces[k].bbox.xmax, np.sort(pieces[k + 1].west_y)[::-1] + dys[k + 1], xs[k + 1],
                             extents[k][0] + dys[k], self.g) for k in range(len(pieces) - 1)]
        wires = Wires(*(np.concatenate([getattr(w, f) for w in parts]) for f in ("segments", "bends")),
                      2 * self.g.bend_radius, *(np.concatenate([getattr(w, f) for w in parts]) for f in ("starts", "ends")),
                      verticals=np.concatenate([w.verticals for w in parts]),
                      corners=np.concatenate([w.corners for w in parts]))
        key = digest("uturns", wires.segments, wires.verticals)
        return Plan(key=key, name="uturns", kind="uturns", width=self.w, west_y=np.zeros(0), east_y=np.zeros(0),
                    bbox=wires.box(self.g), wires=wires, info={"signals": int(wires.starts.shape[0])})

    def _label(self, index: int) -> str:
        return f"{self.name} die {index} ({self.die_name})"


_PLANNERS: dict[str, Planner] = {}


def packed_planner(geometry: DeviceGeometry) -> Planner:
    """One packed planner per geometry for the process: its plans are keyed by content, so scenarios
    that share layers (the b16n4 variants, say) plan them once (``optinc area`` over every scenario)."""
    key = geometry.model_dump_json()
    if key not in _PLANNERS:
        _PLANNERS[key] = Planner(geometry, packed_west=True)
    return _PLANNERS[key]


def floorplan_of(top: Block, name: str, die: tuple[str, float, float], geometry: DeviceGeometry,
                 planner: Planner | None = None) -> Floorplan:
    """The die plan of a description's top block: planned with packed west bundles, then cut onto dies.

    Packed (``Planner(packed_west=True)``): a bias stage's signals enter at the mode pitch and spread
    inside it, beside the bias light, instead of arriving spread above it: the 256-wide bias stage
    is 25.7 mm tall instead of 38.4 mm, under a reticle's 33 mm (the unfolded build keeps its layout).
    A top block whose children work side by side (a cascade's level-1 OptINCs) is floorplanned child
    by child, each a chain of its own, and the links between children become inter-die links.
    """
    planner = planner or packed_planner(geometry)
    if isinstance(top, Composite) and len(set(child_ranks(top).tolist())) < len(top.children):
        return _plan_children(top, planner, name, die, geometry)  # two children share a column
    return plan_dies(planner.plan(top), name, die, geometry)


def _plan_children(top: Block, planner: Planner, name: str, die, geometry) -> Floorplan:
    """Each child of ``top`` on dies of its own (equal children share one search); links between them."""
    dies: list[Die] = []
    links: list[dict] = []
    ends: list[tuple[int, int]] = []  # first and last die of each child
    known: dict[str, list[tuple[float, float]]] = {}
    for child in top.children:
        plan = planner.plan(child)
        unit = plan_dies(plan, f"{name}_{child.name.replace('/', '_')}", die, geometry, known, shape=planner.shape(plan))
        offset = len(dies)
        dies += [Die(d.index + offset, d.name, d.plan, d.rows, d.couplers_west, d.couplers_east, d.mzis, child.name)
                 for d in unit.dies]
        links += [{**link, "from_die": link["from_die"] + offset, "to_die": link["to_die"] + offset}
                  for link in unit.links]
        ends.append((offset, len(dies) - 1))
    between: dict[tuple[int, int], int] = {}
    for src, _, dst, _ in top.links.tolist():
        between[(src, dst)] = between.get((src, dst), 0) + 1
    links += [{"from_die": ends[src][1], "to_die": ends[dst][0], "between": f"{top.children[src].name} -> "
               f"{top.children[dst].name}", "signals": n, "couplers_per_side": n} for (src, dst), n in between.items()]
    io = {"inputs": int(top.n_in), "input_dies": sorted({ends[c][0] for c in top.inputs[:, 0].tolist()}),
          "outputs": int(top.n_out), "output_dies": sorted({ends[c][1] for c in top.outputs[:, 0].tolist()})}
    return Floorplan(name, die[0], die[1] * 1000, die[2] * 1000, tuple(dies), tuple(links), io,
                     sum(d.mzis for d in dies))


def plan_dies(design: Plan, name: str, die: tuple[str, float, float], geometry: DeviceGeometry,
              known: dict[str, list[list[float]]] | None = None, fold_rows: bool = True,
              shape: str | None = None) -> Floorplan:
    """Dies for the chain, each holding as much of it as fits and still lets the rest fit.

    West to east, each die first tries the most rows that fit (``DiePlanner.fits``: folded, each row
    the longest slice that fits the die's width), then fewer, then one row; it backs up where the
    rest cannot be placed from the cut reached (a cut through a 512-signal bias combiner, say,
    leaves a piece that no die can take); a cut from which nothing fits is remembered, so each is
    tried once. ``known``: the cuts already found for plans of equal ``shape`` (``Planner.shape``; default
    the plan's key), reused: equal shapes have equal geometry, so the same cuts give the same dies.
    """
    planner = DiePlanner(design, name, die, geometry, fold_rows)
    shape = shape or design.key
    if known is not None and shape in known:
        placed = [planner.die_plan(k, cuts) for k, cuts in enumerate(known[shape])]
    else:
        placed = _search(planner, design)
        if known is not None:
            known[shape] = [[a for a, _, _ in fit.rows] + [fit.rows[-1][1]] for fit in placed]
    dies, links = [], []
    for index, fit in enumerate(placed):
        dies.append(Die(index, fit.plan.name, fit.plan, fit.rows, fit.couplers_west, fit.couplers_east, fit.plan.mzis))
        if dies[-1].x1_um < design.width - _TOL:
            links.append({"from_die": index, "to_die": index + 1, "design_x_um": round(dies[-1].x1_um, 3),
                          "signals": fit.couplers_east, "couplers_per_side": fit.couplers_east})
    io = {"inputs": int(design.west_y.size), "input_dies": [0], "outputs": int(design.east_y.size),
          "output_dies": [len(dies) - 1]}
    if sum(d.mzis for d in dies) != design.mzis:  # a cutter bug, never a user error
        raise OptincError(f"floorplan: dies hold {sum(d.mzis for d in dies)} MZIs, the design {design.mzis}")
    return Floorplan(name, planner.die_name, planner.w, planner.h, tuple(dies), tuple(links), io, design.mzis)


def _search(planner: DiePlanner, design: Plan) -> list[DieFit]:
    stops = planner.admissible(np.concatenate([planner.cutter.cuts(design), [design.width]]))
    gaps = np.diff(np.concatenate([[0.0], stops]))
    if gaps.max() > planner.w - 2 * planner.coupler:  # no die can span from one usable cut to the next
        a = float(np.concatenate([[0.0], stops])[int(np.argmax(gaps))])
        raise OptincError(_infeasible(planner, design, a, stops))
    dead: set[float] = set()
    placed = _place_from(planner, stops, dead)
    if placed is None:
        raise OptincError(_infeasible(planner, design, max(dead, default=0.0), stops))
    return placed


def _place_from(planner: DiePlanner, stops: np.ndarray, dead: set[float]) -> list[DieFit] | None:
    """Dies from the design's west end to its east end, best die first, or None; iterative backtracking."""
    stack = [(0.0, planner.fits(0, 0.0, stops))]
    chosen: list[DieFit] = []
    while stack:
        start, options = stack[-1]
        if start >= planner.design.width - _TOL:
            return chosen
        for fit in options:
            end = fit.rows[-1][1]
            if end in dead:
                continue
            chosen.append(fit)
            stack.append((end, planner.fits(len(chosen), end, stops)))
            break
        else:
            dead.add(start)
            stack.pop()
            if chosen:
                chosen.pop()
    return None


def _infeasible(planner: DiePlanner, design: Plan, a: float, stops: np.ndarray) -> str:
    """One line: the smallest piece that must go on one die from the furthest cut reached, and why it cannot."""
    b = float(stops[stops > a + _TOL][0])
    piece = planner.cutter.slice(design, a, b)
    where = next((c.name for c in design.children if c.x <= a + _TOL < c.x + c.plan.width), "the design")
    box = piece.bbox
    inner = planner.cutter.cuts(design)
    inner = inner[(inner > a + _TOL) & (inner < b - _TOL)]
    why = ""
    if inner.size:
        least = int(planner.cutter.counts(design, inner).min())
        why = (f"; every cut inside it meets at least {least} signals, {least * FIBRE_PITCH_UM / 1000:.1f} mm of "
               f"edge couplers at {FIBRE_PITCH_UM:g} um")
    return (f"--die {planner.die_name}: does not fit: {where} from design x {a / 1000:.3f} to {b / 1000:.3f} mm "
            f"must stay on one die, {box.width / 1000:.2f} x {box.height / 1000:.2f} mm before its "
            f"{piece.west_y.size} + {piece.east_y.size} edge couplers and fan-outs{why}; the die is "
            f"{planner.w / 1000:g} x {planner.h / 1000:g} mm ({DIE_MARGIN_UM:g} um kept free at top and bottom)")
