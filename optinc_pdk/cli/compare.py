"""`optinc compare`: MZI counts, ratios and footprints of several scenarios, for area studies."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        scenarios: list[str] = typer.Argument(..., help="scenario names or .yml files"),
        settings: list[str] | None = typer.Option(None, "--set", help="KEY=VALUE applied to every scenario, e.g. "
                                                     "approx_layers=2-7, servers=8, device.mode_pitch=30 (repeatable)"),
        csv_path: Path | None = typer.Option(None, "--csv", help="write the table as CSV"),
        plot_path: Path | None = typer.Option(None, "--plot", help="write a PNG of the area ratios"),
        no_footprint: bool = typer.Option(False, "--no-footprint", help="skip the analytic footprint"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Compare scenarios: MZIs full vs approximated, ratio (paper's beside), periphery, footprint (mm²)."""
        import csv
        import io
        from dataclasses import asdict, fields

        from optinc_pdk.analysis import compare
        from optinc_pdk.cli.output import console, print_json, table
        from optinc_pdk.core import area
        from optinc_pdk.core.atomic import check_output_file, write_text_atomic
        from optinc_pdk.spec.scenario import load_scenario

        for option, path in (("--csv", csv_path), ("--plot", plot_path)):
            if path is not None:
                check_output_file(path, option)
        parsed = [compare.parse_setting(expression) for expression in (settings or [])]
        loaded = [load_scenario(name) for name in scenarios]
        rows = compare.compare(loaded, parsed, footprint=not no_footprint)
        if csv_path is not None:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(compare.ComparisonRow)])
            writer.writeheader()
            for row in rows:
                writer.writerow(asdict(row))
            write_text_atomic(csv_path, buffer.getvalue())
        if plot_path is not None:
            from optinc_pdk.report.plots import plot_ratios

            variants = [compare.apply_settings(s, parsed) for s in loaded]
            plot_ratios([area.onn_area(s) for s in variants], plot_path,
                        None if parsed else {s.name: s.paper.area_ratio for s in loaded if s.paper and s.paper.area_ratio})
        if as_json:
            print_json([asdict(row) for row in rows])
            return
        console.print(table("Area comparison" + (f" ({rows[0].changes})" if parsed else ""), [
            "scenario", "approx. layers", "MZIs full", "MZIs approx.", "ratio", "paper", "periphery MZIs", "passives",
            "footprint (mm)", "mm²"], [
            [r.scenario, r.approx_layers, r.full_mzis, r.approx_mzis, f"{100 * r.ratio:.2f}%",
             f"{100 * r.paper_ratio:.1f}%" if r.paper_ratio is not None else "", r.periphery_mzis, r.passives,
             f"{r.width_mm:.2f} x {r.height_mm:.2f}" if r.width_mm is not None else "n/a",
             f"{r.footprint_mm2:.1f}" if r.footprint_mm2 is not None else "n/a"] for r in rows]))
        if csv_path is not None:
            console.print(f"wrote {csv_path}")
