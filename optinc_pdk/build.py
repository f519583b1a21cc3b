"""`optinc build`: scenario + weights -> description -> verification -> exports, layout, report.

Stages (each shown with a progress bar, each output written under a temporary name and renamed):
weights, circuit description, verification (per-layer matrix errors and end-to-end accuracy over
the whole exhaustive dataset; on by default), exports (phase map, compact netlist, summary, YAML
netlists of small blocks), layout (GDS/OASIS, PNG, footprint), report (report.md, report.json,
plots). Everything downstream reads the one circuit description.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from optinc_pdk.atomic import write_text_atomic
from optinc_pdk.errors import OptincError
from optinc_pdk.paths import LAYER_VIEWS_PATH, layouts_dir
from optinc_pdk.scenario import Scenario



@dataclass
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

    @property
    def default_dir(self) -> Path:
        return layouts_dir() / self.scenario.name


@dataclass
class BuildResult:
    scenario: str
    out_dir: Path
    report: dict
    files: dict[str, object] = field(default_factory=dict)
    verified: bool | None = None


def check_output_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise OptincError(f"{out_dir}: output folder is a file")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OptincError(f"{out_dir}: cannot create the output folder ({error.strerror or error})") from None
    probe = out_dir / ".optinc-write-test"
    try:
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise OptincError(f"{out_dir}: output folder is not writable ({error.strerror or error})") from None


def _load_weights(request: BuildRequest):
    from optinc_pdk.circuit.random_weights import random_weights
    from optinc_pdk.weights import load_for_scenario

    s = request.scenario
    if request.random_seed is not None and request.weights_path is not None:
        raise OptincError("--weights and --random-weights: give one or the other")
    if request.random_seed is not None:
        return random_weights(s, request.random_seed)
    return load_for_scenario(s, request.weights_path)


def build(request: BuildRequest) -> BuildResult:
    from optinc_pdk.area import onn_area
    from optinc_pdk.circuit.builder import build_description
    from optinc_pdk.circuit.export import write_exports
    from optinc_pdk.circuit.summary import summary
    from optinc_pdk.report.build_report import write_report

    s = request.scenario
    if s.cascade is not None:
        from optinc_pdk.build_cascade import build_cascade

        return build_cascade(request, check_output_folder, _relative)
    out_dir = Path(request.out_dir) if request.out_dir is not None else layouts_dir() / s.name
    stage = request.progress or (lambda name: None)
    timings: dict[str, float] = {}

    def timed(name: str):
        stage(name)
        timings[name] = time.perf_counter()

    def done(name: str):
        timings[name] = time.perf_counter() - timings[name]

    timed("weights")
    weights = _load_weights(request)  # refuse missing / mismatched weights before touching the output folder
    check_output_folder(out_dir)
    done("weights")

    timed("describe")
    description = build_description(s, weights)
    done("describe")

    verification = None
    if request.verify:
        from optinc_pdk.simulate.report import simulate_description

        timed("verify")
        verification = simulate_description(description, weights, s)
        done("verify")

    timed("exports")
    files: dict[str, object] = {"exports": write_exports(description, out_dir)}
    done("exports")

    timed("layout")
    from optinc_pdk.layout import write_layout

    phase_map_name = Path(files["exports"]["phase_map"][0]).name
    layout = write_layout(
        description, out_dir, s.name, formats=request.formats, png=request.png, labels=request.labels,
        info={"scenario": s.name, "weights_sha256": weights.digest(), "phase_map": phase_map_name,
              "weights": weights.source},
    )
    files["layout"] = layout.to_dict() if hasattr(layout, "to_dict") else layout
    files["layer_views"] = str(write_text_atomic(out_dir / LAYER_VIEWS_PATH.name, LAYER_VIEWS_PATH.read_text()))
    done("layout")

    timed("report")
    area = onn_area(s)
    verified = None
    if verification is not None:
        verified = bool(verification["layers_within_tolerance"] and verification["optical_equals_model"])
    report = {
        "scenario": s.model_dump(mode="json", exclude={"device"}),
        "weights": {
            "source": _relative(weights.source), "sha256": weights.digest(),
            "random": request.random_seed is not None, "random_seed": request.random_seed,
            "provenance": weights.provenance,
        },
        "area": area.to_dict(),
        "description": summary(description),
        "verification": verification,
        "verified": verified,
        "layout": files["layout"],
        "exports": files["exports"],
        "seconds": timings,
        "view": f"klayout -l {_relative(files['layer_views'])} {_relative(Path(_layout_file(files['layout'])))}",
    }
    files["report"] = write_report(report, out_dir, area, _meshes_to_plot(description))
    done("report")
    report["seconds"] = timings
    return BuildResult(s.name, out_dir, report, files, verified)


def _layout_file(layout: dict) -> str:
    paths = layout.get("paths", {})
    return paths.get("oas") or paths.get("gds") or ""


def _relative(path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _meshes_to_plot(description, per_layer: int = 64):
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
