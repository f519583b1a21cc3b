"""DRC of a written layout: the PDK's rules table (``optinc_pdk.pdk.rules``) as a KLayout deck and as a check.

Two outputs from one table: a ``.lydrc`` deck (KLayout's DRC language, written with gplugins' deck
writer) that a user runs in KLayout, and the build's own run of the same rules with KLayout's Python
module (the pip ``klayout`` package has no DRC-language interpreter), whose violations go to a KLayout
report database (``.lyrdb``) beside the layout.

How the build's run scales. KLayout's hierarchical ("deep") engine merges each layer across the
hierarchy; on the waveguide layer of b8n4 (a million abutting pieces, every signal one connected
polygon) that took 121 s even with the routing removed, and tiled flat mode ran for over ten minutes.
So the waveguide layer is checked hierarchically here, each distinct cell once:

* a cell whose instances are all leaves (an MZI, a tree, a wires cell with its arcs and crossings) is
  checked flat, merged;
* any other cell: its own shapes merged, then every pair of its placements that come within the rule's
  distance (two instances, an instance and the cell's own shapes, or two members of one array — the
  neighbours of one member stand for all, since an array repeats them) is checked with a separation
  check on the shapes near each other. Pieces that abut (distance 0: two waveguides joined end to end,
  what the connectivity check relies on) are not violations.

A flip-chip bump array (``layout/bumps.py``: hundreds of thousands of identical sites per die, one GDS
array) is checked the same way, by what is distinct: every shape of the layer outside the large regular
arrays (the RDL routes, the vias), the array members near those shapes, and one 3 × 3 window of members
(every member's neighbourhood is a copy of it), all flat (``_windowed``). KLayout's deep mode took 294 s
on b8n4's eleven arrays; flat over every member about 15 s per die.

Widths need no cross-cell step: the cells abut equal-width ends, which cannot make a waveguide narrower.
The other layers (heater, metal) lie in the leaf cells only and are cheap in KLayout's deep mode, which
runs them. Violations are counted once per distinct cell (a violation inside a cell placed 1000 times is
one violation to fix), as KLayout's deep mode does; inside a cell checked flat, once per instance.
Measured on the default b8n4 build (2 shared cores, other jobs running): 13–22 s, 0 violations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import klayout.db as kdb
import klayout.rdb as rdb

from optinc_pdk.core.atomic import atomic_path, write_text_atomic
from optinc_pdk.layout.readback import read_layout, shapes_near, top_cells
from optinc_pdk.pdk.rules import ANGLE_LIMIT, Rule, layer_map, rules_for

HIERARCHICAL_LAYERS = ("WG",)  # checked cell by cell here; the others in KLayout's deep mode
ARRAY_MEMBERS = 1000  # a regular array at least this large is checked by a window of members (``_windowed``)


@dataclass
class DrcResult:
    counts: dict[str, int]  # rule name → violations
    seconds: float
    lyrdb: Path | None = None
    deck: Path | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict:
        return {"violations": self.total, "per_rule": dict(self.counts), "seconds": self.seconds,
                "lyrdb": None if self.lyrdb is None else str(self.lyrdb),
                "deck": None if self.deck is None else str(self.deck)}


# --- the deck -----------------------------------------------------------------------------------

def deck_text(rules: tuple[Rule, ...], pdk: str = "optinc") -> str:
    """The rules as a KLayout DRC macro (deep mode), written with gplugins' deck writer."""
    from gplugins.klayout.drc import write_drc as w

    lines = []
    for rule in rules:
        if rule.kind == "width":
            lines.append(w.check_width(rule.value, rule.layer, ANGLE_LIMIT))
        elif rule.kind == "space":
            lines.append(w.check_space(rule.value, rule.layer, ANGLE_LIMIT))
        else:
            lines.append(w.check_not_inside(rule.layer, rule.other))
    names = sorted({r.layer for r in rules} | {r.other for r in rules if r.other})
    # layer inputs written here: gplugins' write_layer_definition iterates a dict's keys, not its layers
    inputs = [f"{name} = input({_layer_of(name, pdk)[0]}, {_layer_of(name, pdk)[1]})" for name in names]
    return (w.get_drc_script_start(name=pdk, shortcut="") + w.get_drc_script(rules=inputs + lines, mode="deep")
            + w.drc_script_end)


