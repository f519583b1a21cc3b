"""Plans of the leaf blocks: meshes, attenuator columns, tree arrays, sources, nonlinear units.

Each leaf is built from PDK cells placed as regular arrays (GDS AREFs once drawn):

* a mesh is one cell per distinct MZI column (an array of ``mzi2x2`` at row pitch 2·mode_pitch,
  plus straights on the modes no MZI touches in that column), the columns placed as arrays
  (a Clements mesh: its even and its odd columns, two arrays), then the output phase-shifter
  column (an array of ``phase_shifter``). Mode m's waveguide is at y = (n − 1 − m)·mode_pitch;
  in a fixed-phase build (``fixed`` given) the MZIs are drawn without heaters and every phase is a
  ``phase_delay`` cell of its level in the heater's slot, so the plan depends on the phases: each
  mesh and attenuator column gets its own cell; likewise a ``--min-power`` mesh, whose MZIs carry their
  heaters on the arms the description chose (``mzi2x2(theta_lower=, phi_lower=)``, one array per run of
  one arm choice);
  the MZI on modes (m, m+1) sits with its lower arm on mode m+1.
* an attenuator column places ``mzi_attenuator`` with its upper arm on the attenuated channel and
  straights on the through channels; channels only one side has get a port and no geometry.
* a tree array stacks identical PDK trees, tree t's leaves contiguous (tree 0 on top); the leaf
  order the description asks for is the port order, and the parent's router realises it.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.circuit.model import AttenuatorColumn, MeshBlock, NonlinearArray, Source, TreeArray
from optinc_pdk.circuit.quantise import phase_levels
from optinc_pdk.layout.plan import Placement, Plan, Prim, digest, placement_box, prim_box, progressions, runs, union
from optinc_pdk.pdk import dimensions as dim
from optinc_pdk.spec.fixed_phases import FixedPhaseSpec
from optinc_pdk.spec.geometry import DeviceGeometry


def _channel_y(n: int, pitch: float) -> np.ndarray:
    return (n - 1 - np.arange(n)) * pitch


def _leaf(key: str, name: str, kind: str, width: float, west_y, east_y, prims: list[Prim], g: DeviceGeometry,
          children: tuple[Placement, ...] = (), mzis: int = 0, info: dict | None = None) -> Plan:
    bbox = union([prim_box(p, g) for p in prims] + [placement_box(c) for c in children])
    return Plan(key=key, name=name, kind=kind, width=float(width), west_y=np.asarray(west_y, dtype=np.float64),
                east_y=np.asarray(east_y, dtype=np.float64), bbox=bbox, prims=tuple(prims), children=children,
                wires=None, mzis=mzis, info=info or {})


# --- meshes --------------------------------------------------------------------------------


def _per_column(block: MeshBlock, values: np.ndarray) -> list[np.ndarray]:
    """``values`` (one per MZI) split by layout column 0..n_columns−1, each column's MZIs by top mode."""
    order = np.lexsort((block.top_mode, block.column))
    bounds = np.searchsorted(block.column[order], np.arange(block.n_columns + 1))
    ordered = np.asarray(values)[order]
    return [ordered[bounds[j]:bounds[j + 1]] for j in range(block.n_columns)]


def mesh_column_patterns(block: MeshBlock) -> list[np.ndarray]:
    """Top modes of the MZIs in each layout column (sorted), one array per column 0..n_columns−1."""
    return _per_column(block, block.top_mode)


def delay_prims(levels: np.ndarray, x: float, y: np.ndarray, fixed: FixedPhaseSpec) -> list[Prim]:
    """One ``phase_delay`` per phase: level ``levels[i]`` with its west end at (x, y[i])."""
    spec = (("levels", fixed.levels), ("width", fixed.width), ("taper_length", fixed.taper_length))
    return [Prim("phase_delay", (("level", int(k)), *spec), float(x), float(yy)) for k, yy in zip(levels, y)]


def _mzi_delays(levels: tuple[np.ndarray, np.ndarray], arm_y: np.ndarray, g: DeviceGeometry,
                fixed: FixedPhaseSpec) -> list[Prim]:
    """The φ and θ delays of MZIs whose upper arms lie at ``arm_y`` (the heater slots of the ``mzis.py`` cells)."""
    theta, phi = levels
    return delay_prims(phi, 0.0, arm_y, fixed) + delay_prims(theta, g.heater_length + dim.dc_length(g), arm_y, fixed)


def _arm_params(code: int) -> tuple[tuple[str, bool], ...]:
    """``mzi2x2`` keywords of an arm code (bit 0: θ heater lower, bit 1: φ heater lower); none for all upper."""
    return tuple((name, True) for name, bit in (("theta_lower", 1), ("phi_lower", 2)) if code & bit)


