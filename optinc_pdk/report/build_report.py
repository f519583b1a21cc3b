"""report.md, report.json and the plots of one build."""

from __future__ import annotations

import json
from pathlib import Path

from optinc_pdk.analysis.comm import comm_report
from optinc_pdk.core.area import OnnArea, onn_area
from optinc_pdk.core.atomic import write_text_atomic
from optinc_pdk.report import plots
from optinc_pdk.report.signoff import plot_worst_route, signoff_lines
from optinc_pdk.report.yield_report import switched_on

RANDOM_BANNER = (
    "> **RANDOM WEIGHTS — NOT A TRAINED OptINC.** This build used untrained, seeded random weights of the right "
    "shapes for area and layout exploration only. Its optics compute nothing useful; accuracy numbers below only "
    "check that the optics reproduce those random weights."
)

TABLE_I = ("b8n4", "b8n8", "b8n16", "b16n4")



def write_plots(report: dict, out_dir: Path, area: OnnArea, meshes=None) -> dict[str, str]:
    from optinc_pdk.spec.scenario import load_scenario

    out = {}
    out["layer_area"] = str(plots.plot_layer_area(area, out_dir / "plots" / "mzis_per_layer.png"))
    table = [load_scenario(name) for name in TABLE_I]
    out["area_ratio"] = str(plots.plot_ratios(
        [onn_area(s) for s in table], out_dir / "plots" / "area_ratio.png",
        {s.name: s.paper.area_ratio for s in table if s.paper and s.paper.area_ratio}))
    out["communication"] = str(plots.plot_comm(comm_report([4, 8, 16]), out_dir / "plots" / "communication.png"))
    if report.get("heater_power"):
        out["heater_power"] = str(plots.plot_heater_power(report["heater_power"], out_dir / "plots" / "heater_power.png"))
    if report.get("link_budget"):
        out["worst_route_loss"] = str(plot_worst_route(report["link_budget"], out_dir / "plots" / "worst_route_loss.png"))
    if meshes:
        out["phase_maps"] = str(plots.plot_phase_maps(meshes, out_dir / "plots" / "phase_maps.png"))
    return out


def _fmt(value, digits: int = 3) -> str:
    return f"{value:.{digits}e}" if isinstance(value, float) else str(value)


def connectivity_line(report: dict) -> str:
    """The drawn-polygon check (optinc_pdk.layout.connectivity) in one sentence."""
    c = report.get("connectivity")
    if c is None:
        return "Drawn waveguide connectivity: not checked."
    verdict = "as the description means" if c["connected"] else "**NOT as the description means: a waveguide is missing**"
    return (f"Drawn waveguide connectivity (open ends of the written layout's waveguide polygons, cell by cell): "
            f"{c['open_ends']} open ends, the description means {c['expected_open_ends']}: {verdict} "
            f"({c['seconds']:.2f} s). {port_links_line(c.get('ports'))}")


def port_links_line(ports: dict | None) -> str:
    """The port-to-port check (optinc_pdk.layout.port_links) in one sentence."""
    if not ports:
        return ""
    if not ports.get("covered"):
        return f"Optical connectivity port to port: not checked ({ports['reason']})."
    wrong = ports["missing"] + ports["extra"] + ports["unplaced"] + ports["wiring_wrong"]
    verdict = "" if ports["ok"] else f"; first: {wrong[0] if wrong else 'no block of the description found'}"
    scope = "every distinct block cell of the written layout" if ports["covered"] is True else \
        "every block cell the dies draw whole"
    uncut = f"; {ports['cut_cells']} cut cells not compared: {ports['not_compared']}" if "cut_cells" in ports else ""
    return (f"Optical connectivity port to port ({scope} against its netlist): "
            f"{ports['connections']} connections checked in {ports['blocks']} block cells{uncut}, "
            f"**{ports['mismatches']} mismatches**; the composites' channel wiring against the description: "
            f"{ports['wiring']} channel pairs, {ports['wiring_mismatches']} wrong{verdict} ({ports['seconds']:.2f} s).")


