"""Whole-design netlists in gdsfactory's YAML schema, one file per description block, placed as drawn.

The hierarchy follows the circuit description (top → layers → matrix/bias → blocks → meshes),
so every MZI can carry its own phases even where the GDS shares one phase-free cell between
blocks; the coordinates come from the layout plan, so every placement equals the drawn GDS
instance's (in the plan frame: a composite's own origin at (0, 0), as the GDS draws every cell
but those over ±1 m, see ``draw.Drawer.origin``):

* a composite block's file places its children (``component:`` the child's file name) and
  draws its waveguides as PDK ``straight`` and ``sbend`` instances (``wg*`` / ``bend*``);
* a leaf block's file places PDK cells: ``mzi2x2`` / ``mzi_attenuator`` with ``theta`` and
  ``phi`` settings (instance ``mzi<k>``, k the MZI's index in the phase map), ``phase_shifter``
  with ``phase`` (``ps<m>``), trees (their ``ratio`` fixed by the leaf count), straights.

Connections are where two ports meet, exactly as ``get_netlist`` finds them in a drawn
component: ``nets`` lists every such pair and ``ports`` the instance port at each of the block's
own ports (west channel c is ``o{n_in − c}``, east channel j ``o{n_in + 1 + j}``; each bias source's
light input is one more port, ``bias_in`` on the source, ``<child>_<port>`` on every level above). Register the
folder with ``optinc_pdk.layout.netlists.register_netlists`` (or gdsfactory's
``register_cells_yaml``) and ``gf.read.from_yaml`` rebuilds any level with its children.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np

from optinc_pdk.circuit import naming
from optinc_pdk.circuit.model import AttenuatorColumn, Block, Composite, MeshBlock, Source
from optinc_pdk.layout.labels import mzi_origins
from optinc_pdk.layout.plan import MZI_CELLS, Plan
from optinc_pdk.layout.planner import Planner
from optinc_pdk.pdk.ports import east_port, west_port
from optinc_pdk.spec.geometry import DeviceGeometry

#: Coordinates are matched on this grid (µm): the GDS database unit.
GRID_UM = 0.001
#: Instance names of cells without a phase (gdsfactory renames instances called ``<cell>_<n>``).
SHORT_NAMES = {"straight": "wg", "sbend": "bend", "splitter_tree": "tree", "combiner_tree": "tree",
               "nonlinear_unit": "nl", "splitter_1x2": "split", "combiner_2x1": "merge"}
#: Port of a bias source's netlist where its light enters (the laser input; its field is the source's amplitude).
BIAS_PORT = "bias_in"
#: File suffix gdsfactory's ``register_cells_yaml`` looks for.
SUFFIX = ".pic.yml"


def netlist_name(block: Block, design: str = "") -> str:
    """The block's netlist (and file) name: ``<design>_<path>``, ``_`` for ``/`` (gdsfactory cuts names at
    dots). The design's name keeps two designs' levels apart when both are registered in one PDK."""
    path = block.name.replace("/", "_")
    return f"{design}_{path}" if design else path


def _short(cell: str) -> str:
    return SHORT_NAMES.get(cell, cell.replace("_", ""))


def _key(x: float, y: float) -> tuple[int, int]:
    return round(x / GRID_UM), round(y / GRID_UM)


def _cell_ports(cell: str, params: tuple, geometry_json: str) -> tuple[tuple[str, float, float, int], ...]:
    """(name, x, y, angle) of a PDK cell's optical ports.

    Waveguides (thousands of distinct lengths and offsets per design) by their definition, every
    other cell read from the cell itself, built once per parameter set.
    """
    values = dict(params)
    if cell == "straight":
        return (("o1", 0.0, 0.0, 180), ("o2", float(values["length"]), 0.0, 0))
    if cell == "sbend":
        return (("o1", 0.0, 0.0, 180), ("o2", float(values["dx"]), float(values["dy"]), 0))
    return _built_cell_ports(cell, params, geometry_json)


@lru_cache(maxsize=256)
def _built_cell_ports(cell: str, params: tuple, geometry_json: str) -> tuple[tuple[str, float, float, int], ...]:
    from optinc_pdk.pdk import activate_pdk
    from optinc_pdk.pdk.cells import CELLS

    activate_pdk()
    component = CELLS[cell](**dict(params), geometry=DeviceGeometry.model_validate_json(geometry_json))
    return tuple((p.name, float(p.dcenter[0]), float(p.dcenter[1]), round(p.orientation) % 360)
                 for p in component.ports if p.port_type == "optical")


def _flat_prims(plan: Plan, x: float = 0.0, y: float = 0.0) -> Iterator[tuple[str, tuple, float, float]]:
    """Every PDK cell a plan places, arrays and child plans expanded: (cell, params, x, y) in the plan's frame."""
    for prim in plan.prims:
        for a in range(prim.columns):
            for b in range(prim.rows):
                yield prim.cell, prim.params, x + prim.x + a * prim.column_pitch, y + prim.y + b * prim.row_pitch
    for place in plan.children:
        for a in range(place.columns):
            for b in range(place.rows):
                yield from _flat_prims(place.plan, x + place.x + a * place.column_pitch, y + place.y + b * place.row_pitch)


