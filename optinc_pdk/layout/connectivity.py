"""Open waveguide ends of a written layout, found from its drawn polygons, cell by cell.

A waveguide piece (straight, bend, coupler arm, tree branch) ends in an edge one waveguide width
long. Where two pieces join, the layout abuts them port to port, so the end edge of one coincides
with the end edge of the other: the two cancel. An end edge that nothing cancels is an **open
end**: light leaves the chip there (a top port), or the design means it to (the unused ports of an
attenuator MZI, the start of a bias source, the two ends of a nonlinear unit, a dropped or dark
channel), or a waveguide is missing. The description says how many ends are meant to be open
(``expected_open_ends``); any other count means the drawn waveguides are not what was planned.

The search never flattens: every distinct cell is visited once, bottom up. A cell's exposed ends
are the width-long edges of its own waveguide polygons plus the exposed ends of its instances
(array members included), minus the pairs that coincide; only what stays exposed travels up. A
mesh column therefore passes up its 2·n channel ends, not its MZIs' edges. Measured on a shared
2-core machine: the default b8n4 build 0.6 s and +20 MB (4 398 open ends, as meant); b8n16_full
(1.75 M MZIs) 19 s and +300 MB, against 15 s to lay it out. Merging the waveguide layer with
KLayout instead (flat, or hierarchically with a ``DeepShapeStore``) took 170–400 s and 10–12 GB
on b8n4 alone, and found the same 4 398 ends.
It relies on abutment: two pieces that overlap instead of abutting would each show an open end
(the project's cells and router always abut), which errs on the side of a reported failure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import klayout.db as kdb
import numpy as np

from optinc_pdk.circuit.model import AttenuatorColumn, Block, Composite, NonlinearArray, Source
from optinc_pdk.errors import OptincError
from optinc_pdk.layout.readback import read_layout, top_cells

WAVEGUIDE_LAYER = (1, 0)  # optinc_pdk.pdk.tech LAYER.WG (pdk sits below layout; no gdsfactory import needed here)
WIDTH_SLACK_DBU = 2  # off-grid arc ends of a bend are rounded to the grid


@dataclass(frozen=True)
class OpenEnds:
    """The open waveguide ends of a layout: ``edges`` (n, 4) as x1, y1, x2, y2 in µm, top-cell frame."""

    edges: np.ndarray
    expected: int | None
    seconds: float

    @property
    def count(self) -> int:
        return int(self.edges.shape[0])

    @property
    def ok(self) -> bool:
        return self.expected is not None and self.count == self.expected

    def to_dict(self) -> dict:
        return {"open_ends": self.count, "expected_open_ends": self.expected, "connected": self.ok,
                "seconds": self.seconds}


def _own_ends(cell: kdb.Cell, layer: int, width: int) -> np.ndarray:
    region = kdb.Region(cell.shapes(layer))
    region.merged_semantics = False  # the pieces as drawn: abutting pieces stay two polygons
    edges = region.edges()
    edges.merged_semantics = False
    ends = edges.with_length(width - WIDTH_SLACK_DBU, width + WIDTH_SLACK_DBU + 1, False)
    return np.array([(e.p1.x, e.p1.y, e.p2.x, e.p2.y) for e in ends.each()], dtype=np.int64).reshape(-1, 4)


def _unpaired(ends: np.ndarray) -> np.ndarray:
    """The edges that no other edge coincides with (either direction); an odd count keeps one copy."""
    if ends.size == 0:
        return ends
    forward = (ends[:, 0] < ends[:, 2]) | ((ends[:, 0] == ends[:, 2]) & (ends[:, 1] < ends[:, 3]))
    keys = np.where(forward[:, None], ends, ends[:, [2, 3, 0, 1]])
    unique, counts = np.unique(keys, axis=0, return_counts=True)
    return unique[counts % 2 == 1]


def _placed(ends: np.ndarray, inst: kdb.Instance) -> np.ndarray:
    """A child's exposed ends in the parent's frame, once per array member."""
    if ends.size == 0:
        return ends
    array = inst.cell_inst
    trans = kdb.DCplxTrans(array.cplx_trans if array.is_complex() else kdb.ICplxTrans(array.trans))  # float: exact
    origin = trans * kdb.DPoint(0, 0)
    ex, ey = trans * kdb.DPoint(1, 0) - origin, trans * kdb.DPoint(0, 1) - origin
    matrix = np.array([[ex.x, ey.x], [ex.y, ey.y]])
    points = ends.reshape(-1, 2) @ matrix.T + (origin.x, origin.y)
    shifts = [(0, 0)]
    if array.is_regular_array():
        a, b = array.a, array.b
        shifts = [(i * a.x + j * b.x, i * a.y + j * b.y) for i in range(array.na) for j in range(array.nb)]
    placed = points[None] + np.array(shifts, dtype=np.float64)[:, None, :]
    return np.rint(placed).astype(np.int64).reshape(-1, 4)


def exposed_ends(layout: kdb.Layout, width_um: float, layer: tuple[int, int] = WAVEGUIDE_LAYER) -> np.ndarray:
    """(n, 4) dbu: the open ends of the top cells (every die), found bottom up through the hierarchy."""
    index = layout.find_layer(*layer)
    width = round(width_um / layout.dbu)
    exposed: dict[int, np.ndarray] = {}
    for cell_index in layout.each_cell_bottom_up():
        cell = layout.cell(cell_index)
        parts = [_own_ends(cell, index, width)] if index is not None else []
        parts += [_placed(exposed[inst.cell_index], inst) for inst in cell.each_inst()]
        exposed[cell_index] = _unpaired(np.concatenate(parts)) if parts else np.zeros((0, 4), np.int64)
    return np.concatenate([exposed[top.cell_index()] for top in top_cells(layout)])


def expected_open_ends(top: Block, ports_coupled: bool = False) -> int:
    """Open ends the description means to have: its ports, unused attenuator ports, sources, nonlinear
    units, and every child channel that no input, link or output of its parent uses (dark or dropped).

    ``ports_coupled``: a die build, whose inputs and outputs end on edge couplers (closed ends).
    """
    count = 0 if ports_coupled else top.n_in + top.n_out
    for block in top.walk():
        if isinstance(block, AttenuatorColumn):  # used upper-in to upper-out: lower in and out stay open
            width = min(block.n_in, block.n_out)
            count += 2 * block.n_mzis + (block.n_in - width) + (block.n_out - width)
        elif isinstance(block, Source):
            count += 1
        elif isinstance(block, NonlinearArray):  # the waveguide ends at each unit (its own layer)
            count += 2 * block.n_in
        elif isinstance(block, Composite):
            driven = {tuple(row) for row in np.concatenate([block.inputs, block.links[:, 2:]]).tolist()}
            read = {tuple(row) for row in np.concatenate([block.outputs, block.links[:, :2]]).tolist()}
            for c, child in enumerate(block.children):
                count += sum((c, ch) not in driven for ch in range(child.n_in))
                count += sum((c, ch) not in read for ch in range(child.n_out))
    return count


def expected_open_ends_on_dies(top: Block, by_child: bool = False) -> int:
    """A die build: the design's ports end on edge couplers; floorplanned child by child (a cascade),
    every child's ports do, and the links between children are fibres (nothing drawn)."""
    if by_child:
        return sum(expected_open_ends(child, ports_coupled=True) for child in top.children)
    return expected_open_ends(top, ports_coupled=True)


