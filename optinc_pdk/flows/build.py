"""`optinc build`: scenario + weights -> description -> verification -> exports, layout, report.

One pipeline for single OptINCs and two-level cascades. Its stages (each reported to the
progress callback as it starts, each output written under a temporary name and renamed) are:
weights, describe, verify (per-layer matrix errors and end-to-end accuracy; on by default),
exports (phase map, compact netlist, summary, YAML netlists of small blocks), layout (GDS/OASIS,
PNG, footprint, the layer views beside them), connectivity (open waveguide ends of the written
layout's drawn polygons against the description's, :mod:`optinc_pdk.layout.connectivity`, and on a die with
routed heaters the heater → bond pad nets extracted from it, :mod:`optinc_pdk.layout.nets`; with verify),
drc (the PDK's design rules on the written layout, :mod:`optinc_pdk.layout.drc`; every build), report (with
the signoff: pads needed and available and the verdict per die, :mod:`optinc_pdk.analysis.pads`).
A build is verified when the simulation and the connectivity (optical and electrical) pass. What
differs between a single OptINC and a cascade (how weights load, which description and
simulation, which report) is a ``Design``; everything downstream reads the one circuit description.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optinc_pdk.core.atomic import write_text_atomic
from optinc_pdk.core.weights import portable_source
from optinc_pdk.errors import OptincError
from optinc_pdk.flows.staging import check_target, staged_folder
from optinc_pdk.paths import layouts_dir
from optinc_pdk.spec.scenario import Scenario

STAGES = ("weights", "describe", "verify", "exports", "layout", "connectivity", "drc", "report")
VERIFY_STAGES = ("verify", "connectivity")  # skipped by --no-verify
CASCADE_SAMPLES = 4 * 28561  # every level-1 input 4 times at every group position (b8n4 levels)


@dataclass(kw_only=True)
class BuildRequest:
    scenario: Scenario
    out_dir: Path | None = None
    weights_path: Path | None = None
    random_seed: int | None = None
    formats: tuple[str, ...] = ("gds", "oas")
    verify: bool = True
    png: bool = True
    labels: bool = False
    progress: Callable[[str], object] | None = None  # called with each stage's name as it starts
    samples: int | None = None  # cascade only: 16-server vectors in the end-to-end check
    pdk: str | None = None  # PDK adapter (pdk/adapters.py); None: the embedded optinc PDK
    # --die: a preset (spec/dies.py) or W×H in mm: the design is floorplanned onto such dies (layout/floorplan.py,
    # one top cell per die) with the chosen PDK's cells; a foundry PDK's own MPW preset mounts it on that PDK's die
    # frame (layout/die.py) when it fits one. ``die_choice`` tells which.
    die: str | None = None
    institution: str | None = None  # with a foundry die: top cell Cell0_<institution>
    # "tunable": every phase a heater (default); "fixed": a waveguide delay section of the phase quantised to
    # the scenario's fixed_phases.levels (no heater, no pad; docs/fixed_phases.md)
    phases: str = "tunable"
    # --min-power: every mesh MZI's two heaters on the arms that cost least (circuit/arms.py; docs/heater_power.md):
    # the description, its verification, the layout and the reported power all carry those arms
    min_power: bool = False
    # --pads: "perimeter" (the die frame's bond pads) or "bumps:PITCH" (a flip-chip bump array at PITCH µm over every
    # die, every heater end on a bump of its own; layout/bumps.py, docs/signoff.md)
    pads: str = "perimeter"

    @property
    def fixed(self):
        """The scenario's fixed-phase spec for a ``--phases fixed`` build, else None."""
        return self.scenario.fixed_phases if self.phases == "fixed" else None

    @property
    def target_dir(self) -> Path:
        return Path(self.out_dir) if self.out_dir is not None else layouts_dir() / self.scenario.name


@dataclass(kw_only=True)
class BuildResult:
    scenario: str
    out_dir: Path
    report: dict
    files: dict[str, object] = field(default_factory=dict)
    verified: bool | None = None


