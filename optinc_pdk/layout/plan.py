"""Layout plans: where every cell goes, computed from the description and the cell dimensions alone.

A :class:`Plan` is the geometry of one layout cell, without gdsfactory: the PDK cells it places
(:class:`Prim`, possibly as arrays), the child plans it places (:class:`Placement`), the
waveguides it draws (:class:`Wires`), its west/east port heights and its bounding box. The box
is the union of the placed cells' analytic boxes (``optinc_pdk.pdk.dimensions``) and the wires,
so the analytic footprint and the drawn layout agree by construction (a test checks it).

Plans are keyed by content: two blocks that differ only in their phases (every block of a given
size, every mesh of a given topology) get one key and hence one layout cell. Phases never enter
a plan.

Conventions: a plan's west ports lie at x = 0 and its east ports at x = ``width``; channel c of a
leaf lies at y = (n − 1 − c)·mode_pitch (channel 0 on top). Every port height is a multiple of
half a mode pitch, and the composite placer keeps it so (see ``compose.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optinc_pdk.pdk import dimensions as dim
from optinc_pdk.pdk.dimensions import Box
from optinc_pdk.spec.geometry import DeviceGeometry

#: PDK cells whose instances the MZI count reads back (their names start with "mzi").
MZI_CELLS = ("mzi2x2", "mzi_attenuator", "mzi2x2_fixed", "mzi_attenuator_fixed")
#: heaters each PDK cell carries, one per phase of the description: an MZI's θ and φ, a phase shifter's one
#: (the fixed-phase cells carry none: their phases are delay sections)
HEATERS_PER_CELL = {"mzi2x2": 2, "mzi_attenuator": 2, "phase_shifter": 1}


def digest(*parts: Any) -> str:
    """Stable content hash (hex) of scalars, strings, tuples and numpy arrays."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(f"<{part.dtype.str}{part.shape}>".encode())
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, (tuple, list)):
            h.update(b"(")
            h.update(digest(*part).encode())
            h.update(b")")
        else:
            h.update(repr(part).encode())
        h.update(b"|")
    return h.hexdigest()


@dataclass(frozen=True, kw_only=True)
class Arrayed:
    """Placed once or as a regular array: columns along x, rows along y (keyword-only fields)."""

    columns: int = 1
    rows: int = 1
    column_pitch: float = 0.0
    row_pitch: float = 0.0

    @property
    def count(self) -> int:
        return self.columns * self.rows


@dataclass(frozen=True)
class Prim(Arrayed):
    """A PDK cell placed once or as a regular array."""

    cell: str  # PDK cell factory name
    params: tuple[tuple[str, Any], ...]  # keyword arguments besides geometry
    x: float
    y: float


@dataclass(frozen=True)
class Placement(Arrayed):
    """A child plan placed once or as a regular array."""

    plan: Plan
    name: str  # instance name (the description block's last name part, or a column index)
    x: float
    y: float


@dataclass(frozen=True)
class Wires:
    """The waveguides of one composite: straights, S-bends, and the two ends of each drawn signal."""

    segments: np.ndarray  # (k, 3): x0, x1, y (centre line of a horizontal straight)
    bends: np.ndarray  # (m, 3): x0, y0, dy (S-bend of length ``bend_length``)
    bend_length: float
    starts: np.ndarray  # (s, 2): west end of each drawn signal (faces west)
    ends: np.ndarray  # (s, 2): east end (faces east)
    crossings: int = 0
    tracks: int = 0
    detours: int = 0
    #: folded dies' U-turns (``fold.py``): vertical straights (x, y0, y1) and quarter turns of radius
    #: ``bend_length / 2`` (x, y, kind) from (x, y): 0 east→south, 1 south→west, 2 west→south, 3 south→east
    verticals: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    corners: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    crossing_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # centre of each crossing cell
    #: (3, signals): waveguide length (µm), 90° bends and crossings of each of the composite's signals, in the
    #: description's order (its inputs, links, outputs); what the loss budget reads
    signal_paths: np.ndarray = field(default_factory=lambda: np.zeros((3, 0)))

    def box(self, g: DeviceGeometry) -> Box | None:
        half = g.wg_width / 2
        boxes = []
        if self.verticals.size:
            v = self.verticals
            boxes.append(Box((v[:, 0] - half).min(), v[:, 1:].min(), (v[:, 0] + half).max(), v[:, 1:].max()))
        if self.corners.size:
            c, r = self.corners, self.bend_length / 2
            ex = c[:, 0] + np.where((c[:, 2] == 0) | (c[:, 2] == 3), r, -r)
            boxes.append(Box(np.minimum(c[:, 0], ex).min() - half, (c[:, 1] - r).min() - half,
                             np.maximum(c[:, 0], ex).max() + half, c[:, 1].max() + half))
        if self.segments.size:
            s = self.segments
            boxes.append(Box(s[:, 0].min(), (s[:, 2] - half).min(), s[:, 1].max(), (s[:, 2] + half).max()))
        if self.bends.size:
            b = self.bends
            low = b[:, 1] + np.minimum(0.0, b[:, 2]) - half
            high = b[:, 1] + np.maximum(0.0, b[:, 2]) + half
            boxes.append(Box(b[:, 0].min(), low.min(), (b[:, 0] + self.bend_length).max(), high.max()))
        return union(boxes)

    @property
    def empty(self) -> bool:
        return not (self.segments.size or self.bends.size or self.verticals.size or self.corners.size)


