"""`optinc build` for a two-level cascade: both levels' weights -> cascade description -> checks, files.

Outputs under the build folder: ``level1/`` and ``level2/`` (each level's phase map, compact netlist,
summary and YAML netlists: all level-1 OptINCs share level 1's phases), ``summary.json`` (the
cascade's element counts per OptINC, checked against `optinc area`), ``<name>.gds/.oas/.png`` (one
top cell: four level-1 OptINCs, the level-2 OptINC and the 16-server splitter array; the
OptINCs are one cell placed five times, their phases differ only in the phase maps),
``report.md`` and ``report.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from optinc_pdk.atomic import write_text_atomic
from optinc_pdk.errors import OptincError

DEFAULT_SAMPLES = 4 * 28561  # every level-1 input 4 times at every group position (b8n4 levels)


def load_cascade_weights(scenario, weights_dir: Path | None, random_seed: int | None):
    """(level-1, level-2) weights: shipped, from ``weights_dir/level{1,2}.npz``, or seeded random."""
    from optinc_pdk.circuit.random_weights import random_weights
    from optinc_pdk.weights import load_for_scenario

    if random_seed is not None and weights_dir is not None:
        raise OptincError("--weights and --random-weights: give one or the other")
    if random_seed is not None:
        return tuple(random_weights(scenario.level_scenario(level), random_seed + level - 1) for level in (1, 2))
    if weights_dir is not None and not Path(weights_dir).is_dir():
        raise OptincError(f"{weights_dir}: --weights: a cascade takes a folder holding level1.npz and level2.npz")
    return tuple(
        load_for_scenario(scenario, None if weights_dir is None else Path(weights_dir) / f"level{level}.npz", level)
        for level in (1, 2)
    )


def build_cascade(request, check_output_folder, relative) -> "BuildResult":  # noqa: F821 (see build.py)
    from optinc_pdk.area import footprint_um
    from optinc_pdk.build import BuildResult
    from optinc_pdk.circuit.cascade import build_cascade_description
    from optinc_pdk.circuit.cascade_area import BASE, FLAT, cascade_area
    from optinc_pdk.circuit.export import write_cascade_exports
    from optinc_pdk.layout import write_layout
    from optinc_pdk.scenario import load_scenario

    s = request.scenario
    out_dir = Path(request.out_dir) if request.out_dir is not None else Path(request.default_dir)
    stage = request.progress or (lambda name: None)
    timings: dict[str, float] = {}

    def timed(name: str, fn):
        stage(name)
        start = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - start
        return value

    w1, w2 = timed("weights", lambda: load_cascade_weights(s, request.weights_path, request.random_seed))
    check_output_folder(out_dir)
    description = timed("describe", lambda: build_cascade_description(s, w1, w2))
    verification = None
    if request.verify:
        from optinc_pdk.simulate.cascade import simulate_cascade

        verification = timed("verify", lambda: simulate_cascade(description, w1, w2, request.samples or DEFAULT_SAMPLES))

    written, counts = timed("exports", lambda: write_cascade_exports(description, out_dir))
    files = {"exports": written}
    layout = timed("layout", lambda: write_layout(
        description.top, out_dir, s.name, formats=request.formats, png=request.png, labels=request.labels,
        geometry=s.device, info={"scenario": s.name, "weights_sha256": description.weights_digest,
                                 "phase_maps": "level1/phases.npz (level1.*), level2/phases.npz (level2)"},
    ))
    files["layout"] = layout.to_dict()

    def report() -> dict:
        footprints = {s.name: layout.area_mm2}
        # every OptINC is the same cell; its box (not the chip's, mostly empty) is the like-for-like area
        cells = {b["name"]: b["area_mm2"] for b in layout.to_dict()["footprint"]["blocks"]}
        footprints["optinc_cell"] = cells.get("level2")
        for name in (BASE, FLAT):
            width, height = footprint_um(load_scenario(name))
            footprints[name] = width * height / 1e6
        body = {
            "scenario": s.model_dump(mode="json", exclude={"device"}),
            "weights": {
                "level1": {"source": relative(w1.source), "sha256": w1.digest(), "provenance": w1.provenance},
                "level2": {"source": relative(w2.source), "sha256": w2.digest(), "provenance": w2.provenance},
                "random": request.random_seed is not None,
            },
            "description": counts,
            "area": cascade_area(s, footprints),
            "verification": verification,
            "verified": None if verification is None else bool(
                verification["layers_within_tolerance"] and verification["optical_equals_model"]
                and verification["link"]["all_decided_correctly"] and verification["optical_accuracy"] == 1.0),
            "layout": files["layout"],
            "exports": files["exports"],
            "view": f"klayout -l layouts/optinc.lyp {relative(layout.paths.get('oas') or layout.paths.get('gds'))}",
        }
        md = write_text_atomic(out_dir / "report.md", markdown(body))
        js = write_text_atomic(out_dir / "report.json", json.dumps(body, indent=1, default=str) + "\n")
        body["report_files"] = {"markdown": str(md), "json": str(js)}
        return body

    body = timed("report", report)
    body["seconds"] = timings
    return BuildResult(s.name, out_dir, body, files, body["verified"])


def markdown(report: dict) -> str:
    s, a, c = report["scenario"], report["area"], report["description"]
    n = a["optincs"]
    lines = [f"# OptINC build: {s['name']} (two-level cascade)", "", s.get("description", ""), ""]
    if report["weights"]["random"]:
        lines += ["> **RANDOM WEIGHTS — NOT A TRAINED CASCADE.** Area and layout exploration only.", ""]
    for level in ("level1", "level2"):
        w = report["weights"][level]
        acc = w["provenance"].get("accuracy")
        lines.append(f"- {level} weights: `{w['source']}` (sha256 `{w['sha256'][:16]}…`)"
                     + (f", trained accuracy {acc}" if acc is not None else ""))
    lines += ["", "## Area", "",
              "| | MZIs (weight matrices) |", "| --- | ---: |",
              f"| one expanded OptINC ({'-'.join(map(str, s['widths']))}) | {a['expanded_optinc_mzis']} |",
              f"| one basic {a['base_optinc']} OptINC | {a['base_optinc_mzis']} |",
              f"| the cascade ({n} OptINCs, from the circuit description) | {c['weight_matrix_mzis']} |",
              f"| {n} basic {a['base_optinc']} OptINCs | {a[f'{n}x_' + a['base_optinc'] + '_mzis']} |",
              f"| one flat {a['flat_optinc']} OptINC (16 servers) | {a['flat_mzis']} |", "",
              f"Overhead of the expanded structure: **{100 * a['overhead_per_optinc']:.1f}%** per OptINC "
              f"(paper: about {100 * (a['paper_overhead'] or 0):.1f}%); the cascade against {n} basic OptINCs "
              f"{100 * a[f'overhead_vs_{n}x_' + a['base_optinc']]:+.1f}%, against one flat {a['flat_optinc']} "
              f"{100 * a['overhead_vs_flat']:+.1f}%. Counts match `optinc area`: "
              f"**{'yes' if c['matches_area_report'] else 'NO'}**.", ""]
    if "footprints_mm2" in a:
        f = a["footprints_mm2"]
        lines += [f"Footprints (bounding boxes): cascade {f[s['name']]:.1f} mm², one {a['base_optinc']} "
                  f"{f[a['base_optinc']]:.1f} mm², one {a['flat_optinc']} {f[a['flat_optinc']]:.1f} mm²; the cascade "
                  f"against {n} × {a['base_optinc']}: {100 * a[f'footprint_vs_{n}x_' + a['base_optinc']]:+.1f}%, against "
                  f"{a['flat_optinc']}: {100 * a['footprint_vs_flat']:+.1f}% (the chip box is mostly empty: "
                  f"the OptINCs are one long chain each).", ""]
        if "optinc_cell_vs_" + a["base_optinc"] in a:
            lines += [f"Like for like, one expanded OptINC cell is {f['optinc_cell']:.1f} mm², "
                      f"{100 * a['optinc_cell_vs_' + a['base_optinc']]:+.1f}% against one {a['base_optinc']} "
                      "cell (wider meshes make the expanded layers taller).", ""]
    lines += ["Hardware of the whole cascade (from the circuit description):", "", "| element | count |",
              "| --- | ---: |"] + [f"| {k.replace('_', ' ')} | {v} |" for k, v in c["totals"].items()] + [""]
    layout = report["layout"]
    lines += ["## Layout", "", f"MZI instances read back from the written layout: **{layout['mzis']}** "
              f"(the description has {layout['expected_mzis']}); {layout['crossings']} waveguide crossings.", ""]
    v = report["verification"]
    lines += ["## Verification (behavioural S-matrix simulation)", ""]
    if v is None:
        lines += ["Skipped (`--no-verify`).", ""]
    else:
        link = v["link"]
        lines += [
            f"- layers of both levels: worst relative matrix error {v['max_layer_relative_error']:.2e} "
            f"(tolerance {v['layer_tolerance']:.0e})",
            f"- level-1 analog link: {link['within_tolerance']} / {link['level1_inputs']} level-1 inputs within "
            f"the tolerance {link['tolerance']} (worst errors {[round(e, 4) for e in link['max_abs_error']]})",
            f"- end to end, {v['samples']} 16-server gradient vectors ({v['sample']}): optical accuracy "
            f"**{v['optical_accuracy']:.6f}** against the exact floor average at every server, ideal two-level MLP "
            f"{v['model_accuracy']:.6f}, decisions differing from it: {v['decisions_differing_from_model']}",
            f"- receiver gain {v['receiver_gain']:.3e}: the passive cascade attenuates the field that much "
            "(two ONNs in series); a chip would amplify between the levels (no receiver needed)", "",
            f"Result: **{'PASS' if report['verified'] else 'FAIL'}**", ""]
    lines += ["## Viewing", "", f"`{report['view']}`", ""]
    return "\n".join(lines)