def load_design_weights(scenario: Scenario, weights_path: Path | None, random_seed: int | None) -> tuple:
    """The weights a build uses, one per trained network (a cascade has two): shipped, given or seeded random."""
    from optinc_pdk.circuit.random_weights import random_weights
    from optinc_pdk.core.weights import load_for_scenario

    if random_seed is not None and weights_path is not None:
        raise OptincError("--weights and --random-weights: give one or the other")
    if scenario.cascade is None:
        if random_seed is not None:
            return (random_weights(scenario, random_seed),)
        return (load_for_scenario(scenario, weights_path),)
    if random_seed is not None:
        return tuple(random_weights(scenario.level_scenario(level), random_seed + level - 1) for level in (1, 2))
    if weights_path is not None and not Path(weights_path).is_dir():
        raise OptincError(f"{weights_path}: --weights: a cascade takes a folder holding level1.npz and level2.npz")
    return tuple(load_for_scenario(scenario, None if weights_path is None else Path(weights_path) / f"level{level}.npz",
                                   level) for level in (1, 2))


def _retarget(value, staging: str, target: str):
    """``value`` with the staging folder's name replaced by the target's (in place for dicts and lists).

    The stages write into the staging folder beside the target, so the paths they return name it; the
    report must name the files where they end up. The staging name is unique, so a plain replace is safe.
    """
    if isinstance(value, str):
        return value.replace(staging, target)
    if isinstance(value, Path):
        return Path(str(value).replace(staging, target))
    if isinstance(value, dict):
        for key in value:
            value[key] = _retarget(value[key], staging, target)
        return value
    if isinstance(value, list):
        value[:] = [_retarget(item, staging, target) for item in value]
        return value
    if isinstance(value, tuple):
        return tuple(_retarget(item, staging, target) for item in value)
    return value