@dataclass(frozen=True, eq=False, kw_only=True)
class Plan:
    key: str  # content hash: equal keys, equal geometry
    name: str  # readable base of the layout cell name (kind and shape; see cell_names)
    kind: str  # "mesh", "mesh_column", "attenuators", "splitter_trees", "combiner_trees", "source",
    #            "nonlinear", or a composite role ("optinc", "layer", "matrix", "block", "bias", ...)
    width: float
    west_y: np.ndarray  # (n_in,) port heights at x = 0
    east_y: np.ndarray  # (n_out,) port heights at x = width
    bbox: Box | None  # None: nothing drawn
    prims: tuple[Prim, ...] = ()
    children: tuple[Placement, ...] = ()
    wires: Wires | None = None
    mzis: int = 0  # MZI instances inside (arrays expanded)
    info: dict = field(default_factory=dict)
    origins: np.ndarray | None = None  # composites: (n_children, 2) plan origin of each description child
    #: composites: (x, heights) at the west edge of every column after the first, where the routed
    #: signals enter it: every waveguide there abuts, so the floorplan may cut the plan at x
    column_cuts: tuple[tuple[float, np.ndarray], ...] = ()

    @property
    def extent(self) -> tuple[float, float]:
        """Vertical span of the geometry and of every port (what stacking must keep clear)."""
        ys = np.concatenate([self.west_y, self.east_y])
        lo = [ys.min()] if ys.size else []
        hi = [ys.max()] if ys.size else []
        if self.bbox is not None:
            lo.append(self.bbox.ymin)
            hi.append(self.bbox.ymax)
        return min(lo), max(hi)


def cell_names(root: Plan, taken: dict[str, str] | None = None) -> dict[str, str]:
    """Layout cell name of every plan under ``root``, by key: its readable name, plus its key's first
    8 hex digits only where two different plans share that name (in this design, or in ``taken``,
    name → key of cells already drawn in this process)."""
    plans: dict[str, Plan] = {}
    pending = [root]
    while pending:
        plan = pending.pop()
        if plan.key not in plans:
            plans[plan.key] = plan
            pending.extend(place.plan for place in plan.children)
    keys_of: dict[str, set[str]] = {}
    for key, plan in plans.items():
        keys_of.setdefault(plan.name, set()).add(key)
    taken = taken or {}
    names = {}
    for key, plan in plans.items():
        shared = len(keys_of[plan.name]) > 1 or taken.get(plan.name, key) != key
        names[key] = f"{plan.name}_{key[:8]}" if shared else plan.name
    return names


# --- boxes ----------------------------------------------------------------------------------


def union(boxes: list[Box | None]) -> Box | None:
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return Box(min(b.xmin for b in boxes), min(b.ymin for b in boxes),
               max(b.xmax for b in boxes), max(b.ymax for b in boxes))


def shifted(box: Box | None, dx: float, dy: float) -> Box | None:
    return None if box is None else Box(box.xmin + dx, box.ymin + dy, box.xmax + dx, box.ymax + dy)


def _arrayed(box: Box | None, columns: int, rows: int, column_pitch: float, row_pitch: float) -> Box | None:
    if box is None:
        return None
    return Box(box.xmin, box.ymin, box.xmax + (columns - 1) * column_pitch, box.ymax + (rows - 1) * row_pitch)


def cell_box(cell: str, params: dict[str, Any], g: DeviceGeometry) -> Box:
    """Analytic bounding box of a PDK cell (``optinc_pdk.pdk.dimensions``)."""
    return getattr(dim, f"{cell}_bbox")(**params, geometry=g)


def prim_box(prim: Prim, g: DeviceGeometry) -> Box:
    box = cell_box(prim.cell, dict(prim.params), g)
    return shifted(_arrayed(box, prim.columns, prim.rows, prim.column_pitch, prim.row_pitch), prim.x, prim.y)


def placement_box(place: Placement) -> Box | None:
    box = _arrayed(place.plan.bbox, place.columns, place.rows, place.column_pitch, place.row_pitch)
    return shifted(box, place.x, place.y)


def runs(values: np.ndarray, step: int) -> list[tuple[int, int]]:
    """Split sorted integers into maximal runs of the given step: [(first, count), ...]."""
    if values.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(values) != step) + 1
    starts = np.concatenate([[0], breaks])
    counts = np.diff(np.concatenate([starts, [values.size]]))
    return [(int(values[s]), int(c)) for s, c in zip(starts, counts)]


def progressions(values: list[int]) -> list[tuple[int, int, int]]:
    """Cover sorted integers with arithmetic progressions, greedily: [(first, count, step), ...]."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(values):
        if i + 1 == len(values):
            out.append((values[i], 1, 1))
            break
        step = values[i + 1] - values[i]
        j = i + 1
        while j + 1 < len(values) and values[j + 1] - values[j] == step:
            j += 1
        out.append((values[i], j - i + 1, step))
        i = j + 1
    return out


def plan_heaters(plan: Plan, memo: dict[str, int] | None = None) -> int:
    """Heaters placed under ``plan`` (arrays and repeated children counted; each distinct plan once)."""
    memo = {} if memo is None else memo
    if plan.key not in memo:
        own = sum(p.count * HEATERS_PER_CELL.get(p.cell, 0) for p in plan.prims)
        memo[plan.key] = own + sum(c.count * plan_heaters(c.plan, memo) for c in plan.children)
    return memo[plan.key]
