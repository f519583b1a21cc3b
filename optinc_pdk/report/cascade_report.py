"""report.md and report.json of a two-level cascade build.

The area section compares one expanded OptINC with the basic and the flat OptINC it replaces, with
footprints read from the written layout (every OptINC is one cell placed five times, so its box,
not the chip's mostly empty one, is the like-for-like area).
"""

from __future__ import annotations

import json
from pathlib import Path

from optinc_pdk.analysis.cascade_area import BASE, FLAT, cascade_area
from optinc_pdk.analysis.compare import footprint_um
from optinc_pdk.core.atomic import write_text_atomic
from optinc_pdk.report.build_report import connectivity_line, floorplan_lines, manufacturability_lines
from optinc_pdk.report.signoff import signoff_lines
from optinc_pdk.spec.scenario import Scenario, load_scenario


def footprints_mm2(scenario: Scenario, layout: dict) -> dict[str, float | None]:
    """The cascade chip's, one OptINC cell's and the basic/flat OptINCs' footprints in mm²."""
    footprints = {scenario.name: layout["footprint"]["total"]["area_mm2"]}
    cells = {b["name"]: b["area_mm2"] for b in layout["footprint"]["blocks"]}
    footprints["optinc_cell"] = cells.get("level2")
    for name in (BASE, FLAT):
        width, height = footprint_um(load_scenario(name))
        footprints[name] = width * height / 1e6
    return footprints


def write_cascade_report(body: dict, out_dir: Path, scenario: Scenario) -> dict[str, str]:
    """Adds the area section to ``body`` and writes report.md and report.json; returns their paths."""
    unfolded = "floorplan" not in body["layout"]  # a die build's boxes are dies, not the cascade's footprint
    body["area"] = cascade_area(scenario, footprints_mm2(scenario, body["layout"]) if unfolded else None)
    md = write_text_atomic(out_dir / "report.md", markdown(body))
    js = write_text_atomic(out_dir / "report.json", json.dumps(body, indent=1, default=str) + "\n")
    return {"markdown": str(md), "json": str(js)}


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
    lines += floorplan_lines(layout)
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
            connectivity_line(report), "",
            f"Result: **{'PASS' if report['verified'] else 'FAIL'}**", ""]
    lines += manufacturability_lines(report.get("manufacturability"))
    lines += signoff_lines(report)
    lines += ["## Viewing", "", f"`{report['view']}`", ""]
    return "\n".join(lines)