def floorplan_lines(layout: dict) -> list[str]:
    """A die build's floorplan (``layout.floorplan``): the dies, their utilisation, the inter-die links and
    the optical I/O, equal to ``optinc area SCENARIO --die ...``, and the die boxes read back from the file."""
    plan = layout.get("floorplan")
    if not plan:
        return []
    w, h = plan["die_mm"]
    lines = ["## Floorplan", "",
             f"{plan['dies']} dies of {w:g} mm × {h:g} mm ({plan['die']}); device area {plan['device_area_mm2']:.1f} mm² "
             f"(the design's bounding box on each die), utilisation **{100 * plan['utilisation']:.1f}%**; "
             f"{plan['edge_couplers']} edge couplers at {plan['fibre_pitch_um']:g} µm pitch. Each die is a top "
             "cell of its own; a die of several rows is folded (rows joined by U-turn bundles); see "
             "docs/floorplan.md.", "",
             "| die | cell | design x (mm) | rows | MZIs | device mm² | utilisation | couplers W | couplers E |",
             "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {d['die']} | {d['cell']} | {d['design_x_um'][0] / 1000:.3f}..{d['design_x_um'][1] / 1000:.3f} | "
              f"{len(d['rows'])} | {d['mzis']} | {d['device_area_mm2']:.2f} | {100 * d['utilisation']:.1f}% | "
              f"{d['edge_couplers_west']} | {d['edge_couplers_east']} |" for d in plan["per_die"]]
    io = plan["optical_io"]
    lines += ["", f"Optical I/O on edge couplers: {io['inputs']} server inputs on the west edge of die(s) "
              f"{', '.join(map(str, io['input_dies']))}, {io['outputs']} broadcast outputs on the east edge of die(s) "
              f"{', '.join(map(str, io['output_dies']))}.", "",
              "Inter-die links (fibre from the east edge couplers of one die to the west edge couplers of the other, "
              "in height order):", "", "| from die | to die | signals | at design x (mm) / between |",
              "| ---: | ---: | ---: | --- |"]
    lines += [f"| {link['from_die']} | {link['to_die']} | {link['signals']} | {_where(link)} |"
              for link in plan["inter_die_links"]]
    boxes = layout["footprint"].get("dies") or []
    fits = all(b["xmin"] >= 0 and b["ymin"] >= 0 and b["xmax"] <= w * 1000 + 1e-3 and b["ymax"] <= h * 1000 + 1e-3
               for b in boxes)
    lines += ["", f"Die cells read back from the written layout: {len(boxes)}, every bounding box within its die: "
              f"**{'yes' if fits and len(boxes) == plan['dies'] else 'NO'}**; MZI instances read back from them "
              f"(arrays expanded): **{layout['mzis']}** (the description has {layout['expected_mzis']}); "
              f"{layout['crossings']} waveguide crossings.", ""]
    return lines


def _where(link: dict) -> str:
    return f"{link['design_x_um'] / 1000:.3f}" if "design_x_um" in link else link["between"]