class Level:
    """One netlist being assembled: instances, placements and the ports they expose at points."""

    def __init__(self, name: str, geometry: DeviceGeometry) -> None:
        self.name, self.geometry = name, geometry
        self.geometry_json = geometry.model_dump_json()
        self.default_geometry = geometry == DeviceGeometry()
        self.instances: dict[str, dict] = {}
        self.placements: dict[str, dict] = {}
        self.points: dict[tuple[int, int], list[tuple[str, int]]] = {}

    def add(self, name: str, component: str, x: float, y: float, ports, settings: dict | None = None) -> None:
        entry: dict = {"component": component}
        if settings:
            entry["settings"] = settings
        self.instances[name] = entry
        self.placements[name] = {"x": float(x), "y": float(y), "rotation": 0, "mirror": False}
        for port, px, py, angle in ports:
            self.points.setdefault(_key(x + px, y + py), []).append((f"{name},{port}", angle))

    def add_pdk(self, name: str, cell: str, params: tuple, x: float, y: float, settings: dict | None = None) -> None:
        settings = {**dict(params), **(settings or {})}
        if not self.default_geometry:
            settings["geometry"] = self.geometry.model_dump()
        self.add(name, cell, x, y, _cell_ports(cell, params, self.geometry_json), settings)

    def netlist(self, west_y: np.ndarray, east_y: np.ndarray, width: float) -> dict:
        """Nets where two ports meet facing each other; the block's ports where an instance port lies on them."""
        nets = []
        for members in self.points.values():
            if len(members) == 2 and abs(members[0][1] - members[1][1]) == 180:
                a, b = sorted(ref for ref, _ in members)
                nets.append({"p1": a, "p2": b})
        ports = {}
        n_in, n_out = west_y.size, east_y.size
        for names, x, ys, angle in (([west_port(c, n_in) for c in range(n_in)], 0.0, west_y, 180),
                                    ([east_port(j, n_in, n_out) for j in range(n_out)], width, east_y, 0)):
            for port, y in zip(names, ys.tolist()):
                found = [ref for ref, facing in self.points.get(_key(x, y), []) if facing == angle]
                if len(found) == 1:
                    ports[port] = found[0]
        nets.sort(key=lambda net: (net["p1"], net["p2"]))
        return {"name": self.name, "instances": self.instances, "placements": self.placements,
                "nets": nets, "ports": ports}


def _phase_settings(block: Block, g: DeviceGeometry) -> dict[tuple[int, int], tuple[str, dict]]:
    """Instance name and settings of every phase-carrying cell of a leaf, keyed by its drawn origin."""
    out: dict[tuple[int, int], tuple[str, dict]] = {}
    if isinstance(block, (MeshBlock, AttenuatorColumn)):
        for k, (x, y) in enumerate(mzi_origins(block, g).tolist()):
            out[_key(x, y)] = (naming.mzi_instance(k), {"theta": float(block.theta[k]), "phi": float(block.phi[k])})
    if isinstance(block, MeshBlock):
        from optinc_pdk.pdk import dimensions as dim

        x = block.n_columns * dim.mzi_length(g)
        for m in range(block.n_modes):
            out[_key(x, (block.n_modes - 1 - m) * g.mode_pitch)] = (
                naming.phase_shifter_instance(m), {"phase": float(block.output_phase[m])})
    return out