def _layer_of(name: str, pdk: str) -> tuple[int, int]:
    return layer_map(pdk)[name]


# --- the hierarchical waveguide check -------------------------------------------------------------

def _is_leaf_group(layout: kdb.Layout, cell: kdb.Cell) -> bool:
    return all(layout.cell(inst.cell_index).child_cells() == 0 for inst in cell.each_inst())


def _transformations(inst: kdb.Instance) -> list[kdb.ICplxTrans]:
    """Transformation of every member of ``inst`` (one for a single instance)."""
    array = inst.cell_inst
    members = array.each_cplx_trans() if array.is_complex() else array.each_trans()
    return [kdb.ICplxTrans(t) for t in members]


class _Placement:
    """One thing in a parent cell: an instance (all its array members), or the parent's own shapes."""

    def __init__(self, layout: kdb.Layout, layer: int, cell: kdb.Cell, members: list[kdb.ICplxTrans] | None):
        self.layout, self.layer, self.cell, self.members = layout, layer, cell, members
        if members is None:
            self.box = kdb.Region(cell.shapes(layer)).bbox()
            self.member_boxes = []
        else:
            local = cell.bbox_per_layer(layer)
            self.member_boxes = [local.transformed(t) for t in members]
            self.box = kdb.Box()
            for box in self.member_boxes:
                self.box += box

    def near(self, region: kdb.Region) -> kdb.Region:
        """Shapes of this placement that overlap ``region``'s bounding box (whole shapes, in the parent frame)."""
        bound = region.bbox()
        if self.members is None:
            return kdb.Region(self.cell.shapes(self.layer)).interacting(kdb.Region(bound))
        out = kdb.Region()
        for trans, box in zip(self.members, self.member_boxes):
            if box.overlaps(bound):
                it = kdb.RecursiveShapeIterator(self.layout, self.cell, self.layer)
                it.global_trans = trans  # set first: the search box is then given in the parent's frame
                it.region = bound
                it.overlapping = True
                out.insert(it)  # copied: a region kept as "this layer of the layout" would look like the other side's
        return out


def _halo(region: kdb.Region, distance: int) -> kdb.Region:
    """Each shape's bounding box grown by ``distance``: where the other side's shapes can come too close."""
    region.merged_semantics = False  # per piece: merging first would cost more than the check itself
    return region.extents(distance)


def _pair_violations(a: _Placement, b: _Placement, distance: int) -> kdb.EdgePairs:
    """Spacing violations between two placements: shapes of each near the other, checked against each other."""
    if a.box.empty() or b.box.empty() or not a.box.enlarged(distance, distance).overlaps(b.box):
        return kdb.EdgePairs()
    seed_a = a.near(kdb.Region(b.box.enlarged(distance, distance)))
    if seed_a.is_empty():
        return kdb.EdgePairs()
    near_b = b.near(_halo(seed_a, distance))
    if near_b.is_empty():
        return kdb.EdgePairs()
    near_a = a.near(_halo(near_b, distance))
    for region in (near_a, near_b):  # pieces as drawn: merging a side would only join its own abutting pieces
        region.merged_semantics = False
    pairs = near_a.separation_check(near_b, distance, False, kdb.Metrics.Euclidian, ANGLE_LIMIT)
    return pairs.with_distance(1, distance + 1, False)  # abutting pieces (distance 0) are joined, not too close