def heater_power_lines(power: dict | None) -> list[str]:
    if not power:
        return []
    least, plain = power.get("least"), power.get("plain")
    lines = ["## Heater power (static, from the phases of this build)", "",
             f"Each heater costs P_π·wrap(phase)/π with P_π = {power['p_pi_mw']:g} mW ({power['source']}). "
             f"Total as drawn: **{power['total_w']:.1f} W** in {power['heaters']} heaters.", ""]
    if plain:  # --min-power: the drawn heaters are the minimised ones; the plain Clements phases for comparison
        lines += [f"This layout draws every mesh MZI's heaters on the arms that cost least (`--min-power`: "
                  f"{power['lower_arm_heaters']} heaters on a lower arm; same matrices, largest difference "
                  f"{least['max_matrix_error']:.1e}; docs/heater_power.md). The plain Clements phases, every heater on "
                  f"the upper arm, would burn {plain['total_w']:.1f} W: **{100 * power['reduction']:.1f} % less**.", ""]
    elif least:
        saved = 1 - least["total_w"] / power["total_w"] if power["total_w"] else 0.0
        lines += [f"Minimised: **{least['total_w']:.1f} W** ({100 * saved:.1f} % less) with {least['how']} "
                  f"(largest matrix difference {least['max_matrix_error']:.1e}; docs/heater_power.md). This layout draws the "
                  "plain heaters; `optinc build --min-power` draws the minimised ones.", ""]
    other, label = (plain, "plain (W)") if plain else (least, "minimised (W)")
    by_stage = {r["stage"]: r for r in other["stages"]} if other else {}
    lines += [f"| stage | heaters | power (W) | mean phase / π | {label} |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['stage']} | {r['heaters']} | {r['power_w']:.2f} | {r['mean_phase_over_pi']:.3f} | "
              + (f"{by_stage[r['stage']]['power_w']:.2f} |" if r["stage"] in by_stage else "— |") for r in power["stages"]]
    return lines + [""]


def phase_option_lines(options: dict | None) -> list[str]:
    """Tunable heaters against fixed delay sections (``analysis/phase_options.py``), the built one marked."""
    if not options:
        return []
    t, f = options["tunable"], options["fixed"]
    m = f["delay_model"]
    mark = {k: " (this build)" if options["chosen"] == k else "" for k in ("tunable", "fixed")}
    lines = ["## Phase shifters: tunable heaters or fixed delays", "",
             "| option | heaters | contact pads | bond pads needed | static heater power (W) | footprint (mm²) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |",
             f"| tunable{mark['tunable']} | {t['heaters']} | {t['pads']} | {t['bond_pads_needed']} | {t['static_power_w']:.1f} | "
             f"{t['footprint']['area_mm2']:.3f} |",
             f"| fixed{mark['fixed']} | 0 | 0 | 0 | 0 | {f['footprint']['area_mm2']:.3f} |", "",
             f"Fixed: {f['delay_sections']} delay sections, phases quantised to 2π/{f['levels']} = {f['step_rad']:.3g} rad "
             f"(σ of the rounding {f['quantisation_sigma_rad']:.2g} rad; {f['distinct_levels_used']} levels used). "
             f"Each section widens the {m['strip_width_um']:g} µm strip (n_eff {m['neff_strip']:.4f}) to "
             f"{m['wide_width_um']:g} µm (n_eff {m['neff_wide']:.4f}; {m['neff_source']}) through "
             f"{m['taper_length_um']:g} µm tapers ({m['taper_phase_rad']:.4f} rad each): {m['wide_rad_per_um']:.4f} rad "
             f"per µm of wide section, at most {m['longest_section_um']:.3f} µm in a heater slot; the drawn lengths "
             f"(1 nm grid) miss their level by at most {m['largest_drawn_residual_rad']:.1e} rad.", ""]
    return lines


def manufacturability(weights: dict, scenario: str) -> dict:
    """The weights' recorded tolerance to phase errors (issue 29), when it was measured on these very weights."""
    how = f"optinc yield {scenario} --tolerable --samples 100 --record"
    if weights["random"]:
        return {"measured": False, "why": "random weights compute nothing"}
    tolerance = weights["provenance"].get("tolerance")
    if not tolerance or tolerance.get("sha256") != weights["sha256"]:
        return {"measured": False, "why": f"no tolerance recorded for these weights; measure it with `{how}`"}
    return {"measured": True} | {k: v for k, v in tolerance.items() if k not in ("tried", "sha256")}