def leaf_netlist(block: Block, plan: Plan, g: DeviceGeometry, design: str = "") -> dict:
    netlist = leaf_level(block, plan, g, design).netlist(plan.west_y, plan.east_y, plan.width)
    if isinstance(block, Source):  # where the bias laser is coupled in: the source waveguide's free end
        netlist["ports"][BIAS_PORT] = f"{_short('straight')}0,o1"
    return netlist


def leaf_level(block: Block, plan: Plan, g: DeviceGeometry, design: str = "", phases: bool = True) -> Level:
    """A leaf block's PDK cells, named and placed as its netlist has them (ports at ``points``); without ``phases``
    every cell is named by its kind and carries no phase (what connects where, for any plan: fixed-phase too)."""
    level = Level(netlist_name(block, design), g)
    phased = _phase_settings(block, g) if phases else {}
    counts: dict[str, int] = {}
    placed = 0
    for cell, params, x, y in _flat_prims(plan):
        named = phased.get(_key(x, y)) if cell in MZI_CELLS or cell == "phase_shifter" else None
        if named is None:
            index = counts[cell] = counts.get(cell, -1) + 1
            named = (f"{_short(cell)}{index}", {})
        else:
            placed += 1
        if not phases and cell == "phase_delay":  # its level is its phase; its ports are the same for every level
            params = tuple(item for item in params if item[0] != "level")
        level.add_pdk(named[0], cell, params, x, y, named[1])
    if placed != len(phased):  # a phase the layout does not place: a planner bug, never a user error
        raise AssertionError(f"{block.name}: {len(phased) - placed} phases have no drawn cell")
    return level


def bias_ports(block: Block) -> list[str]:
    """The bias-light input ports a block's netlist exposes: ``bias_in`` of each source inside, named by path."""
    if isinstance(block, Source):
        return [BIAS_PORT]
    if isinstance(block, Composite):
        return [f"{child.name.rsplit('/', 1)[-1]}_{port}" for child in block.children for port in bias_ports(child)]
    return []


def composite_netlist(block: Composite, plan: Plan, planner: Planner, design: str = "") -> dict:
    netlist = composite_level(block, plan, planner, design).netlist(plan.west_y, plan.east_y, plan.width)
    for child in block.children:  # every source's input reaches the top as a port, for simulation
        instance = child.name.rsplit("/", 1)[-1]
        netlist["ports"].update({f"{instance}_{port}": f"{instance},{port}" for port in bias_ports(child)})
    return netlist


def composite_level(block: Composite, plan: Plan, planner: Planner, design: str = "") -> Level:
    """A composite's children (at their ports) and its waveguides as straights and S-bends, placed as drawn."""
    g = planner.geometry
    level = Level(netlist_name(block, design), g)
    for child, (cx, cy) in zip(block.children, plan.origins.tolist()):
        child_plan = planner.plan(child)
        n_in, n_out = child_plan.west_y.size, child_plan.east_y.size
        ports = [(west_port(c, n_in), 0.0, y, 180) for c, y in enumerate(child_plan.west_y.tolist())]
        ports += [(east_port(j, n_in, n_out), child_plan.width, y, 0) for j, y in enumerate(child_plan.east_y.tolist())]
        level.add(child.name.rsplit("/", 1)[-1], netlist_name(child, design), cx, cy, ports)
    for index, prim in enumerate(plan.prims):  # cells a composite places itself (none today)
        level.add_pdk(f"{_short(prim.cell)}{index}", prim.cell, prim.params, prim.x, prim.y)
    wires = plan.wires
    if wires is not None:
        for index, (x0, x1, y) in enumerate(wires.segments.tolist()):
            level.add_pdk(f"wg{index}", "straight", (("length", x1 - x0),), x0, y)
        for index, (x0, y0, dy) in enumerate(wires.bends.tolist()):
            level.add_pdk(f"bend{index}", "sbend", (("dx", wires.bend_length), ("dy", dy)), x0, y0)
    return level


