"""Read a written GDS/OASIS back with KLayout: MZI count through the hierarchy, footprint per block.

Nothing here flattens: the MZI count multiplies instance counts (array sizes included) bottom-up
through the cell tree, and every footprint is an instance's ``dbbox()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import klayout.db as kdb

from optinc_pdk.errors import OptincError

#: Key of the instance-name property kfactory writes on named instances (kfactory.conf.PROPID.NAME).
INSTANCE_NAME_PROPERTY = 0
DESIGN_INSTANCE = "optinc"  # the top cell's instance of the design cell


def read_layout(path: str | Path) -> kdb.Layout:
    layout = kdb.Layout()
    try:
        layout.read(str(path))
    except RuntimeError as error:
        raise OptincError(f"{path}: not a readable GDS/OASIS file ({str(error).splitlines()[0]})") from None
    return layout


def top_cell(layout: kdb.Layout, path: str | Path = "") -> kdb.Cell:
    tops = layout.top_cells()
    if len(tops) != 1:
        raise OptincError(f"{path}: expected one top cell, found {len(tops)}")
    return tops[0]


def top_cells(layout: kdb.Layout, path: str | Path = "") -> list[kdb.Cell]:
    """Every top cell: one for an unfolded layout, one per die for a die build."""
    tops = layout.top_cells()
    if not tops:
        raise OptincError(f"{path}: no top cell")
    return tops


def shapes_near(layout: kdb.Layout, top: kdb.Cell, layer: int, where: kdb.Region,
                cells: list[int] | None = None) -> kdb.Region:
    """Shapes of ``layer`` under ``top`` (of ``cells`` only, when given) that overlap ``where``, flat: KLayout's
    region search, which finds the few members of a large array that lie there without visiting the others."""
    if where.is_empty():
        return kdb.Region()
    it = kdb.RecursiveShapeIterator(layout, top, layer, where, True)
    if cells is not None:
        it.unselect_all_cells()
        it.select_cells(cells)
    region = kdb.Region(it)
    region.flatten()
    return region


def count_instances(layout: kdb.Layout, prefix: str = "mzi") -> int:
    """Instances of cells whose name starts with ``prefix`` under the top cells (all dies), arrays expanded.

    Counting stops at a matching cell (what is inside an MZI is not another MZI).
    """
    counts: dict[int, int] = {}
    for index in layout.each_cell_bottom_up():
        cell = layout.cell(index)
        if cell.name.startswith(prefix):
            counts[index] = 1
        else:
            counts[index] = sum(counts[inst.cell_index] * inst.cell_inst.size() for inst in cell.each_inst())
    return sum(counts[top.cell_index()] for top in top_cells(layout))


def count_shapes(layout: kdb.Layout, layer: tuple[int, int]) -> int:
    """Shapes on GDS ``layer`` (layer, datatype) under the top cells, every placement counted (arrays expanded)."""
    index = layout.find_layer(*layer)
    if index is None:
        return 0
    counts: dict[int, int] = {}
    for cell_index in layout.each_cell_bottom_up():
        cell = layout.cell(cell_index)
        counts[cell_index] = cell.shapes(index).size() + sum(
            counts[inst.cell_index] * inst.cell_inst.size() for inst in cell.each_inst())
    return sum(counts[top.cell_index()] for top in top_cells(layout))


def instance_name(inst: kdb.Instance) -> str:
    name = inst.property(INSTANCE_NAME_PROPERTY)
    return str(name) if name is not None else inst.cell.name


@dataclass(frozen=True)
class BlockFootprint:
    name: str  # "L3", "L3/matrix", ... ("" for the whole design)
    cell: str
    xmin: float  # µm, in the top cell's frame
    ymin: float
    xmax: float
    ymax: float

    @property
    def width_mm(self) -> float:
        return (self.xmax - self.xmin) / 1000

    @property
    def height_mm(self) -> float:
        return (self.ymax - self.ymin) / 1000

    @property
    def area_mm2(self) -> float:
        return self.width_mm * self.height_mm

    def to_dict(self) -> dict:
        return {**asdict(self), "width_mm": self.width_mm, "height_mm": self.height_mm, "area_mm2": self.area_mm2}


@dataclass(frozen=True)
class Footprint:
    total: BlockFootprint
    blocks: tuple[BlockFootprint, ...]  # the design's stages and, one level down, their parts
    dies: tuple[BlockFootprint, ...] = ()  # a die build: every die cell's box (each in its own frame)

    def to_dict(self) -> dict:
        return {"unit": "um (boxes), mm (sizes), mm^2 (areas)", "total": self.total.to_dict(),
                "blocks": [b.to_dict() for b in self.blocks], "dies": [d.to_dict() for d in self.dies]}


def die_footprint(layout: kdb.Layout) -> Footprint:
    """A die build: each die cell's box (read back); the total is the largest die."""
    dies = []
    for top in sorted(top_cells(layout), key=lambda cell: cell.name):
        box = top.dbbox()
        dies.append(BlockFootprint(top.name, top.name, box.left, box.bottom, box.right, box.top))
    largest = max(dies, key=lambda d: d.area_mm2)
    return Footprint(BlockFootprint("", largest.cell, largest.xmin, largest.ymin, largest.xmax, largest.ymax), (),
                     tuple(dies))


def footprint(layout: kdb.Layout, depth: int = 2) -> Footprint:
    """Bounding boxes (``dbbox``) of the whole layout and of the design's blocks down to ``depth`` levels."""
    if len(layout.top_cells()) > 1:
        return die_footprint(layout)
    top = top_cell(layout)
    box = top.dbbox()
    total = BlockFootprint("", top.name, box.left, box.bottom, box.right, box.top)
    design = [inst for inst in top.each_inst() if instance_name(inst) == DESIGN_INSTANCE]
    blocks: list[BlockFootprint] = []

    def walk(parent: kdb.Instance, trans: kdb.DCplxTrans, prefix: str, level: int) -> None:
        for inst in parent.cell.each_inst():
            name = instance_name(inst)
            if name == "wires":
                continue
            b = inst.dbbox().transformed(trans)
            full = f"{prefix}{name}"
            blocks.append(BlockFootprint(full, inst.cell.name, b.left, b.bottom, b.right, b.top))
            if level < depth and inst.cell_inst.size() == 1:
                walk(inst, trans * inst.dcplx_trans, f"{full}/", level + 1)

    for inst in design:
        walk(inst, inst.dcplx_trans, "", 1)
    return Footprint(total, tuple(blocks))


def top_info(layout: kdb.Layout) -> dict:
    """The top cell's info as written by gdsfactory/kfactory (``kfactory:info`` meta data)."""
    value = top_cell(layout).meta_info_value("kfactory:info")
    return dict(value) if value else {}