def relative(path) -> str:
    """``path`` relative to the working folder where it lies below it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


class SingleDesign:
    """One OptINC: one network, its description, its simulation and build report."""

    def __init__(self, request: BuildRequest, weights: tuple):
        self.request, self.scenario, (self.weights,) = request, request.scenario, weights

    def describe(self):
        """The description the chip realises: the exact phases, or (``--phases fixed``) the drawn delays' phases."""
        from optinc_pdk.circuit.builder import build_description
        from optinc_pdk.circuit.quantise import quantised_description
        from optinc_pdk.pdk.delay import DelayModel

        self.exact = build_description(self.scenario, self.weights)
        fixed = self.request.fixed
        if fixed is None and self.request.min_power:
            from optinc_pdk.circuit.arms import least_power_description

            return least_power_description(self.exact)
        if fixed is None:
            return self.exact
        drawn = DelayModel.of(fixed, self.scenario.device).level_phases()  # what each level's section really adds
        return quantised_description(self.exact, fixed.levels, drawn)

    def verify(self, description) -> dict:
        """Matrices and decisions of the chip; a fixed-phase chip passes when it decides every sample like the
        trained model (its matrices differ from the exact ones by the quantisation, which the report states)."""
        from optinc_pdk.circuit.quantise import largest_phase_error
        from optinc_pdk.simulate.report import simulate_description

        result = simulate_description(description, self.weights, self.scenario)
        fixed = self.request.fixed
        if fixed is not None:
            result["fixed_phases"] = {"levels": fixed.levels, "step_rad": fixed.step,
                                      "largest_phase_error_rad": largest_phase_error(self.exact.top, description.top),
                                      "passes_when": "optical decisions equal the trained model's on every sample"}
            result["verified"] = result["optical_equals_model"]
        return result

    @staticmethod
    def verified(verification: dict) -> bool:
        return bool(verification["verified"])

    def export(self, description, out_dir: Path) -> dict:
        from optinc_pdk.circuit.export import write_exports

        self.exports = write_exports(description, out_dir)
        return self.exports

    def layout_args(self, description) -> dict:
        info = {"scenario": self.scenario.name, "weights_sha256": self.weights.digest(),
                "phase_map": Path(self.exports["phase_map"][0]).name, "weights": portable_source(self.weights.source)}
        if self.request.fixed is not None:  # a tunable build's top cell stays as it was
            info["phases"] = "fixed"
        return {"description": description, "info": info, "fixed": self.request.fixed}

    def report(self, description, body: dict, out_dir: Path) -> dict:
        from optinc_pdk.analysis.link_budget import link_budget
        from optinc_pdk.analysis.phase_options import phase_options
        from optinc_pdk.circuit.summary import summary
        from optinc_pdk.core.area import onn_area
        from optinc_pdk.report.build_report import manufacturability, write_report

        w, area = self.weights, onn_area(self.scenario)
        body["weights"] = {"source": portable_source(w.source), "sha256": w.digest(), "random": self.request.random_seed
                           is not None, "random_seed": self.request.random_seed, "provenance": w.provenance}
        body["area"] = area.to_dict()
        body["description"] = summary(description)
        body["heater_power"] = self._heater_power(description) if self.request.fixed is None else None  # fixed: none
        body["phase_options"] = phase_options(self.exact, self.scenario, self.request.phases,
                                              description if self.request.min_power else None)
        body["manufacturability"] = manufacturability(body["weights"], self.scenario.name)
        body["link_budget"] = link_budget(description, self._budget())
        _judge_system(body)
        body["report_files"] = write_report(body, out_dir, area, meshes_to_plot(description))
        return body


    def _heater_power(self, description) -> dict:
        """The power of the heaters as drawn, the least-power arms' figure, and for a ``--min-power`` build the plain
        Clements phases' power it replaces (the reduction is against that)."""
        from optinc_pdk.analysis.power import heater_power, least_heater_power
        from optinc_pdk.circuit.arms import lower_heaters

        power = heater_power(description.top) | {"least": least_heater_power(self.exact.top),
                                                 "arms": "least-power" if self.request.min_power else "upper",
                                                 "lower_arm_heaters": lower_heaters(description.top)}
        if self.request.min_power:
            plain = heater_power(self.exact.top)
            power["plain"] = {key: plain[key] for key in ("total_w", "heaters", "stages")}
            power["reduction"] = 1 - power["total_w"] / plain["total_w"] if plain["total_w"] else 0.0
        return power

    def _budget(self):
        """The scenario's loss budget; a fixed-phase chip has delay sections where the heaters were, taken as
        lossless (adiabatic tapers; not measured), so its heater loss is 0."""
        budget = self.scenario.budget
        if self.request.fixed is None:
            return budget
        return budget.model_copy(update={"losses": budget.losses.model_copy(update={"heater_db": 0.0})})


class CascadeDesign(SingleDesign):
    """A two-level cascade: two networks, five OptINCs, the cascade's simulation and report."""

    def __init__(self, request: BuildRequest, weights: tuple):
        self.request, self.scenario, self.weights = request, request.scenario, weights

    def describe(self):
        from optinc_pdk.circuit.cascade import build_cascade_description

        return build_cascade_description(self.scenario, *self.weights)

    def verify(self, description) -> dict:
        from optinc_pdk.simulate.cascade import simulate_cascade

        return simulate_cascade(description, *self.weights, self.request.samples or CASCADE_SAMPLES)

    @staticmethod
    def verified(verification: dict) -> bool:
        return bool(verification["layers_within_tolerance"] and verification["optical_equals_model"]
                    and verification["link"]["all_decided_correctly"] and verification["optical_accuracy"] == 1.0)

    def export(self, description, out_dir: Path) -> dict:
        from optinc_pdk.circuit.export import write_cascade_exports

        self.exports, self.counts = write_cascade_exports(description, out_dir)
        return self.exports

    def layout_args(self, description) -> dict:
        info = {"scenario": self.scenario.name, "weights_sha256": description.weights_digest,
                "phase_maps": "level1/phases.npz (level1.*), level2/phases.npz (level2)"}
        return {"description": description.top, "info": info, "geometry": self.scenario.device}

    def report(self, description, body: dict, out_dir: Path) -> dict:
        from optinc_pdk.analysis.link_budget import link_budget
        from optinc_pdk.report.build_report import cascade_manufacturability
        from optinc_pdk.report.cascade_report import write_cascade_report

        body["weights"] = {f"level{level}": {"source": portable_source(w.source), "sha256": w.digest(),
                                             "provenance": w.provenance} for level, w in enumerate(self.weights, 1)}
        body["weights"]["random"] = self.request.random_seed is not None
        body["manufacturability"] = cascade_manufacturability(body["weights"], self.scenario.name)
        body["link_budget"] = link_budget(description, self.scenario.budget)
        _judge_system(body)
        body["description"] = self.counts
        body["report_files"] = write_cascade_report(body, out_dir, self.scenario)
        return body