def design_netlists(top: Block, planner: Planner | None = None, name: str | None = None,
                    origin: tuple[float, float] = (0.0, 0.0)) -> dict[str, dict]:
    """Every block's netlist, keyed by its name, top first (depth-first, optical order).

    With ``name`` (the GDS top cell's), every level's name starts with it (``b8n4_L1_B0_U``) and a
    netlist of that name comes first: the design placed as the GDS places it (at ``-origin``, see
    ``draw.Drawer.origin``) with its ports, the file a user opens.
    ``planner`` is the layout's own, so the placements are those of the drawn plan.
    """
    planner = planner or Planner()
    out: dict[str, dict] = {}
    design = name or ""
    if name is not None:
        out[name] = _top_netlist(name, top, planner.plan(top), origin)
    for block in top.walk():
        plan = planner.plan(block)
        if isinstance(block, Composite):
            out[netlist_name(block, design)] = composite_netlist(block, plan, planner, design)
        else:
            out[netlist_name(block, design)] = leaf_netlist(block, plan, planner.geometry, design)
    return out


def _top_netlist(name: str, top: Block, plan: Plan, origin: tuple[float, float]) -> dict:
    n_in, n_out = plan.west_y.size, plan.east_y.size
    names = [west_port(c, n_in) for c in range(n_in)] + [east_port(j, n_in, n_out) for j in range(n_out)]
    instance = top.name.rsplit("/", 1)[-1]  # as the GDS top cell names its one instance ("optinc")
    return {"name": name, "instances": {instance: {"component": netlist_name(top, name)}},
            "placements": {instance: {"x": -origin[0], "y": -origin[1], "rotation": 0, "mirror": False}},
            "nets": [], "ports": {port: f"{instance},{port}" for port in names + bias_ports(top)}}


def netlist_yaml(netlist: dict) -> str:
    """The netlist as YAML text, one line per instance, placement, net and port.

    Each value is written as JSON, which is YAML's flow style: readable, exact (floats keep every
    digit) and ~20x faster than PyYAML's representer, which took 20 s for b8n4's 58 000 cells.
    """
    lines = [f"name: {json.dumps(netlist['name'])}"]
    for section in ("instances", "placements"):
        lines.append(f"{section}:" + ("" if netlist[section] else " {}"))
        lines += [f"  {name}: {json.dumps(value)}" for name, value in netlist[section].items()]
    lines.append("nets:" + ("" if netlist["nets"] else " []"))
    lines += [f"  - {json.dumps(net)}" for net in netlist["nets"]]
    lines.append("ports:" + ("" if netlist["ports"] else " {}"))
    lines += [f"  {name}: {json.dumps(ref)}" for name, ref in netlist["ports"].items()]
    return "\n".join(lines) + "\n"


def write_netlists(netlists: dict[str, dict], folder: str | Path) -> list[Path]:
    """One ``<name>.pic.yml`` per netlist (atomic writes); returns the paths."""
    from optinc_pdk.core.atomic import write_text_atomic

    folder = Path(folder)
    return [write_text_atomic(folder / f"{name}{SUFFIX}", netlist_yaml(netlist)) for name, netlist in netlists.items()]


def register_netlists(folder: str | Path) -> list[str]:
    """Make every ``*.pic.yml`` of ``folder`` a cell of the active optinc PDK, so ``gf.read.from_yaml``
    resolves children; returns the registered names (see :func:`registered_netlists` to undo it)."""
    import gdsfactory as gf

    from optinc_pdk.pdk import activate_pdk

    activate_pdk()
    gf.get_active_pdk().register_cells_yaml(dirpath=Path(folder), update=True)
    return [path.name[: -len(SUFFIX)] for path in Path(folder).glob(f"*{SUFFIX}")]


@contextmanager
def registered_netlists(folder: str | Path) -> Iterator[list[str]]:
    """:func:`register_netlists` for the duration of a ``with`` block: the PDK's cells are as before afterwards."""
    import gdsfactory as gf

    names = register_netlists(folder)
    try:
        yield names
    finally:
        pdk = gf.get_active_pdk()
        for name in names:
            pdk.cells.pop(name, None)