def cascade_manufacturability(weights: dict, scenario: str) -> dict:
    """A cascade's tolerance is its whole system's: recorded in both levels' records, on these very weights."""
    levels = [weights[f"level{level}"] | {"random": weights["random"]} for level in (1, 2)]
    found = [manufacturability(level, scenario) for level in levels]
    if not all(entry["measured"] for entry in found):
        return next(entry for entry in found if not entry["measured"])
    if found[0] != found[1]:
        return {"measured": False, "why": "the two levels' records hold different tolerances (measured on other weights); "
                f"measure it again with `optinc yield {scenario} --tolerable --samples 100 --record`"}
    return found[0]


def manufacturability_lines(entry: dict | None) -> list[str]:
    if not entry:
        return []
    lines = ["## Manufacturability (tolerance to phase errors)", ""]
    if not entry["measured"]:
        return lines + [f"Not measured: {entry['why']}.", ""]
    sigma, rejected = entry["tolerable_sigma_phase"], entry["smallest_rejected_sigma_phase"]
    found = ("below the smallest σ tried" if sigma is None else f"**{sigma:.3g} rad**"
             + (f" ({rejected:.3g} rad fails)" if rejected is not None else " (the largest σ tried)"))
    others = {k: v for k, v in switched_on(entry["error_model"]).items() if k != "sigma_phase"}
    model = ", ".join(f"{k}={v}" for k, v in others.items()) or "phase errors only"
    verdict = "manufacturable" if entry["manufacturable"] else "**NOT manufacturable**"
    sampled = f"{entry['chips']} sampled {entry.get('unit', 'chip')}s"
    return lines + [f"Largest σ_phase at which ≥ {100 * entry['yield_target']:g}% of {sampled} decide "
                    f"every input right: {found}; other errors: {model}. Verdict: {verdict} "
                    f"({entry['manufacturable_means']}). Measured on {entry['measured_on']} with `{entry['command']}` "
                    "(docs/yield.md).", ""]


