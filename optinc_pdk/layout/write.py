"""Build a description's layout and write it: GDS/OASIS (atomic), PNG, footprint report.

Every file is written under a temporary name and renamed only once complete; a GDS or OASIS
file is read back with KLayout *before* its rename, and must hold exactly the description's MZI
count, so a file under a final name is always a whole, checked layout. Shapes are checked before
any file is opened (``validate.py``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import AttenuatorColumn, Block, MeshBlock
from optinc_pdk.core.atomic import atomic_path, write_text_atomic
from optinc_pdk.errors import OptincError
from optinc_pdk.layout.plan import Plan
from optinc_pdk.layout.planner import Planner
from optinc_pdk.layout.readback import Footprint, count_instances, count_shapes, footprint, read_layout
from optinc_pdk.layout.validate import validate_description
from optinc_pdk.spec.dies import DieSpec
from optinc_pdk.spec.fixed_phases import FixedPhaseSpec
from optinc_pdk.spec.geometry import DeviceGeometry
from optinc_pdk.spec.pads import PadChoice

FORMATS = ("gds", "oas")
LAYOUT_FORMAT = "optinc-layout-1"


def description_mzis(top: Block) -> int:
    """MZIs in a description: mesh MZIs and attenuator MZIs of every leaf."""
    return sum(b.n_mzis for b in top.walk() if isinstance(b, (MeshBlock, AttenuatorColumn)))


def total_crossings(plan: Plan) -> int:
    """Waveguide crossings in the whole layout (each composite's routing, times its instances)."""
    own = plan.wires.crossings if plan.wires is not None else 0
    return own + sum(place.count * total_crossings(place.plan) for place in plan.children)


def _unpack(description: CircuitDescription | Block, name: str | None,
            geometry: DeviceGeometry | None) -> tuple[Block, str, DeviceGeometry, dict[str, Any]]:
    if isinstance(description, CircuitDescription):
        scenario = description.scenario
        info = {"scenario": scenario.name, "weights_digest": description.weights_digest,
                "weights_source": description.weights_source, "mesh": description.mesh_kind}
        return description.top, name or scenario.name, geometry or scenario.device, info
    if isinstance(description, Block):
        return description, name or description.name, geometry or DeviceGeometry(), {"scenario": name or description.name}
    raise OptincError(f"layout: expected a CircuitDescription or a Block, got {type(description).__name__}")


@dataclass
class BuiltLayout:
    """An in-memory layout: ``component`` is the top cell (delete it with ``close()`` when done)."""

    name: str
    component: Any  # gf.Component
    plan: Plan
    planner: Planner
    origin: tuple[float, float]  # where the plan's (0, 0) lies in the top cell
    expected_mzis: int
    info: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    _extra_cells: list[Any] = field(default_factory=list)
    cell_names: dict[str, str] = field(default_factory=dict)  # plan key → drawn cell name
    floorplan: Any = None  # layout.floorplan.Floorplan of a die build; then ``dies`` are the top cells
    dies: list[Any] = field(default_factory=list)

    @property
    def top_cells(self) -> list[Any]:
        return self.dies or [self.component]
    adapter: Any = None  # the PdkAdapter it was drawn with

    def close(self) -> None:
        for cell in [self.component, *self._extra_cells]:
            if cell is not None and not cell._destroyed():
                cell.delete()


def die_top_name(name: str, institution: str | None = None) -> str:
    """Top cell of a die: ``Cell0_<institution>`` as MPW runs ask (default ``Cell0_optinc_<name>``)."""
    return "Cell0_" + re.sub(r"[^A-Za-z0-9_]", "_", institution or f"optinc_{name}")


def build_layout(description: CircuitDescription | Block, name: str | None = None, labels: bool = False,
                 info: dict[str, Any] | None = None, geometry: DeviceGeometry | None = None,
                 die: tuple[str, float, float] | None = None, pdk: str | None = None, mount: DieSpec | None = None,
                 institution: str | None = None, fixed: FixedPhaseSpec | None = None,
                 pads: PadChoice | None = None) -> BuiltLayout:
    """Plan and draw the layout of ``description`` (its only input, with the device geometry).

    The top cell is named after the scenario and carries ``info``: scenario, weights digest and
    source, mesh kind, MZI count, and whatever ``info`` adds (the phase-map file name, say).
    ``pdk`` chooses the PDK adapter (default: the embedded optinc PDK): its cells, layers, and the
    geometry its cells really have. With ``die`` (name, width mm, height mm; ``floorplan.parse_die``) the
    design is cut onto dies (``floorplan.plan_dies``) and every die is a top cell of its own,
    ``<name>_die<k>``, drawn with the PDK's cells. With ``mount``, the design is mounted on the PDK's MPW die
    frame with fibre I/O (``layout/die.py``) in a top cell named for the MPW run (``die_top_name``); with
    both, it is mounted when it fits one such frame and floorplanned onto ``die`` otherwise.
    With ``fixed`` every phase is drawn as a delay section of its level (``--phases fixed``; give the
    quantised description, ``circuit.quantise``); the optinc PDK without a die only, for now.
    With ``pads`` bumps, a flip-chip bump array covers every die (or the design) and every heater is routed to
    a bump of its own (``layout/bumps.py``); ``info["bumps"]`` records it.
    """
    from optinc_pdk.pdk.adapters import DEFAULT_PDK, get_adapter

    if fixed is not None and (mount is not None or (pdk or DEFAULT_PDK) != DEFAULT_PDK):
        raise OptincError("--phases fixed: drawn with the optinc PDK for now (a foundry build keeps its heaters)")
    adapter = get_adapter(pdk)
    top_block, name, g, base_info = _unpack(description, name, geometry)
    g = adapter.geometry(g)
    base_info.update({"pdk": adapter.name, "pdk_versions": adapter.versions()})
    bumps = pads.pitch_um if pads is not None and pads.bumps else None
    _check_bumps(adapter, bumps, mount)
    if die is not None and mount is None:
        return _build_dies(top_block, name, g, {**base_info, **(info or {})}, die, adapter, fixed, bumps)
    if mount is not None:
        from optinc_pdk.layout.die import check_die

        check_die(adapter, mount)
    t0 = time.perf_counter()
    plan, planner, expected = _plan_checked(top_block, name, g, fixed=fixed)
    timings: dict[str, float] = {"plan_s": time.perf_counter() - t0}
    if mount is not None and die is not None:
        reason = _mount_misfit(adapter, mount, g, plan)
        if reason is not None:  # larger than one MPW frame: the dies it needs, drawn with the same PDK
            if labels:
                raise OptincError(f"--labels: {reason}, so it is floorplanned onto dies; phase labels describe the "
                                  "unfolded layout: build without --labels")
            return _build_dies(top_block, name, g, {**base_info, **(info or {}), "not_mounted": reason}, die, adapter,
                               bumps)

    import gdsfactory as gf

    from optinc_pdk.layout.draw import Drawer

    t0 = time.perf_counter()
    drawer = Drawer(g, adapter)
    drawer.name_cells(plan)
    design = drawer.cell(plan)
    origin = drawer.origin(plan)
    top_name = name if mount is None else die_top_name(name, institution)
    for stale in (top_name, f"{top_name}_fibre_routes", f"{top_name}_heater_routes"):
        existing = gf.kcl.layout.cell(stale)
        if existing is not None:  # a previous build's top cell of this name (plan cells carry a hash)
            gf.kcl[existing.cell_index()].delete()
    top = gf.Component(name=top_name)
    extra: list = []  # cells made for this build only, deleted with it
    try:
        origin, die_info = _place_design(top, design, plan, origin, adapter, g, mount, extra)
        if labels:
            _add_phase_labels(top, top_block, planner, origin, f"{name}_phase_labels", adapter, extra)
        full_info = {**base_info, "phase_map": "", **(info or {}), "mzis": expected, "format": LAYOUT_FORMAT,
                     "width_um": plan.bbox.width, "height_um": plan.bbox.height, "crossings": total_crossings(plan),
                     **die_info}
        if bumps is not None:
            t_bumps = time.perf_counter()
            full_info["bumps"] = _bumps_info(bumps, [_route_bumps(top, bumps, top.dbbox(), adapter, extra)])
            timings["bumps_s"] = time.perf_counter() - t_bumps
        top.info.update(full_info)
    except BaseException:
        for cell in [top, *extra]:
            cell.delete()
        raise
    timings["draw_s"] = time.perf_counter() - t0
    return BuiltLayout(top_name, top, plan, planner, origin, expected, full_info, timings, extra,
                       drawer.drawn_names(plan), adapter=adapter)


def _place_design(top, design, plan: Plan, origin: tuple[float, float], adapter, g: DeviceGeometry,
                  mount: DieSpec | None, extra: list) -> tuple[tuple[float, float], dict]:
    """The design cell in ``top``: its one instance, or mounted on the die ``mount``. Returns where the plan's
    (0, 0) lies (``BuiltLayout.origin``) and the die's info (empty without a die)."""
    if mount is None:
        ref = top.add_ref(design, name="optinc")
        top.add_ports(ref.ports)
        return origin, {}
    from optinc_pdk.layout.die import DieMount

    mounter = DieMount(adapter, mount, g, created=extra)
    mounted = mounter.mount(top, design, plan, origin)
    mounted["heater_routing"] = _route_heaters(top, mounter, g, adapter, extra)
    return tuple(-d for d in mounted["design_offset_um"]), {"die": mounted}  # plan point p lies at p + offset


def _check_bumps(adapter, pitch: float | None, mount: DieSpec | None) -> None:
    """One line when a bump array is asked of a PDK without the layers, or together with a foundry die frame."""
    from optinc_pdk.pdk.rules import BUMP_LAYERS, has_bump_layers

    if pitch is None:
        return
    if not has_bump_layers(adapter.name):
        raise OptincError(f"--pads bumps: the {adapter.name} PDK has no {', '.join(BUMP_LAYERS)} layers (one metal "
                          "layer, bond pads on the die frame): use --pads perimeter, or --pdk optinc")
    if mount is not None:
        raise OptincError(f"--pads bumps: the {mount.name} die frame brings its own bond pads: use --pads perimeter")


def _route_bumps(cell, pitch: float, box, adapter, extra: list) -> dict:
    """A bump array over ``box`` in ``cell``, its heaters routed to it (``layout/bumps.py``); named for the cell."""
    from optinc_pdk.layout.bumps import route_bumps

    return {"cell": cell.name, **route_bumps(cell, pitch, box, adapter.layers.text, adapter.name, extra)}


def _bumps_info(pitch: float, per_die: list[dict]) -> dict:
    """The build's bump record: pitch, totals and one entry per die (or one for the whole design)."""
    return {"mode": "bumps", "pitch_um": pitch, "per_die": per_die, "sites": sum(d["sites"] for d in per_die),
            "bumps_used": sum(d["bumps_used"] for d in per_die), "routed": all(d["routed"] for d in per_die)}


def _route_heaters(top, mounter, g: DeviceGeometry, adapter, extra: list) -> dict:
    """Every heater of the mounted design to a bond pad of the die, one shared ground (``layout/heaters.py``);
    ``routed`` False and why when this topology cannot (the layout is still written)."""
    from optinc_pdk.layout.heaters import HeaterRouter, HeaterRoutingError, find_heaters
    from optinc_pdk.pdk.rules import min_space

    ref = mounter.design_ref
    heaters = find_heaters(top, ref.cell.cell_index())
    if not heaters:
        return {"routed": True, "heaters": 0, "pads_used": 0}
    try:
        router = HeaterRouter(g, adapter.layers.metal, min_space(adapter.name, adapter.layers.metal))
        done = router.route(top, heaters, mounter.bond_pads, ref.dbbox(), f"{top.name}_heater_routes")
    except HeaterRoutingError as error:
        return {"routed": False, "heaters": len(heaters), "why": str(error)}
    extra.append(done.pop("cell"))
    return {"routed": True, **done}


def _add_phase_labels(top, top_block: Block, planner: Planner, origin: tuple[float, float], cell_name: str,
                      adapter, extra: list) -> None:
    import gdsfactory as gf
    import klayout.db as kdb

    from optinc_pdk.layout.labels import phase_labels

    texts, xy = phase_labels(top_block, planner, origin)
    label_cell = gf.Component(name=cell_name)
    extra.append(label_cell)
    shapes = label_cell.shapes(label_cell.kcl.layer(*adapter.layers.text))
    for text, (x, y) in zip(texts, xy.tolist()):
        shapes.insert(kdb.DText(text, kdb.DTrans(x, y)))
    top.add_ref(label_cell, name="phase_labels")


def _mount_misfit(adapter, mount: DieSpec, g: DeviceGeometry, plan: Plan) -> str | None:
    """Why ``plan`` does not fit one ``mount`` die frame of ``adapter`` (``DieMount.misfit``), or None."""
    from optinc_pdk.layout.die import DieMount

    adapter.activate()  # the frame is a cell of the PDK
    return DieMount(adapter, mount, g).misfit(plan)


def _plan_checked(top_block: Block, name: str, g: DeviceGeometry, packed_west: bool = False,
                  fixed: FixedPhaseSpec | None = None) -> tuple[Plan, Planner, int]:
    validate_description(top_block, name)
    planner = Planner(g, packed_west=packed_west, fixed=fixed)
    plan = planner.plan(top_block)
    expected = description_mzis(top_block)
    if plan.mzis != expected:  # a planner bug, never a user error
        raise OptincError(f"{name}: layout plan places {plan.mzis} MZIs, the description has {expected}")
    return plan, planner, expected


def _build_dies(top_block: Block, name: str, g: DeviceGeometry, info: dict[str, Any], die: tuple[str, float, float],
                adapter, fixed: FixedPhaseSpec | None = None, bumps: float | None = None) -> BuiltLayout:
    """The design cut onto dies: one top cell per die plan (frame, couplers, fan-outs, slices), drawn with
    ``adapter``'s cells on its layers, each named as the plan names it (``optinc area`` lists the same)."""
    from optinc_pdk.layout.floorplan import floorplan_of

    t0 = time.perf_counter()
    plan, planner, expected = _plan_checked(top_block, name, g, packed_west=True, fixed=fixed)  # as floorplan.floorplan_of
    floorplan = floorplan_of(top_block, name, die, g, planner)
    timings = {"plan_s": time.perf_counter() - t0}

    from optinc_pdk.layout.draw import Drawer
    from optinc_pdk.layout.plan import Placement

    t0 = time.perf_counter()
    drawer = Drawer(g, adapter)
    chip = Plan(key=f"dies_{name}", name=name, kind="dies", width=0.0, west_y=plan.west_y[:0], east_y=plan.east_y[:0],
                bbox=None, children=tuple(Placement(d.plan, d.name, 0.0, 0.0) for d in floorplan.dies))
    for d in floorplan.dies:  # a previous build's die cells of these names
        drawer.release(d.name, d.plan.key)
    drawer.name_cells(chip)
    drawer.names.update({d.plan.key: d.name for d in floorplan.dies})  # the plan's names, whatever the PDK's suffix
    dies = [drawer.cell(d.plan) for d in floorplan.dies]
    if [c.name for c in dies] != [d.name for d in floorplan.dies]:  # the report names the dies by their plan
        raise OptincError(f"{name}: die cells drawn as {[c.name for c in dies]}, planned as "
                          f"{[d.name for d in floorplan.dies]}")
    full_info = {"phase_map": "", **info, "mzis": expected, "format": LAYOUT_FORMAT,
                 "die": floorplan.die, "dies": len(dies), "width_um": plan.bbox.width, "height_um": plan.bbox.height,
                 "crossings": total_crossings(plan)}
    timings["draw_s"] = time.perf_counter() - t0
    extra: list = []
    if bumps is not None:  # each die its own array, over its frame
        t0 = time.perf_counter()
        full_info["bumps"] = _bumps_info(bumps, [_route_bumps(cell, bumps, cell.dbbox(), adapter, extra) for cell in dies])
        timings["bumps_s"] = time.perf_counter() - t0
    for d, cell in zip(floorplan.dies, dies):
        cell.info.update({**full_info, "die_index": d.index, "die_mzis": d.mzis})
    return BuiltLayout(name, None, plan, planner, (0.0, 0.0), expected, full_info, timings, extra, {}, floorplan, dies,
                       adapter=adapter)


@dataclass(frozen=True)
class LayoutResult:
    name: str  # top cell name
    paths: dict[str, Path]  # "gds", "oas", "png", "footprint" → written file
    mzis: int  # MZI instances read back from the written layout (arrays expanded)
    expected_mzis: int  # MZIs in the description
    footprint: Footprint  # from the written layout's dbbox()es
    crossings: int
    info: dict[str, Any]
    timings: dict[str, float]
    floorplan: dict | None = None  # a die build: the die plan (floorplan.Floorplan.to_dict())
    layer_shapes: dict[str, int] | None = None  # heater and metal (pad) shapes read back, placements expanded

    @property
    def area_mm2(self) -> float:
        return self.footprint.total.area_mm2

    def to_dict(self) -> dict:
        return {"name": self.name, "paths": {k: str(v) for k, v in self.paths.items()}, "mzis": self.mzis,
                "expected_mzis": self.expected_mzis, "crossings": self.crossings, "info": self.info,
                "timings": self.timings, "footprint": self.footprint.to_dict(),
                **({"floorplan": self.floorplan} if self.floorplan is not None else {}),
                **({"layer_shapes": self.layer_shapes} if self.layer_shapes is not None else {})}


def _check_formats(formats) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip().lower().lstrip(".") for f in formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise OptincError(f"layout: format: {unknown[0] if unknown else '(none)'}: choose from {', '.join(FORMATS)}")
    return formats


def write_layout(description: CircuitDescription | Block, out_dir: str | Path, name: str | None = None,
                 formats=FORMATS, png: bool = True, labels: bool = False, info: dict[str, Any] | None = None,
                 geometry: DeviceGeometry | None = None, netlists: bool = False,
                 die: tuple[str, float, float] | None = None, pdk: str | None = None, mount: DieSpec | None = None,
                 institution: str | None = None, fixed: FixedPhaseSpec | None = None,
                 pads: PadChoice | None = None) -> LayoutResult:
    """Write ``<out_dir>/<name>.gds|.oas|.png|.footprint.json``; see the module docstring.

    With ``netlists``, also ``<out_dir>/netlists/<block>.pic.yml``: the whole design's hierarchical
    netlist from the same plan, placements equal to the GDS (:mod:`optinc_pdk.layout.netlists`).
    """
    formats = _check_formats(formats)
    if die is not None and mount is None and (labels or netlists):
        raise OptincError("--die: phase labels and netlists describe the unfolded layout; build them without --die")
    if fixed is not None and netlists:
        raise OptincError("--phases fixed: the YAML netlists describe heater MZIs; build them with --phases tunable")
    built = build_layout(description, name, labels, info, geometry, die=die, pdk=pdk, mount=mount, institution=institution,
                         fixed=fixed, pads=pads)
    out = Path(out_dir)
    try:
        return _write(built, out, formats, png, description if netlists else None)
    except OSError as error:
        raise OptincError(f"{out}: cannot write the layout here ({error.strerror or error})") from None
    finally:
        built.close()


def _write_netlists(built: BuiltLayout, description, folder: Path, timings: dict[str, float]) -> Path:
    from optinc_pdk.layout.netlists import design_netlists, write_netlists

    t0 = time.perf_counter()
    top_block = description.top if isinstance(description, CircuitDescription) else description
    write_netlists(design_netlists(top_block, built.planner, built.name, built.origin), folder)
    timings["netlists_s"] = time.perf_counter() - t0
    return folder / f"{built.name}.pic.yml"


def _electrical_shapes(layout, adapter) -> dict[str, int]:
    """Heater and metal shapes of the written file (0 and 0 for a fixed-phase build: no heater, no pad)."""
    from optinc_pdk.pdk.adapters import get_adapter

    layers = (adapter or get_adapter(None)).layers
    return {"heater": count_shapes(layout, layers.heater), "metal": count_shapes(layout, layers.metal)}


def _write(built: BuiltLayout, out: Path, formats: tuple[str, ...], png: bool, netlists_of=None) -> LayoutResult:
    import kfactory as kf

    from optinc_pdk.pdk.adapters import DEFAULT_PDK

    out.mkdir(parents=True, exist_ok=True)
    timings = dict(built.timings)
    for top in built.top_cells:
        top.set_meta_data()  # the top cells' info and ports travel in the file; inner cells stay lean
    top = built.top_cells[0]
    # The ports name their kfactory cross-section ("028523d7_500"): the layout-level meta data holds
    # those cross-sections and their layer enclosures, without which gf.import_gds cannot rebuild
    # the ports (KeyError) and the layout could not be placed in another gdsfactory design.
    top.kcl.set_meta_data()
    paths: dict[str, Path] = {}
    found = None
    report: Footprint | None = None
    for fmt in formats:
        final = out / f"{built.name}.{fmt}"
        t0 = time.perf_counter()
        with atomic_path(final) as tmp:
            if built.dies:
                options = kf.utilities.save_layout_options()
                options.set_format_from_filename(str(final))  # GDS2 unless told: the temporary name ends the same
                options.clear_cells()
                for cell in built.dies:
                    options.add_cell(cell.cell_index())
                top.kcl.layout.write(str(tmp), options)
            else:
                top.write(tmp, save_options=kf.utilities.save_layout_options(), set_meta_data=False)
            timings[f"{fmt}_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            layout = read_layout(tmp)
            found = count_instances(layout, "mzi")
            if found != built.expected_mzis:
                raise OptincError(f"{final}: read back {found} MZIs, the description has {built.expected_mzis}")
            if report is None:
                report = footprint(layout)
                shapes = _electrical_shapes(layout, built.adapter)
            timings[f"{fmt}_readback_s"] = time.perf_counter() - t0
        paths[fmt] = final
    if png:
        from optinc_pdk.layout.render import render_png

        t0 = time.perf_counter()
        shown = built.dies[0].name if built.dies else None  # a die build: the first die
        # another PDK's layers need its own layer views (written beside the layout, as the build does)
        adapter = built.adapter
        views = {} if adapter is None or adapter.name == DEFAULT_PDK else {"lyp": adapter.write_layer_views(out)}
        paths["png"] = render_png(paths[formats[0]], out / f"{built.name}.png", cell=shown, **views)
        timings["png_s"] = time.perf_counter() - t0
    if netlists_of is not None and not built.dies:  # netlists describe the unfolded (or mounted) design
        paths["netlists"] = _write_netlists(built, netlists_of, out / "netlists", timings)
    floorplan = None if built.floorplan is None else built.floorplan.to_dict()
    result = LayoutResult(built.name, paths, found, built.expected_mzis, report, built.info["crossings"], built.info,
                          timings, floorplan, shapes)
    paths["footprint"] = out / f"{built.name}.footprint.json"
    write_text_atomic(paths["footprint"], json.dumps(result.to_dict(), indent=1) + "\n")
    return result
