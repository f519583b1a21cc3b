"""Optical excess loss of every path from a server input to a receiver, from the layout plan and the PDK cells.

A path is counted in elements: waveguide length (µm), bends (in 90° units), crossings, 1x2 splitter and 2x1
combiner stages (MMIs), 2x2 couplers and heaters passed. Each block gives, for every (input, output) pair it
connects, its worst route (the one with the most loss); composites join their children's routes with the
routed waveguides between them, whose length, bends and crossings the router recorded per signal
(``Wires.signal_paths``). Routes are joined in the max-plus sense: the worst route from a to c is the worst
over b of (a → b) + (b → c), and its element counts follow the chosen b. The loss of a route is its counts
times the per-element losses of the scenario's ``budget.losses`` (defaults with sources there).

Leaf blocks, from the PDK cells' geometry (``optinc_pdk.pdk.dimensions``, the cells as drawn):
a mesh MZI passes two couplers (their S-bends included) and, on its worst arm, both heaters; a mode with no
MZI in a column runs straight; the output phase screen is one heater per mode. An attenuator is the same
MZI on its narrower arm spacing. A tree leaf passes the splitter or combiner nodes on its branch and their
connector S-bends. The designed amplitude of the chain (tree splitting, attenuator settings, layer scales)
is not an excess loss: it is the gain chain of ``optinc_pdk.circuit.gains`` (see ``link_budget``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optinc_pdk.circuit.model import AttenuatorColumn, Block, Composite, MeshBlock, NonlinearArray, Source, TreeArray
from optinc_pdk.core.topology import tree_plan
from optinc_pdk.errors import OptincError
from optinc_pdk.layout.planner import Planner
from optinc_pdk.pdk import dimensions as dim
from optinc_pdk.spec.budget import ElementLosses
from optinc_pdk.spec.geometry import DeviceGeometry, arc_sbend

THEN_BLOCK_VALUES = 2**24  # sums held at once in a max-plus product (128 MB of float64)
#: element counts carried along a route, in this order
COUNTS = ("length_um", "bends", "crossings", "splitters", "couplers", "heaters")


def per_element_db(losses: ElementLosses) -> np.ndarray:
    """dB per unit of each of ``COUNTS``."""
    return np.array([losses.waveguide_db_per_cm / 1e4, losses.bend_db_per_90, losses.crossing_db,
                     losses.splitter_db, losses.coupler_db, losses.heater_db])


@dataclass
class Routes:
    """Worst routes between a block's inputs and outputs: ``loss`` (n_in, n_out) dB, −inf where none; ``counts``
    (n_in, n_out, len(COUNTS))."""

    loss: np.ndarray
    counts: np.ndarray

    @classmethod
    def none(cls, n_in: int, n_out: int) -> Routes:
        return cls(np.full((n_in, n_out), -np.inf), np.zeros((n_in, n_out, len(COUNTS))))

    def then(self, other: Routes) -> Routes:
        """These routes followed by ``other``'s (max-plus product, the counts of the worst middle channel).

        The (n_in, n_middle, n_out) sums are formed a block of outputs at a time, at most ``THEN_BLOCK_VALUES``
        values each: whole, a 1024-wide stage's would be 8.6 GB (b8n16's link budget ran out of memory).
        """
        n_in, n_mid = self.loss.shape
        n_out = other.loss.shape[1]
        middle = np.empty((n_in, n_out), dtype=np.int64)
        loss = np.empty((n_in, n_out))
        step = max(1, THEN_BLOCK_VALUES // max(1, n_in * n_mid))
        for start in range(0, n_out, step):
            block = self.loss[:, :, None] + other.loss[None, :, start : start + step]
            middle[:, start : start + step] = np.argmax(block, axis=1)
            loss[:, start : start + step] = np.max(block, axis=1)
        rows, cols = np.arange(n_in)[:, None], np.arange(n_out)[None, :]
        counts = self.counts[rows, middle] + other.counts[middle, cols]
        counts[np.isneginf(loss)] = 0.0
        return Routes(loss, counts)


def _arc_counts(dx: float, dy: float) -> tuple[float, float]:
    """(centre-line length, bends in 90° units) of the PDK's arc S-bend over dx × dy."""
    bend = arc_sbend(dx, dy)
    if bend.angle == 0:
        return dx, 0.0
    return 2 * bend.radius * bend.angle + bend.straight, 2 * bend.angle / (math.pi / 2)