def die_open_ends(die: dict | None) -> int:
    """Open ends a die adds (``layout.die`` info): its unused fibre couplers, less the design ends routed to fibres."""
    if not die:
        return 0
    return die["fibre_couplers"] - 2 * die["fibres_used"]  # each route closes one design end and one coupler


def check_connectivity(path: str | Path, top: Block | None, width_um: float, layer: tuple[int, int] = WAVEGUIDE_LAYER,
                       dies: str | None = None, mount: dict | None = None) -> OpenEnds:
    """Open ends of the written layout at ``path`` against those the description ``top`` means to have;
    ``layer`` is the PDK's waveguide layer.

    ``dies``: a floorplanned build, ``"design"`` (one chain) or ``"children"`` (floorplanned child by
    child); ``mount``: the PDK die frame the design is mounted on (its open ends are added, ``die_open_ends``).
    """
    start = time.perf_counter()
    layout = read_layout(path)
    ends = exposed_ends(layout, width_um, layer) * layout.dbu
    if top is None:
        expected = None
    elif dies is None:
        expected = expected_open_ends(top) + die_open_ends(mount)
    else:
        expected = expected_open_ends_on_dies(top, by_child=dies == "children")
    return OpenEnds(ends, expected, time.perf_counter() - start)


def require_connected(result: OpenEnds, path: str | Path) -> None:
    """One line naming the file when the drawn waveguides have other open ends than the description."""
    if not result.ok:
        raise OptincError(f"{path}: waveguide layer {WAVEGUIDE_LAYER[0]}/{WAVEGUIDE_LAYER[1]}: {result.count} open "
                          f"waveguide ends, the description means {result.expected}: a waveguide is missing or "
                          "does not abut its neighbour")
