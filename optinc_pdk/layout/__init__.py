"""Hierarchical GDS/OASIS layout of a whole OptINC, from its circuit description alone.

Public API::

    from optinc_pdk.layout import write_layout, analytic_footprint
    result = write_layout(description, "layouts/b8n4", formats=("gds", "oas"), png=True,
                          labels=False, info={"phase_map": "phases.npz"})
    result.paths["gds"], result.mzis, result.footprint.total.area_mm2
    width_um, height_um = analytic_footprint(description)   # no GDS, equals the layout's bbox

Pipeline (each module has one job):

* ``validate.py`` — shapes the layout relies on, checked before any file is opened;
* ``plan.py``, ``leaves.py``, ``compose.py``, ``planner.py`` — geometry without gdsfactory:
  every cell's placements, ports and bounding box from ``optinc_pdk.pdk.dimensions``; blocks of
  equal geometry share one plan (phases are not geometry);
* ``router.py`` — waveguides between columns, crossings at 90°, our own vectorised router;
* ``draw.py`` — plans to gdsfactory cells, arrays as GDS AREFs;
* ``write.py`` — atomic GDS/OASIS, read back and checked before the rename, PNG
  (``render.py``, KLayout's renderer), footprint report (``readback.py``);
* ``labels.py`` — optional per-MZI phase texts; ``synthetic.py`` — random-phase descriptions in
  a scenario's shapes, for benchmarks and tests.

Hierarchy of the written file: top (scenario name, with the design's info) → ``optinc`` (the
design) → stages (``averager``, ``L1``..``LL``, ``broadcast``) → layer parts (``matrix``,
``bias``, ``relu``) → blocks → mesh → mesh columns (arrays) → ``mzi2x2`` (arrays).

Placement (``compose.py``): every composite lays its children out left to right in optical
order, children that do not depend on each other stacked in one column — the blocks of a tall
matrix are stacked vertically, each receiving its rows from the stacked splitter trees, and the
blocks of a wide matrix feed stacked summing trees. A fan-out cannot avoid crossings (every
input must reach every block in a plane), nor can bias injection (the bias light must reach a
combiner between every two signals), so the router (``router.py``) crosses waveguides at 90°,
once per pair of signals whose order flips; the placer puts a fan-out's blocks half a pitch off
its leaves so that no routed signal starts where another ends (which would force extra crossings).
Cells larger than a metre are drawn centred on their origin: GDS coordinates are 32-bit (±2.147 m
at 1 nm), and the un-approximated 16-server OptINC is 2.5 m long.
"""

from optinc_pdk.layout.footprint import analytic_footprint
from optinc_pdk.layout.readback import BlockFootprint, Footprint, count_instances, footprint, read_layout
from optinc_pdk.layout.write import BuiltLayout, LayoutResult, build_layout, description_mzis, write_layout

__all__ = [
    "BlockFootprint", "BuiltLayout", "Footprint", "LayoutResult", "analytic_footprint", "build_layout",
    "count_instances", "description_mzis", "footprint", "read_layout", "write_layout",
]