def markdown(report: dict) -> str:
    s = report["scenario"]
    w = report["weights"]
    area = report["area"]
    lines = [f"# OptINC build: {s['name']}", ""]
    if w["random"]:
        lines += [RANDOM_BANNER, ""]
    lines += [
        s.get("description", ""), "",
        f"- gradients: {s['bits']} bits, {s['servers']} servers; ONN {'-'.join(map(str, s['widths']))}; "
        f"approximated layers: {', '.join(map(str, s['approx_layers'])) or 'none'}",
        f"- weights: `{w['source']}` (sha256 `{w['sha256'][:16]}…`)"
        + (f", trained accuracy {w['provenance'].get('accuracy')}"
           if not w["random"] and w["provenance"].get("accuracy") is not None else ""),
        "",
        "## Area (MZIs mapping the weight matrices, paper definition)", "",
        "| layer | out×in | approximated | MZIs full | MZIs realised | blocks | tree elements |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for l in area["layers"]:
        lines.append(f"| L{l['layer']} | {l['out_dim']}×{l['in_dim']} | {'yes' if l['approximated'] else 'no'} | "
                     f"{l['full_mzis']} | {l['approx_mzis']} | {l['blocks']}×{l['k']}×{l['k'] if l['approximated'] else ''} | "
                     f"{l['tree_splitters'] + l['tree_combiners']} |")
    lines += [f"| **total** | | | **{area['full_mzis']}** | **{area['approx_mzis']}** | | |", "",
              f"Area ratio: **{100 * area['ratio']:.2f}%**"
              + (f" (paper: {100 * s['paper']['area_ratio']:.1f}%)" if s.get("paper") and s["paper"].get("area_ratio") else ""),
              ""]
    totals = report["description"]["totals"]
    lines += ["Hardware of the whole chip (from the circuit description):", "",
              "| element | count |", "| --- | ---: |"]
    lines += [f"| {k.replace('_', ' ')} | {v} |" for k, v in totals.items()]
    lines += [f"| MZIs outside the weight matrices | {totals['mzis'] - report['description']['weight_matrix_mzis']} |", ""]
    layout = report.get("layout") or {}
    lines += floorplan_lines(layout)
    if layout and not layout.get("floorplan"):
        total = layout["footprint"]["total"]
        lines += ["## Layout", "",
                  f"Footprint (bounding box of the top cell, from the written layout): **{total['area_mm2']:.3f} mm²** "
                  f"({total['width_mm']:.3f} mm × {total['height_mm']:.3f} mm); {layout['crossings']} waveguide crossings.", "",
                  "| block | width (mm) | height (mm) | mm² |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {b['name']} | {b['width_mm']:.3f} | {b['height_mm']:.3f} | {b['area_mm2']:.4f} |"
                  for b in layout["footprint"]["blocks"]]
        lines += ["", f"MZI instances read back from the written layout with klayout (arrays expanded): "
                  f"**{layout['mzis']}** (the description has {layout['expected_mzis']}; "
                  f"{report['description']['weight_matrix_mzis']} map the weight matrices).", ""]
    lines += heater_power_lines(report.get("heater_power"))
    lines += phase_option_lines(report.get("phase_options"))
    lines += manufacturability_lines(report.get("manufacturability"))
    lines += signoff_lines(report)
    v = report.get("verification")
    lines += ["## Verification (behavioural S-matrix simulation)", ""]
    if v is None:
        lines += ["Skipped (`--no-verify`).", ""]
    else:
        lines += ["| layer | mapping | relative matrix error | bias error |", "| --- | --- | ---: | ---: |"]
        lines += [f"| L{r['layer']} | {r['orientation']} | {r['relative_error']:.2e} | {r['bias_error']:.2e} |"
                  for r in v["layers"]]
        lines += ["", f"End to end over the whole exhaustive dataset ({v['samples']} samples, every server's receivers): "
                  f"optical accuracy **{v['optical_accuracy']:.6f}**, trained model {v['model_accuracy']:.6f}, "
                  f"decisions differing from the model: {v['decisions_differing_from_model']}."
                  + _fixed_verification(v.get("fixed_phases")),
                  "", connectivity_line(report),
                  "", f"Result: **{'PASS' if report['verified'] else 'FAIL'}**", ""]
    lines += ["## Files", ""]
    for key, value in _file_rows(report):
        lines.append(f"- {key}: `{value}`")
    lines += ["", "## Viewing", "", f"`{report['view']}`", "",
              "The layer properties file `optinc.lyp`, written beside the layout, names every layer (waveguides, "
              "heaters, pads, nonlinear units, labels).", ""]
    return "\n".join(lines)


def _fixed_verification(fixed: dict | None) -> str:
    if not fixed:
        return ""
    return (f" This is the fixed-phase chip: every phase rounded to 2π/{fixed['levels']} (largest change "
            f"{fixed['largest_phase_error_rad']:.4f} rad), so the matrix errors above are the quantisation's; it passes "
            f"when its {fixed['passes_when']}.")


def _file_rows(report: dict):
    paths = (report.get("layout") or {}).get("paths", {})
    for key in ("gds", "oas", "png", "footprint"):
        if paths.get(key):
            yield key.upper() if key != "footprint" else "footprint report", paths[key]
    exports = report.get("exports") or {}
    if exports.get("phase_map"):
        yield "phase map", ", ".join(exports["phase_map"])
    if exports.get("compact_netlist"):
        yield "netlist (whole design)", exports["compact_netlist"]
    if paths.get("netlists"):
        yield "netlists (gdsfactory, every level)", paths["netlists"]
    if exports.get("summary"):
        yield "summary", exports["summary"]
    for key, value in (report.get("plots") or {}).items():
        yield f"plot ({key.replace('_', ' ')})", value


def write_report(report: dict, out_dir: Path, area: OnnArea, meshes=None) -> dict[str, object]:
    report["plots"] = write_plots(report, out_dir, area, meshes)
    md = write_text_atomic(out_dir / "report.md", markdown(report))
    js = write_text_atomic(out_dir / "report.json", json.dumps(report, indent=1, default=_jsonable) + "\n")
    return {"markdown": str(md), "json": str(js), "plots": report["plots"]}


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