def _judge_system(body: dict) -> None:
    """The signoff's system verdict from the link budget, beside the dies' layout verdicts."""
    from optinc_pdk.analysis.pads import system_verdict

    if body.get("signoff") is not None:
        body["signoff"]["system"] = system_verdict(body.get("link_budget"))


def meshes_to_plot(description, per_layer: int = 64) -> list[tuple]:
    """(name, θ, top_mode, column, n_modes) of every mesh (at most ``per_layer`` per layer), for the phase-map plot."""
    chosen, seen = [], {}
    for block in description.walk():
        if block.kind != "mesh":
            continue
        layer = block.name.split("/")[0]
        if seen.get(layer, 0) < per_layer:
            seen[layer] = seen.get(layer, 0) + 1
            chosen.append((block.name, block.theta, block.top_mode, block.column, block.n_in))
    return chosen


class _Stages:
    """Runs the named stages in order, tells the progress callback, records each one's seconds."""

    def __init__(self, progress: Callable[[str], object] | None):
        self.progress = progress or (lambda name: None)
        self.seconds: dict[str, float] = {}

    def run(self, name: str, step: Callable[[], Any]) -> Any:
        self.progress(name)
        start = time.perf_counter()
        value = step()
        self.seconds[name] = time.perf_counter() - start
        return value


def _write_layout(design: SingleDesign, description, out_dir: Path, request: BuildRequest) -> dict:
    from optinc_pdk.layout import write_layout
    from optinc_pdk.pdk.adapters import get_adapter

    # the PDK's modules (gdsfactory, cspdk) load here, where the layout needs them, not earlier in the build
    adapter = get_adapter(request.pdk)
    floorplanned, mount = die_choice(request)
    from optinc_pdk.spec.pads import parse_pads

    layout = write_layout(out_dir=out_dir, name=request.scenario.name, formats=request.formats, png=request.png,
                          labels=request.labels, pads=parse_pads(request.pads),
                          netlists=(floorplanned is None or mount is not None) and request.fixed is None,
                          die=floorplanned, pdk=adapter.name,
                          mount=mount, institution=request.institution, **design.layout_args(description))
    written = layout.to_dict()
    # the layer views beside the layout, so the printed KLayout command works from any folder
    written["layer_views"] = str(adapter.write_layer_views(out_dir))
    return written


def _check_connectivity(design: SingleDesign, description, layout: dict, pdk: str | None) -> dict:
    """Open waveguide ends of the written layout's drawn polygons against the description's (0.6 s on b8n4)."""
    from optinc_pdk.layout.connectivity import check_connectivity
    from optinc_pdk.pdk.adapters import get_adapter

    adapter = get_adapter(pdk)

    drawn = design.layout_args(description)["description"]
    top = getattr(drawn, "top", drawn)  # a CircuitDescription, or a cascade's top block
    paths = layout["paths"]
    floorplan = layout.get("floorplan")
    dies = None if floorplan is None else ("children" if any("part" in d for d in floorplan["per_die"]) else "design")
    width = adapter.geometry(design.scenario.device).wg_width
    mount = layout["info"].get("die") if floorplan is None else None
    return check_connectivity(paths.get("gds") or paths["oas"], top, width, adapter.layers.wg, dies, mount).to_dict()


