"""Splitter and combiner trees for any leaf count (gdsfactory's splitter_tree rounds down to 2^k).

A 1→n tree uses n−1 ``splitter_1x2`` cells arranged by ``core.topology.tree_plan``: leaf channel j
(0 = top) sits at y = (n−1−j)·mode_pitch, every node at the midpoint of its leaves, stage d at
x = d·(splitter_length + connector_length). Arc S-bends of length 2·bend_radius join a node to
its children; leaves that end early run straight to the output plane. The combiner tree is the
mirror image built from ``combiner_2x1``. Each node carries its tree_plan ratio (upper leaves /
leaves served), so every leaf of any tree gets 1/√n of the power (the models' rule). Paths are
length-matched only for powers of two.
"""

from __future__ import annotations

from typing import Any

import gdsfactory as gf

from optinc_pdk.core.topology import tree_depth, tree_plan
from optinc_pdk.pdk.cells._cell import geometry_cell
from optinc_pdk.pdk.cells.couplers import combiner_2x1, splitter_1x2
from optinc_pdk.pdk.cells.waveguides import add_optical_port, sbend, straight
from optinc_pdk.pdk.dimensions import (
    connector_length,
    splitter_length,
    splitter_output_offset,
    tree_length,
    tree_stage_length,
)
from optinc_pdk.pdk.ports import east_port, west_port
from optinc_pdk.spec.geometry import DeviceGeometry


def _build_tree(n: int, geometry: dict[str, Any], combine: bool) -> gf.Component:
    g = DeviceGeometry(**geometry)
    pitch, offset = g.mode_pitch, splitter_output_offset(g)
    stage, node_len, conn_len = tree_stage_length(g), splitter_length(g), connector_length(g)
    total, depth = tree_length(n, g), tree_depth(n)
    node_factory = combiner_2x1 if combine else splitter_1x2

    def leaf_y(j: int) -> float:
        return (n - 1 - j) * pitch

    def span_y(first: int, count: int) -> float:
        return (leaf_y(first) + leaf_y(first + count - 1)) / 2

    def place(cell: gf.Component, name: str, x_split: float, length: float, y: float) -> None:
        """Place ``cell`` spanning [x_split, x_split + length] in the splitter's frame (mirrored for combiners)."""
        x = total - x_split - length if combine else x_split
        c.add_ref(cell, name=name).dmove((x, y))

    c = gf.Component()
    root = None
    plan = tree_plan(n)
    for k in range(plan.n_elements):
        node_first, node_count, node_depth = int(plan.first[k]), int(plan.count[k]), int(plan.depth[k])
        upper = int(plan.upper_count[k])
        y, x0 = span_y(node_first, node_count), node_depth * stage
        # the exact ratio, so every leaf gets 1/√n (tree_leaf_amplitudes); symmetric nodes keep the default cell
        ratio = float(plan.ratio[k])
        node_cell = node_factory(geometry=geometry) if ratio == 0.5 else node_factory(ratio=ratio, geometry=geometry)
        place(node_cell, f"node{k}", x0, node_len, y)
        root = root if root is not None else y
        for branch, sign, first, count in (("upper", 1, node_first, upper),
                                           ("lower", -1, node_first + upper, node_count - upper)):
            y_port, y_child = y + sign * offset, span_y(first, count)
            # splitter frame runs port -> child; the mirrored combiner connector runs child -> port
            dy = (y_port - y_child) if combine else (y_child - y_port)
            place(sbend(dx=conn_len, dy=dy, geometry=geometry), f"conn{k}_{branch}", x0 + node_len, conn_len,
                  y_child if combine else y_port)
            run = (depth - node_depth - 1) * stage
            if count == 1 and run > 0:
                place(straight(length=run, geometry=geometry), f"leaf{first}", x0 + stage, run, y_child)
    w = g.wg_width  # ports added in name order: o1, o2, ...
    if combine:
        for j in reversed(range(n)):
            add_optical_port(c, west_port(j, n), 0, leaf_y(j), 180, w)
        add_optical_port(c, east_port(0, n, 1), total, root, 0, w)
    else:
        add_optical_port(c, west_port(0, 1), 0, root, 180, w)
        for j in range(n):
            add_optical_port(c, east_port(j, 1, n), total, leaf_y(j), 0, w)
    return c


@geometry_cell
def splitter_tree(n_outputs: int = 4, geometry: dict[str, Any] | None = None) -> gf.Component:
    """1→n_outputs tree: input o1 west at the root's y; output channel j (0 = top) is o{2+j}."""
    return _build_tree(n_outputs, geometry, combine=False)


@geometry_cell
def combiner_tree(n_inputs: int = 4, geometry: dict[str, Any] | None = None) -> gf.Component:
    """n_inputs→1 tree: input channel j (0 = top) is o{n_inputs−j}; output o{n_inputs+1} east."""
    return _build_tree(n_inputs, geometry, combine=True)