def _array_neighbours(layout: kdb.Layout, inst: kdb.Instance, layer: int, distance: int) -> list[tuple]:
    """Pairs (member 0, member k) of a regular array that can interact: one member's neighbours stand for all."""
    array = inst.cell_inst
    cell = layout.cell(inst.cell_index)
    box = cell.bbox_per_layer(layer)
    if not array.is_regular_array() or array.size() < 2 or box.empty():
        return []
    base = kdb.ICplxTrans(array.cplx_trans) if array.is_complex() else kdb.ICplxTrans(array.trans)
    a, b = array.a, array.b
    reach = max(box.width(), box.height()) + distance

    def steps(v: kdb.Vector, n: int) -> int:
        length = max(abs(v.x), abs(v.y))
        return int(min(n - 1, reach // length + 1)) if length else 0

    ka, kb = steps(a, array.na), steps(b, array.nb)
    first = _Placement(layout, layer, cell, [base])
    pairs = []
    for i in range(0, ka + 1):  # offsets (i, j) and (−i, −j) meet the same neighbour: count each once
        for j in range(-kb, kb + 1):
            if i == 0 and j <= 0:
                continue
            shift = kdb.ICplxTrans(kdb.Vector(a.x * i + b.x * j, a.y * i + b.y * j))
            pairs.append((first, _Placement(layout, layer, cell, [shift * base])))
    return pairs


def _key(pair: kdb.EdgePair) -> tuple:
    edges = sorted((e.p1.x, e.p1.y, e.p2.x, e.p2.y) for e in (pair.first, pair.second))
    return tuple(edges)


def _new_in_group(layout: kdb.Layout, cell: kdb.Cell, flat: kdb.EdgePairs, known: dict[int, kdb.EdgePairs]) -> kdb.EdgePairs:
    """``flat`` less the violations a child cell already reports (each placed as the instance places it)."""
    if flat.is_empty():
        return flat
    seen = set()
    for inst in cell.each_inst():
        inside = known.get(inst.cell_index)
        if inside is not None and not inside.is_empty():
            for trans in _transformations(inst):
                seen.update(_key(p) for p in inside.transformed(trans).each())
    return kdb.EdgePairs([p for p in flat.each() if _key(p) not in seen]) if seen else flat


def _cell_violations(layout: kdb.Layout, cell: kdb.Cell, layer: int, rule: Rule, dbu_value: int,
                     known: dict[int, kdb.EdgePairs]) -> kdb.EdgePairs:
    if _is_leaf_group(layout, cell):  # checked flat; what its leaves report themselves is not counted twice
        flat = _single(kdb.Region(cell.begin_shapes_rec(layer)), rule, dbu_value)
        return _new_in_group(layout, cell, flat, known)
    own = kdb.Region(cell.shapes(layer))
    found = _single(own, rule, dbu_value)
    if rule.kind != "space":
        return found
    placements = [_Placement(layout, layer, cell, None)] if not own.is_empty() else []
    pairs = []
    for inst in cell.each_inst():
        if layout.cell(inst.cell_index).bbox_per_layer(layer).empty():  # nothing on this layer (a bump array): no
            continue  # violation, and its members' transformations are not worth listing (342 021 on a b8n4 die)
        pairs += _array_neighbours(layout, inst, layer, dbu_value)
        placements.append(_Placement(layout, layer, layout.cell(inst.cell_index), _transformations(inst)))
    placements = [p for p in placements if not p.box.empty()]
    placements.sort(key=lambda p: p.box.left)
    for i, a in enumerate(placements):  # sweep in x: only placements whose x ranges come close can interact
        for b in placements[i + 1:]:
            if b.box.left > a.box.right + dbu_value:
                break
            if a.box.enlarged(dbu_value, dbu_value).overlaps(b.box):
                pairs.append((a, b))
    for a, b in pairs:
        found += _pair_violations(a, b, dbu_value)
    return found


def _single(region: kdb.Region, rule: Rule, value: int) -> kdb.EdgePairs:
    """Width or space violations of ``region``: found on the pieces as drawn (fast), confirmed merged.

    Checking unmerged pieces finds every violation of the merged shapes (a notch between two pieces is a
    spacing between two pieces), plus false ones where pieces join: abutting pieces (distance 0, dropped
    here) and overlapping or short pieces. Each remaining candidate is checked again on the merged shapes
    around it, so merging costs only where something was found.
    """
    raw = region.dup()
    raw.merged_semantics = False
    candidates = _check(raw, rule, value).with_distance(1, value, False)
    if candidates.is_empty():
        return candidates
    window = kdb.Region([kdb.Box(p.bbox()).enlarged(value, value) for p in candidates.each()])
    local = region.interacting(window)  # whole shapes near a candidate, merged below
    return _check(local, rule, value).inside(window)


def _check(region: kdb.Region, rule: Rule, value: int) -> kdb.EdgePairs:
    if rule.kind == "width":
        return region.width_check(value, False, kdb.Metrics.Euclidian, ANGLE_LIMIT)
    return region.space_check(value, False, kdb.Metrics.Euclidian, ANGLE_LIMIT)


def _hierarchical(layout: kdb.Layout, top: kdb.Cell, rule: Rule, pdk: str) -> list[tuple[str, kdb.EdgePairs]]:
    layer = layout.find_layer(*_layer_of(rule.layer, pdk))
    if layer is None:
        return []
    value = round(rule.value / layout.dbu)
    out, known = [], {}
    under = set(top.called_cells()) | {top.cell_index()}
    for index in layout.each_cell_bottom_up():  # children first: a leaf group needs its leaves' findings
        cell = layout.cell(index)
        if index not in under or cell.bbox_per_layer(layer).empty():
            continue
        pairs = known[index] = _cell_violations(layout, cell, layer, rule, value, known)
        if pairs.count():
            out.append((cell.name, pairs))
    return out


def _deep(layout: kdb.Layout, top: kdb.Cell, rule: Rule, store: kdb.DeepShapeStore,
          pdk: str, cache: dict | None = None) -> list[tuple[str, kdb.EdgePairs]]:
    layer = layout.find_layer(*_layer_of(rule.layer, pdk))
    if layer is None:
        return []
    arrays = _large_arrays(layout, top, layer)
    other = layout.find_layer(*_layer_of(rule.other, pdk)) if rule.kind == "inside" else None
    if arrays or (other is not None and _large_arrays(layout, top, other)):  # flat: deep mode crawls over them
        return _windowed(layout, top, rule, pdk, arrays, layer, {} if cache is None else cache)
    region = kdb.Region(top.begin_shapes_rec(layer), store)
    value = round(rule.value / layout.dbu)
    if rule.kind == "inside":
        other = layout.find_layer(*_layer_of(rule.other, pdk))
        outer = kdb.Region(top.begin_shapes_rec(other), store) if other is not None else kdb.Region()
        pairs = _marks(region.not_inside(outer))
    else:
        pairs = _single(region, rule, value)
    return [(top.name, pairs)] if pairs.count() else []


# --- large regular arrays (flip-chip bumps) ---------------------------------------------------------

def _large_arrays(layout: kdb.Layout, top: kdb.Cell, layer: int) -> list[kdb.Instance]:
    """The top cell's regular arrays of at least ``ARRAY_MEMBERS`` members that draw on ``layer``."""
    return [inst for inst in top.each_inst() if inst.is_regular_array() and inst.size() >= ARRAY_MEMBERS
            and not layout.cell(inst.cell_index).bbox_per_layer(layer).empty()]


def _members(layout: kdb.Layout, inst: kdb.Instance, layer: int, ia: range, ib: range) -> kdb.Region:
    """The shapes of array members (i, j), i in ``ia``, j in ``ib``, flat in the parent's frame."""
    own = kdb.Region(layout.cell(inst.cell_index).begin_shapes_rec(layer))
    array = inst.cell_inst
    out = kdb.Region()
    for i in ia:
        for j in ib:
            shift = kdb.ICplxTrans(kdb.Vector(array.a.x * i + array.b.x * j, array.a.y * i + array.b.y * j))
            out.insert(own.transformed(shift * kdb.ICplxTrans(array.cplx_trans)))
    return out


def _windowed_region(layout: kdb.Layout, top: kdb.Cell, layer: int, arrays: list[kdb.Instance],
                     reach: int) -> kdb.Region:
    """What stands for ``layer`` under ``top`` with large arrays (module docstring): the shapes outside them,
    the members within ``reach`` of those, and a 3 × 3 window of each array's members."""
    it = kdb.RecursiveShapeIterator(layout, top, layer)
    it.unselect_cells([inst.cell_index for inst in arrays])
    rest = kdb.Region(it)
    rest.flatten()
    out = rest.dup()
    for inst in arrays:
        halo = rest.extents(reach)
        out.insert(shapes_near(layout, top, layer, halo, [inst.cell_index]))
        array = inst.cell_inst
        out.insert(_members(layout, inst, layer, range(min(3, array.na)), range(min(3, array.nb))))
    return out


def _windowed(layout: kdb.Layout, top: kdb.Cell, rule: Rule, pdk: str, arrays: list[kdb.Instance],
              layer: int, cache: dict) -> list[tuple[str, kdb.EdgePairs]]:
    """``rule`` on ``_windowed_region``; ``cache`` keeps each (cell, layer, reach) region for the next rule."""
    value = round(rule.value / layout.dbu)
    key = (top.cell_index(), layer, max(value, 1))
    if key not in cache:
        cache[key] = _windowed_region(layout, top, layer, arrays, max(value, 1))
    region = cache[key]
    if rule.kind == "inside":
        other = layout.find_layer(*_layer_of(rule.other, pdk))
        outer = kdb.Region() if other is None else shapes_near(layout, top, other, region)
        pairs = _marks(region.not_inside(outer))
    else:
        pairs = _single(region, rule, value)
    return [(top.name, pairs)] if pairs.count() else []


def _marks(bad: kdb.Region) -> kdb.EdgePairs:
    """Each offending shape marked by its bounding box diagonal."""
    pairs = kdb.EdgePairs()
    for polygon in bad.each():
        box = polygon.bbox()
        pairs.insert(kdb.Edge(box.p1, box.p2), kdb.Edge(box.p2, box.p1))
    return pairs


# --- running and reporting ---------------------------------------------------------------------------

def run_drc(path: str | Path, pdk: str = "optinc", lyrdb: Path | None = None, deck: Path | None = None) -> DrcResult:
    """Check the layout at ``path`` against ``pdk``'s rules; write the report database and deck when asked."""
    start = time.perf_counter()
    layout = read_layout(path)
    tops = top_cells(layout, path)  # one, or one per die of a floorplanned build
    rules = rules_for(pdk)
    found: dict[str, list[tuple[str, kdb.EdgePairs]]] = {rule.name: [] for rule in rules}
    stores = []  # one per top cell, all kept until the counts are read: the findings live in them
    for top in tops:
        # a store that holds two tops' shapes is not "singular", and KLayout refuses operations such as
        # ``interacting`` on its regions (b8n4 on CORNERSTONE reticle dies crashed so)
        store = kdb.DeepShapeStore()
        stores.append(store)
        cache: dict = {}  # one die's array-layer regions, shared by its rules
        for rule in rules:
            run = _hierarchical if rule.layer in HIERARCHICAL_LAYERS and rule.kind != "inside" else None
            found[rule.name] += run(layout, top, rule, pdk) if run else _deep(layout, top, rule, store, pdk, cache)
    top = tops[0]
    counts = {name: sum(p.count() for _, p in cells) for name, cells in found.items()}
    result = DrcResult(counts, 0.0)
    if lyrdb is not None:
        result.lyrdb = _write_lyrdb(lyrdb, layout, top, rules, found, Path(path).name)
    if deck is not None:
        result.deck = write_text_atomic(deck, deck_text(rules, pdk))
    result.seconds = time.perf_counter() - start
    return result


def _write_lyrdb(target: Path, layout: kdb.Layout, top: kdb.Cell, rules: tuple[Rule, ...],
                 found: dict[str, list[tuple[str, kdb.EdgePairs]]], layout_name: str) -> Path:
    db = rdb.ReportDatabase(f"DRC {layout_name}")
    db.top_cell_name = top.name
    db.original_file = layout_name
    cells: dict[str, rdb.RdbCell] = {}
    for rule in rules:
        category = db.create_category(rule.name)
        category.description = f"{rule.kind} {rule.value:g} µm {rule.other or ''} ({rule.source})".strip()
        for cell_name, pairs in found[rule.name]:
            cell = cells.get(cell_name) or cells.setdefault(cell_name, db.create_cell(cell_name))
            for pair in pairs.each():
                db.create_item(cell.rdb_id(), category.rdb_id()).add_value(pair.to_dtype(layout.dbu))
    with atomic_path(Path(target)) as tmp:
        db.save(str(tmp))
    return Path(target)