def _check_port_links(design: SingleDesign, description, layout: dict, request: BuildRequest) -> dict:
    """Port-to-port connections of the written layout against the description's block netlists
    (:mod:`optinc_pdk.layout.port_links`): every block cell of an unfolded build; of a die build, the blocks the
    dies draw whole (``covered: "blocks"``), the cut cells between them left to the open-ends count. A ``--phases
    fixed`` build's delay sections are compared where its plan places them (in their MZI frames' slots)."""
    from optinc_pdk.layout.planner import Planner
    from optinc_pdk.layout.port_links import check_die_links, check_port_links
    from optinc_pdk.pdk.adapters import get_adapter

    adapter = get_adapter(request.pdk)
    args = design.layout_args(description)
    drawn = args["description"]
    top = getattr(drawn, "top", drawn)
    g = adapter.geometry(design.scenario.device)
    paths = layout["paths"]
    path = paths.get("gds") or paths["oas"]
    floorplan = layout.get("floorplan")
    if floorplan is None:
        checked = check_port_links(path, top, Planner(g, fixed=args.get("fixed")), g.wg_width, adapter.layers.wg)
        return {"covered": True, **checked.to_dict()}
    from optinc_pdk.layout.floorplan import floorplan_of

    planner = Planner(g, packed_west=True, fixed=args.get("fixed"))  # as layout.write._build_dies plans the dies
    plan = floorplan_of(top, floorplan["design"], die_choice(request)[0], g, planner)
    checked = check_die_links(path, top, planner, plan, g.wg_width, adapter.layers.wg)
    return {"covered": "blocks", "not_compared": "the cut cells (slices, fan-outs, U-turns) and the inter-die links: "
            "the open-ends count covers them", **checked.to_dict()}


def _check_heater_nets(design: SingleDesign, description, layout: dict, pdk: str | None) -> dict | None:
    """Heater → bond pad (or bump) nets extracted from the written layout against the description
    (:mod:`optinc_pdk.layout.nets`); None where no heater was routed (the signoff says why)."""
    from optinc_pdk.analysis.pads import heater_count
    from optinc_pdk.pdk.adapters import get_adapter

    adapter = get_adapter(pdk)
    drawn = design.layout_args(description)["description"]
    paths = layout["paths"]
    bumps = layout["info"].get("bumps")
    if bumps is not None:  # flip-chip: every die's heaters on its bump array; a die not routed is in the verdict
        from optinc_pdk.layout.nets import check_bump_nets
        from optinc_pdk.pdk.rules import layer_map

        if not bumps["routed"]:
            return None
        return check_bump_nets(paths.get("gds") or paths["oas"], heater_count(getattr(drawn, "top", drawn)),
                               layer_map(adapter.name), adapter.layers.text).to_dict()
    die = layout["info"].get("die")
    if not isinstance(die, dict) or not (die.get("heater_routing") or {}).get("routed"):
        return None
    from optinc_pdk.layout.nets import check_heater_nets

    return check_heater_nets(paths.get("gds") or paths["oas"], heater_count(getattr(drawn, "top", drawn)),
                             adapter.layers.heater, adapter.layers.metal).to_dict()


def _check_drc(layout: dict, out_dir: Path, name: str, pdk: str | None) -> dict:
    """The PDK's design rules on the written layout (:mod:`optinc_pdk.layout.drc`): the .lyrdb and the deck beside it."""
    from optinc_pdk.layout.drc import run_drc
    from optinc_pdk.pdk.adapters import DEFAULT_PDK
    from optinc_pdk.pdk.rules import RULES_BY_PDK

    pdk = pdk or DEFAULT_PDK
    if pdk not in RULES_BY_PDK:  # another PDK's layers: the optinc rules would check nothing and call it clean
        return {"skipped": f"no design-rule table for the {pdk} PDK yet (optinc_pdk/pdk/rules.py)"}
    paths = layout["paths"]
    return run_drc(paths.get("gds") or paths["oas"], pdk, lyrdb=out_dir / f"{name}.lyrdb",
                   deck=out_dir / f"{pdk}.lydrc").to_dict()


