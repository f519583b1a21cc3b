"""The yield report: yield.json, yield.md and, for a σ sweep, plots/yield_curve.png (docs/yield.md).

Every file is written atomically (complete at its name or absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from optinc_pdk.core.atomic import check_output_folder, write_text_atomic
from optinc_pdk.report.plots import _pyplot, _save

TABLE_ROWS = 10  # error values shown in the markdown (yield.json holds them all)
MODEL_UNITS = {
    "sigma_phase": "rad", "dac_bits": "bits over 2π (0: continuous)", "sigma_split": "power ratio",
    "sigma_split_tree": "power ratio of each tree MMI",
    "loss_db": "dB per MZI", "sigma_imbalance_db": "dB", "crosstalk": "rad per rad of a neighbouring MZI's heater",
    "crosstalk_output": "rad per rad of an adjacent output phase shifter",
    "sigma_detector": "levels", "calibrate": "(measured after fabrication and programmed out)",
    "sigma_offset": "rad, static fabrication offset", "phases": "(tunable heaters or fixed delays)",
}


def switched_on(error_model: dict) -> dict:
    """The error models a run switched on (tunable phases are the default, not an error)."""
    return {key: value for key, value in error_model.items() if value and not (key == "phases" and value == "tunable")}


def _percent(value: float) -> str:
    return f"{100 * value:.3f}%"


def accuracy_row(result: dict) -> list[str]:
    a = result["accuracy"]
    return [_percent(a[key]) for key in ("min", "p1", "p5", "median", "mean", "max")]


def error_rows(result: dict, limit: int = TABLE_ROWS) -> list[list[str]]:
    """Table II format: error value of the decoded average, count, share of all errors."""
    return [[f"{row['error']:+d}", str(row["count"]), f"{100 * row['ratio']:.1f}%"] for row in result["error_values"][:limit]]


def _table(columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(columns) - 1)) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _result_lines(result: dict, chips_of: int, unit: str) -> list[str]:
    model = ", ".join(f"{key} = {value} {MODEL_UNITS[key]}" for key, value in switched_on(result["error_model"]).items())
    lines = [f"### σ_phase = {result['error_model']['sigma_phase']} rad", "",
             f"- error model: {model or 'ideal chip (every model off)'}",
             f"- **yield {result['yield']:.4f}** ({result['chips_all_correct']} of {result['chips']} {unit}s decide all "
             f"{chips_of} inputs right at every receiver), seed {result['seed']}",
             f"- decision margin of the chips (levels): worst chip's smallest {result['margin']['worst_chip_min']:.4f}, "
             f"median chip's smallest {result['margin']['median_chip_min']:.4f}, median chip's 1st percentile "
             f"{result['margin']['median_chip_p1']:.4f}", "", "Per-chip accuracy:", ""]
    lines += _table(["min", "1st pct", "5th pct", "median", "mean", "max"], [accuracy_row(result)])
    if result["error_values"]:
        lines += ["", "Error values of the decoded average over all wrong (chip, input, receiver), Table II format "
                  f"(first {TABLE_ROWS}; wrong decisions per output, LSB first: {result['wrong_per_output']}):", ""]
        lines += _table(["error", "count", "ratio"], error_rows(result))
    return lines + [""]


def tolerance_line(tolerance: dict) -> str:
    """One sentence: the tolerable σ_phase (yield ≥ target), the σ that failed, and the manufacturability verdict."""
    target = f"yield ≥ {100 * tolerance['yield_target']:g}% of {tolerance['chips']} {tolerance.get('unit', 'chip')}s"
    if tolerance["tolerable_sigma_phase"] is None:
        found = f"below {tolerance['smallest_rejected_sigma_phase']:.3g} rad (fails there)"
    elif tolerance["smallest_rejected_sigma_phase"] is None:
        found = f"at least {tolerance['tolerable_sigma_phase']:.3g} rad (the largest σ tried)"
    else:
        found = (f"{tolerance['tolerable_sigma_phase']:.3g} rad ({tolerance['smallest_rejected_sigma_phase']:.3g} "
                 "rad fails)")
    verdict = "manufacturable" if tolerance["manufacturable"] else "NOT manufacturable"
    return f"tolerable σ_phase ({target}): {found}; {verdict} ({tolerance['manufacturable_means']})"


def yield_markdown(report: dict) -> str:
    design = report["design"]
    lines = [f"# Yield of {report['scenario']}", "",
             f"- weights: `{report['weights']}`; inputs: {report['inputs']['sample']}; {report.get('unit', 'chip')} samples per "
             f"point: {report['chips']}; ranks: {report['ranks']}",
             f"- design (ideal chip, complex128 simulator): accuracy {_percent(design['accuracy'])}, decision margin "
             f"smallest {design['margin_min']:.4f} levels, 1st percentile {design['margin_p1']:.4f} levels",
             f"- fused {design['precision']} path vs complex128 simulator on the ideal chip: "
             f"{design['decisions_differing_from_complex128']} decisions differ (largest level difference "
             f"{design['max_level_difference_' + design['precision']]:.2e})",
             f"- seconds: {', '.join(f'{key} {value:.1f}' for key, value in report['seconds'].items())}", ""]
    if len(report["results"]) > 1:
        lines += ["## Yield against σ_phase", "", "![yield curve](plots/yield_curve.png)", ""]
        lines += _table(["σ_phase (rad)", "yield", "min acc.", "median acc.", "mean acc."],
                        [[str(r["error_model"]["sigma_phase"]), f"{r['yield']:.4f}", _percent(r["accuracy"]["min"]),
                          _percent(r["accuracy"]["median"]), _percent(r["accuracy"]["mean"])] for r in report["results"]])
        lines.append("")
    if "tolerance" in report:
        lines += ["## Tolerable phase error", "", tolerance_line(report["tolerance"]), ""]
        lines += _table(["σ_phase (rad)", "chips simulated", "failing chips", "passes"],
                        [[f"{t['sigma_phase']:.4g}", str(t["chips_simulated"]), str(t["failures"]), str(t["passed"])]
                         for t in report["tolerance"]["tried"]])
        lines.append("")
    lines += ["## Results", ""]
    for result in report["results"]:
        lines += _result_lines(result, report["inputs"]["count"], report.get("unit", "chip"))
    return "\n".join(lines)


def plot_yield_curve(report: dict, path: Path) -> Path:
    """Yield and median / minimum per-chip accuracy against σ_phase (log axis)."""
    plt = _pyplot()
    results = report["results"]
    sigma = np.array([r["error_model"]["sigma_phase"] for r in results])
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(sigma, [r["yield"] for r in results], "o-", label="yield (every decision right)", color="#4a6fa5")
    ax.plot(sigma, [r["accuracy"]["median"] for r in results], "s--", label="median chip accuracy", color="#d9822b")
    ax.plot(sigma, [r["accuracy"]["min"] for r in results], "v:", label="worst chip accuracy", color="#6b8f47")
    if np.all(sigma > 0):
        ax.set_xscale("log")
    ax.set_xlabel("σ_phase (rad)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{report['scenario']}: {report['chips']} chips per point, {report['inputs']['count']} inputs")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def write_yield_report(report: dict, folder: Path) -> list[str]:
    """yield.json, yield.md and (for a sweep) plots/yield_curve.png in ``folder``; the written names."""
    folder = check_output_folder(folder, "-o")
    written = []
    if len(report["results"]) > 1:
        (folder / "plots").mkdir(parents=True, exist_ok=True)
        plot_yield_curve(report, folder / "plots" / "yield_curve.png")
        written.append("plots/yield_curve.png")
    write_text_atomic(folder / "yield.json", json.dumps(report, indent=1) + "\n")
    write_text_atomic(folder / "yield.md", yield_markdown(report))
    return written + ["yield.json", "yield.md"]