def plan_mesh_column(n: int, tops: np.ndarray, key: str, g: DeviceGeometry,
                     levels: tuple[np.ndarray, np.ndarray] | None = None, fixed: FixedPhaseSpec | None = None,
                     arms: np.ndarray | None = None) -> Plan:
    """One mesh column; with ``fixed``, ``levels`` = (θ, φ) levels of its MZIs in the order of ``tops``; ``arms``
    their arm codes (:func:`mesh_column_arms`; None: every heater upper). MZIs of one arm code on every other
    mode stay one array."""
    p, length = g.mode_pitch, dim.mzi_length(g)
    cell = "mzi2x2" if fixed is None else "mzi2x2_fixed"
    codes = np.zeros(tops.size, dtype=np.int64) if arms is None else arms
    prims = [
        Prim(cell, _arm_params(int(code)), 0.0, (n - 2 - (m0 + 2 * (count - 1))) * p, rows=count, row_pitch=2 * p)
        for code in np.unique(codes)
        for m0, count in runs(tops[codes == code], 2)
    ]
    if fixed is not None:
        prims += _mzi_delays(levels, (n - 1 - tops) * p, g, fixed)
    covered = np.zeros(n, dtype=bool)
    covered[tops] = covered[tops + 1] = True
    prims += [
        Prim("straight", (("length", length),), 0.0, (n - 1 - (m0 + count - 1)) * p, rows=count, row_pitch=p)
        for m0, count in runs(np.flatnonzero(~covered), 1)
    ]
    y = _channel_y(n, p)
    return _leaf(key, f"mesh_column_n{n}", "mesh_column", length, y, y, prims, g, mzis=int(tops.size))