def _view_command(layout: dict) -> str:
    paths = layout.get("paths", {})
    return f"klayout -l {relative(layout['layer_views'])} {relative(paths.get('oas') or paths.get('gds') or '')}"


def build(request: BuildRequest) -> BuildResult:
    """Build one OptINC or cascade into ``request.target_dir``; the report says whether it verified."""
    s, stages = request.scenario, _Stages(request.progress)
    target = check_target(request.target_dir, "-o")  # a file, the working folder, foreign files: one line, no work
    die_choice(request)  # an unknown PDK or die, or a missing extra: one line, no work (and no import)
    _check_phases(request)
    _check_pads(request)
    # refuse missing or mismatched weights before touching the output folder
    weights = stages.run("weights", lambda: load_design_weights(s, request.weights_path, request.random_seed))
    # the whole build goes into a staging folder beside the target, swapped in when complete (flows.staging)
    with staged_folder(target, "-o") as out_dir:
        result = _build_into(request, weights, stages, out_dir)
        # the stages wrote into the staging folder, so the paths they report name it: name the final folder
        for path in _named_paths(result):
            _retarget_file(Path(path), out_dir, target.name)
        _retarget(result.report, out_dir.name, target.name)
        _retarget(result.files, out_dir.name, target.name)
        result.out_dir = Path(request.target_dir)
    return result


def _named_paths(result: BuildResult) -> list[str]:
    """The written text files that quote paths: the report and the layout's footprint report."""
    report_files = result.files.get("report") or {}
    layout_paths = (result.files.get("layout") or {}).get("paths") or {}
    return [str(p) for p in (report_files.get("markdown"), report_files.get("json"), layout_paths.get("footprint"))
            if p]


def _retarget_file(path: Path, staging: Path, target: str) -> None:
    """Paths inside the build's own files are relative to the build folder: no machine folder in them."""
    text = path.read_text()
    folder = str(staging.resolve())
    fixed = text.replace(folder + "/", "").replace(folder, ".").replace(staging.name, target)
    if fixed != text:
        write_text_atomic(path, fixed)


def _check_phases(request: BuildRequest) -> None:
    """--phases: one of the two kinds; a fixed-phase build is a single OptINC drawn with the optinc PDK, no die.
    --min-power: a single OptINC with heaters (tunable phases)."""
    from optinc_pdk.pdk.adapters import DEFAULT_PDK

    if request.phases not in ("tunable", "fixed"):
        raise OptincError(f"--phases: {request.phases!r} is not one of tunable, fixed")
    if request.phases == "fixed":
        if request.scenario.cascade is not None:
            raise OptincError(f"--phases fixed: {request.scenario.name} is a cascade; fixed phases are drawn for "
                              "single OptINCs only for now")
        if (request.pdk or DEFAULT_PDK) != DEFAULT_PDK:
            raise OptincError("--phases fixed: drawn with the optinc PDK for now")
        if request.min_power:
            raise OptincError("--min-power: a --phases fixed build has no heaters to place")
    if request.min_power and request.scenario.cascade is not None:
        raise OptincError(f"--min-power: {request.scenario.name} is a cascade; heater arms are chosen for single "
                          "OptINCs only for now")