class LossModel:
    """Per-element counts of the PDK cells' paths, and the worst routes of blocks built from them."""

    def __init__(self, geometry: DeviceGeometry, losses: ElementLosses) -> None:
        self.g, self.db = geometry, per_element_db(losses)
        self.planner = Planner(geometry)
        self._cache: dict[int, Routes] = {}

    def vector(self, **counts: float) -> np.ndarray:
        return np.array([counts.get(name, 0.0) for name in COUNTS], dtype=np.float64)

    def mzi(self, arm_spacing: float) -> np.ndarray:
        """One MZI passed on its heated arm: φ heater, coupler, θ heater, coupler."""
        g = self.g
        dy = (arm_spacing - g.coupler_gap - g.wg_width) / 2
        length, bends = _arc_counts(g.sbend_length, dy)
        return self.vector(length_um=2 * g.heater_length + 2 * (2 * length + g.coupler_length), bends=4 * bends,
                           couplers=2, heaters=2)

    def straight(self, length: float) -> np.ndarray:
        return self.vector(length_um=length)

    def _routes(self, counts: np.ndarray) -> Routes:
        return Routes(counts @ self.db, counts)

    def routes(self, block: Block) -> Routes:
        key = id(block)
        if key not in self._cache:
            self._cache[key] = self._build(block)
        return self._cache[key]

    def _build(self, block: Block) -> Routes:
        if isinstance(block, Composite):
            return self.composite(block)
        if isinstance(block, MeshBlock):
            return self.mesh(block)
        if isinstance(block, AttenuatorColumn):
            return self.attenuators(block)
        if isinstance(block, TreeArray):
            return self.trees(block)
        if isinstance(block, Source):
            return Routes.none(0, block.n_out)
        if isinstance(block, NonlinearArray):
            counts = np.zeros((block.n_in, block.n_out, len(COUNTS)))
            counts[np.arange(block.n_in), np.arange(block.n_in)] = self.straight(self.g.nonlinear_length)
            routes = self._routes(counts)
            routes.loss[counts.sum(axis=2) == 0] = -np.inf
            return routes
        raise OptincError(f"{block.name}: no loss model for blocks of kind {block.kind!r}")

    def mesh(self, block: MeshBlock) -> Routes:
        """Column by column: an MZI's two outputs take the worse of its two inputs plus the MZI."""
        n, mzi, through = block.n_in, self.mzi(self.g.mode_pitch), self.straight(dim.mzi_length(self.g))
        loss = np.full((n, n), -np.inf)
        np.fill_diagonal(loss, 0.0)
        counts = np.zeros((n, n, len(COUNTS)))
        order = np.lexsort((block.top_mode, block.column))
        tops_all, cols_all = block.top_mode[order], block.column[order]
        for column in range(block.n_columns):
            tops = tops_all[cols_all == column]
            step = np.tile(through, (n, 1))
            step[tops] = step[tops + 1] = mzi
            upper_worse = loss[:, tops] >= loss[:, tops + 1]  # (n_in, pairs): which input the worst route used
            pick = np.where(upper_worse, tops, tops + 1)
            rows = np.arange(n)[:, None]
            best_loss, best_counts = loss[rows, pick], counts[rows, pick]
            for side in (tops, tops + 1):
                loss[:, side], counts[:, side] = best_loss, best_counts
            counts += step[None, :, :]
            loss += step @ self.db
        heater = self.vector(length_um=self.g.heater_length, heaters=1)  # the output phase screen
        counts += heater
        loss += heater @ self.db
        counts[np.isneginf(loss)] = 0.0
        return Routes(loss, counts)

    def attenuators(self, block: AttenuatorColumn) -> Routes:
        width = min(block.n_in, block.n_out)
        counts = np.zeros((block.n_in, block.n_out, len(COUNTS)))
        channels = np.arange(width)
        counts[channels, channels] = self.straight(dim.mzi_length(self.g))
        counts[block.column.mode, block.column.mode] = self.mzi(self.g.attenuator_arm_spacing)
        routes = self._routes(counts)
        mask = np.full((block.n_in, block.n_out), True)
        mask[channels, channels] = False
        routes.loss[mask] = -np.inf
        return routes

    def tree_leaves(self, n: int) -> np.ndarray:
        """(n, len(COUNTS)): the path from the trunk to each leaf of an n-leaf tree."""
        g, plan = self.g, tree_plan(n)
        pitch, offset = g.mode_pitch, dim.splitter_output_offset(g)
        stage, depth = dim.tree_stage_length(g), plan.depth.max() + 1 if plan.n_elements else 0
        out = np.zeros((n, len(COUNTS)))
        for k in range(plan.n_elements):
            first, count, upper = int(plan.first[k]), int(plan.count[k]), int(plan.upper_count[k])
            y = (n - 1 - (first + (count - 1) / 2)) * pitch
            for sign, lo, cnt in ((1, first, upper), (-1, first + upper, count - upper)):
                child_y = (n - 1 - (lo + (cnt - 1) / 2)) * pitch
                length, bends = _arc_counts(dim.connector_length(g), child_y - (y + sign * offset))
                out[lo:lo + cnt] += self.vector(length_um=dim.splitter_length(g) + length, bends=bends, splitters=1)
                if cnt == 1:  # a leaf that ends early runs straight to the output plane
                    out[lo, 0] += (depth - int(plan.depth[k]) - 1) * stage
        return out

    def trees(self, block: TreeArray) -> Routes:
        leaves = self.tree_leaves(block.n_leaves)
        counts = np.zeros((block.n_in, block.n_out, len(COUNTS)))
        reached = np.zeros((block.n_in, block.n_out), dtype=bool)
        for t in range(block.n_trees):
            leaf = block.leaf_channels[t]
            if block.splitting:
                counts[t, leaf], reached[t, leaf] = leaves, True
            else:
                counts[leaf, t], reached[leaf, t] = leaves, True
        routes = self._routes(counts)
        routes.loss[~reached] = -np.inf
        return routes

    def wire(self, plan_paths: np.ndarray, k: int) -> np.ndarray:
        length, bends, crossings = plan_paths[:, k] if plan_paths.shape[1] > k else (0.0, 0.0, 0.0)
        return self.vector(length_um=length, bends=bends, crossings=crossings)

    def composite(self, block: Composite) -> Routes:
        paths = self.planner.plan(block).wires
        paths = paths.signal_paths if paths is not None else np.zeros((3, 0))
        n_in = block.n_in
        arrive = [Routes.none(n_in, child.n_in) for child in block.children]
        for c_in, (child, ch) in enumerate(block.inputs.tolist()):
            arrive[child].loss[c_in, ch] = self.wire(paths, c_in) @ self.db
            arrive[child].counts[c_in, ch] = self.wire(paths, c_in)
        leaving = []
        for c, child in enumerate(block.children):
            out = arrive[c].then(self.routes(child)) if child.n_in else Routes.none(n_in, child.n_out)
            leaving.append(out)
            for k in np.flatnonzero(block.links[:, 0] == c).tolist():
                _, src_ch, dst, dst_ch = block.links[k].tolist()
                wire = self.wire(paths, n_in + k)
                arrive[dst].loss[:, dst_ch] = out.loss[:, src_ch] + wire @ self.db
                arrive[dst].counts[:, dst_ch] = out.counts[:, src_ch] + wire
        result = Routes.none(n_in, block.n_out)
        first_output = n_in + block.links.shape[0]
        for o, (child, ch) in enumerate(block.outputs.tolist()):
            wire = self.wire(paths, first_output + o)
            result.loss[:, o] = leaving[child].loss[:, ch] + wire @ self.db
            result.counts[:, o] = leaving[child].counts[:, ch] + wire
        result.counts[np.isneginf(result.loss)] = 0.0
        return result