def mesh_column_levels(block: MeshBlock, levels: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(θ levels, φ levels) of each layout column's MZIs, in the order of :func:`mesh_column_patterns`."""
    return list(zip(_per_column(block, phase_levels(block.theta, levels)),
                    _per_column(block, phase_levels(block.phi, levels))))


def mesh_column_arms(block: MeshBlock) -> list[np.ndarray]:
    """Arm code of each layout column's MZIs (θ lower: 1, φ lower: 2), in the order of :func:`mesh_column_patterns`."""
    return _per_column(block, block.theta_lower.astype(np.int64) + 2 * block.phi_lower.astype(np.int64))


def _mesh_topology(block: MeshBlock, topologies: dict[str, tuple] | None) -> tuple:
    """(column patterns, column keys, mesh key) of a heater mesh, once per topology when ``topologies`` caches them
    (one hash of its MZI positions instead of one per column: a design has hundreds of meshes of a few
    topologies, and b8n16_full's 1024-mode meshes 1024 columns each)."""
    n = block.n_modes
    topology = digest("topology", n, block.top_mode, block.column)
    known = None if topologies is None else topologies.get(topology)
    if known is None:
        patterns = mesh_column_patterns(block)
        column_keys = [digest("mesh_column", n, tops) for tops in patterns]
        known = patterns, column_keys, digest("mesh", n, tuple(column_keys))
        if topologies is not None:
            topologies[topology] = known
    return known


def plan_mesh(block: MeshBlock, g: DeviceGeometry, columns: dict[str, Plan], topologies: dict[str, tuple] | None = None,
              fixed: FixedPhaseSpec | None = None) -> tuple[str, callable]:
    """(key, build) for a mesh; ``columns`` caches column plans across meshes of one design, ``topologies`` each
    heater mesh topology's columns and key; a fixed-phase mesh's columns also carry their delay levels."""
    n = block.n_modes
    arms = [None] * block.n_columns
    if fixed is None and not block.phases.any_lower:
        patterns, column_keys, key = _mesh_topology(block, topologies)
        levels, outputs = [None] * len(patterns), None
    elif fixed is None:  # heaters on chosen arms (--min-power): the plan depends on them, as a fixed build's on levels
        patterns, arms, levels, outputs = mesh_column_patterns(block), mesh_column_arms(block), [None] * block.n_columns, None
        column_keys = [digest("mesh_column", n, tops, *((codes,) if codes.any() else ())) for tops, codes in zip(patterns, arms)]
        key = digest("mesh", n, tuple(column_keys))
    else:
        patterns = mesh_column_patterns(block)
        levels = mesh_column_levels(block, fixed.levels)
        outputs = phase_levels(block.output_phase, fixed.levels)
        column_keys = [digest("mesh_column", n, tops, *lv, fixed.levels, fixed.width, fixed.taper_length)
                       for tops, lv in zip(patterns, levels)]
        key = digest("mesh", n, tuple(column_keys), outputs)

    def build() -> Plan:
        p, length = g.mode_pitch, dim.mzi_length(g)
        where: dict[str, list[int]] = {}
        for j, (ckey, tops, lv, codes) in enumerate(zip(column_keys, patterns, levels, arms)):
            if ckey not in columns:
                columns[ckey] = plan_mesh_column(n, tops, ckey, g, lv, fixed, codes)
            where.setdefault(ckey, []).append(j)
        children = tuple(
            Placement(columns[ckey], f"col{first}", first * length, 0.0, columns=count, column_pitch=step * length)
            for ckey, js in where.items()
            for first, count, step in progressions(js)
        )
        n_cols = len(patterns)
        y = _channel_y(n, p)
        prims = ([Prim("phase_shifter", (), n_cols * length, 0.0, rows=n, row_pitch=p)] if fixed is None
                 else delay_prims(outputs, n_cols * length, y, fixed))
        mzis = sum(c.plan.mzis * c.count for c in children)
        return _leaf(key, f"mesh_n{n}", "mesh", n_cols * length + g.heater_length, y, y, prims, g,
                     children=children, mzis=mzis, info={"modes": n, "columns": n_cols, "mzis": mzis})

    return key, build


# --- attenuator columns ----------------------------------------------------------------------


def plan_attenuators(block: AttenuatorColumn, g: DeviceGeometry,
                     fixed: FixedPhaseSpec | None = None) -> tuple[str, callable]:
    n_in, n_out = block.n_in, block.n_out
    modes = np.sort(block.mode)
    key = digest("attenuators", n_in, n_out, modes)
    if fixed is not None:
        order = np.argsort(block.mode, kind="stable")
        levels = tuple(phase_levels(v, fixed.levels)[order] for v in (block.column.theta, block.column.phi))
        key = digest(key, *levels, fixed.levels, fixed.width, fixed.taper_length)

    def build() -> Plan:
        p, length = g.mode_pitch, dim.mzi_length(g)
        n = max(n_in, n_out)
        top = lambda last: (n - 1 - last) * p  # noqa: E731 - y of the lowest channel of a run
        cell = "mzi_attenuator" if fixed is None else "mzi_attenuator_fixed"
        prims = [
            Prim(cell, (), 0.0, top(m0 + count - 1) - g.attenuator_arm_spacing, rows=count, row_pitch=p)
            for m0, count in runs(modes, 1)
        ]
        if fixed is not None:
            prims += _mzi_delays(levels, top(modes), g, fixed)
        through = np.setdiff1d(np.arange(min(n_in, n_out)), modes)
        prims += [Prim("straight", (("length", length),), 0.0, top(m0 + count - 1), rows=count, row_pitch=p)
                  for m0, count in runs(through, 1)]
        y = _channel_y(n, p)
        return _leaf(key, f"attenuators_{n_out}x{n_in}", "attenuators", length, y[:n_in], y[:n_out],
                     prims, g, mzis=int(modes.size))

    return key, build


# --- tree arrays -----------------------------------------------------------------------------


def plan_trees(block: TreeArray, g: DeviceGeometry) -> tuple[str, callable]:
    n_trees, n_leaves, splitting = block.n_trees, block.n_leaves, block.splitting
    leaf_side = block.n_out if splitting else block.n_in
    key = digest("trees", splitting, n_trees, n_leaves, leaf_side, block.leaf_channels)

    def build() -> Plan:
        p = g.mode_pitch
        tree = np.arange(n_trees)
        if n_leaves >= 2:
            cell, param = ("splitter_tree", "n_outputs") if splitting else ("combiner_tree", "n_inputs")
            prims = [Prim(cell, ((param, n_leaves),), 0.0, 0.0, rows=n_trees, row_pitch=n_leaves * p)] if n_trees else []
            base = (n_trees - 1 - tree) * n_leaves * p  # y of tree t's lowest leaf
            natural = base[:, None] + _channel_y(n_leaves, p)[None, :]
            trunk = base + (n_leaves - 1) * p / 2
            width = dim.tree_length(n_leaves, g)
        else:  # a one-leaf tree is a plain pass: no element, no length
            prims, width = [], 0.0
            trunk = (n_trees - 1 - tree) * p
            natural = trunk[:, None]
        leaf_y = np.full(leaf_side, np.nan)
        leaf_y[block.leaf_channels.ravel()] = natural.ravel()
        unused = np.isnan(leaf_y)  # channels no tree uses: ports below the trees, nothing drawn
        leaf_y[unused] = -(1 + np.arange(int(unused.sum()))) * p
        west, east = (trunk, leaf_y) if splitting else (leaf_y, trunk)
        kind = block.kind
        return _leaf(key, f"{kind}_{n_trees}x{n_leaves}", kind, width, west, east, prims, g)

    return key, build


# --- sources and nonlinear units ---------------------------------------------------------------


def plan_source(block: Source, g: DeviceGeometry) -> tuple[str, callable]:
    """The bias light input: a short straight (2·bend_radius) whose east end is the source's output."""
    key = digest("source")

    def build() -> Plan:
        length = dim.connector_length(g)
        prims = [Prim("straight", (("length", length),), 0.0, 0.0)]
        return _leaf(key, "source", "source", length, np.zeros(0), np.zeros(1), prims, g)

    return key, build


def plan_nonlinear(block: NonlinearArray, g: DeviceGeometry) -> tuple[str, callable]:
    n = block.n_in
    key = digest("nonlinear", n)

    def build() -> Plan:
        p = g.mode_pitch
        prims = [Prim("nonlinear_unit", (), 0.0, 0.0, rows=n, row_pitch=p)] if n else []
        y = _channel_y(n, p)
        return _leaf(key, f"nonlinear_{n}", "nonlinear", g.nonlinear_length, y, y, prims, g)

    return key, build