def _check_pads(request: BuildRequest) -> None:
    """--pads: perimeter, or bumps:PITCH on a PDK with via, RDL and bump layers, at a pitch its rules allow; one line
    otherwise, before any work."""
    from optinc_pdk.pdk.adapters import DEFAULT_PDK
    from optinc_pdk.pdk.rules import BUMP_LAYERS, has_bump_layers, min_bump_pitch
    from optinc_pdk.spec.pads import parse_pads

    pads = parse_pads(request.pads)
    if not pads.bumps:
        return
    pdk = request.pdk or DEFAULT_PDK
    if not has_bump_layers(pdk):
        raise OptincError(f"--pads {request.pads}: the {pdk} PDK has no flip-chip layers ({', '.join(BUMP_LAYERS)}; "
                          "its heaters have one metal layer and the die frame's bond pads): use --pads perimeter")
    if pads.pitch_um < min_bump_pitch(pdk):
        raise OptincError(f"--pads {request.pads}: the {pdk} rules need a bump pitch of at least {min_bump_pitch(pdk):g} "
                          "µm (a bump is half a pitch across; UBM width and space in pdk/rules.py)")
    if round(pads.pitch_um, 3) != pads.pitch_um:
        raise OptincError(f"--pads {request.pads}: the bump pitch must lie on the 0.001 µm layout grid")
    if request.phases == "fixed":
        raise OptincError(f"--pads {request.pads}: a --phases fixed build has no heaters to bump")


def die_choice(request: BuildRequest) -> tuple[tuple[str, float, float] | None, Any]:
    """(the dies to floorplan onto, the foundry MPW die frame to mount on) for ``--die``.

    Every PDK floorplans onto ``--die`` (a preset or W×H, ``layout/floorplan.py``) through the same code,
    drawn with its own cells. A foundry PDK's own MPW preset (``cornerstone-full`` with cornerstone-si220)
    also names the frame to mount on: the design is mounted on one such frame when it fits there, and
    floorplanned onto dies of that size otherwise (``layout.write.build_layout``).
    Checked by name before any work (no gdsfactory, no cspdk import): one line for an unknown PDK, a missing
    extra, or an unknown die.
    """
    from optinc_pdk.pdk.adapters import DEFAULT_PDK, check_choice

    check_choice(request.pdk)
    if not request.die:
        return None, None
    from optinc_pdk.layout.floorplan import parse_die
    from optinc_pdk.spec.dies import DIES

    dies = parse_die(request.die)
    preset = DIES.get(dies[0])
    pdk = request.pdk or DEFAULT_PDK
    if pdk == DEFAULT_PDK or preset is None or preset.pdk != pdk:
        return dies, None
    check_choice(pdk, preset)
    return dies, preset


def _build_into(request: BuildRequest, weights: tuple, stages: _Stages, out_dir: Path) -> BuildResult:
    s = request.scenario
    design = (CascadeDesign if s.cascade is not None else SingleDesign)(request, weights)
    description = stages.run("describe", design.describe)
    verification = stages.run("verify", lambda: design.verify(description)) if request.verify else None
    exports = stages.run("exports", lambda: design.export(description, out_dir))
    layout = stages.run("layout", lambda: _write_layout(design, description, out_dir, request))
    connectivity, electrical = (stages.run("connectivity", lambda: (
        _check_connectivity(design, description, layout, request.pdk) | {
            "ports": _check_port_links(design, description, layout, request)},
        _check_heater_nets(design, description, layout, request.pdk))) if request.verify else (None, None))
    drc = stages.run("drc", lambda: _check_drc(layout, out_dir, s.name, request.pdk))
    ports = (connectivity or {}).get("ports") or {}
    verified = None if verification is None else (design.verified(verification) and connectivity["connected"]
                                                  and (not ports.get("covered") or ports["ok"])
                                                  and (electrical is None or electrical["mismatches"] == 0))
    body = {"scenario": s.model_dump(mode="json", exclude={"device"}), "verification": verification,
            "connectivity": connectivity, "electrical": electrical, "drc": drc, "verified": verified, "layout": layout,
            "exports": exports, "view": _view_command(layout), "seconds": stages.seconds}
    from optinc_pdk.analysis.pads import signoff

    drawn = design.layout_args(description)["description"]
    body["signoff"] = signoff(getattr(drawn, "top", drawn), body, fixed_phases=request.fixed is not None)
    report = stages.run("report", lambda: design.report(description, body, out_dir))
    return BuildResult(scenario=s.name, out_dir=out_dir, report=report,
                       files={"exports": exports, "layout": layout, "report": report["report_files"]},
                       verified=verified)
