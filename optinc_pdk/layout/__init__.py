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

from __future__ import annotations

import importlib

#: public name → its module, imported on first use: the analytic floorplan (``optinc area --die``) imports
#: this package's numpy modules without the writer's KLayout and circuit imports (0.5 s of KLayout alone).
_EXPORTS = {
    "analytic_footprint": "footprint", "BlockFootprint": "readback", "Footprint": "readback",
    "count_instances": "readback", "footprint": "readback", "read_layout": "readback", "BuiltLayout": "write",
    "LayoutResult": "write", "build_layout": "write", "description_mzis": "write", "write_layout": "write",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
