"""`optinc scenarios`: the shipped scenario files with their MZI counts."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("scenarios")
    def scenarios(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
        """List the shipped scenarios (circuits/*.yml) with their MZI counts."""
        from optinc_pdk.cli.output import console, print_json, table
        from optinc_pdk.core.area import onn_area
        from optinc_pdk.core.datasets import dataset_size
        from optinc_pdk.spec.scenario import all_scenarios

        rows = []
        for s in all_scenarios():
            a = onn_area(s)
            rows.append({
                "name": s.name, "bits": s.bits, "servers": s.servers,
                "widths": "-".join(map(str, s.widths)),
                "approx_layers": s.approx_layers, "full_mzis": a.full_mzis, "approx_mzis": a.approx_mzis,
                "ratio": a.ratio, "optincs": a.optincs,
                "dataset": dataset_size(s, 1 if s.cascade else None), "description": s.description,
            })
        if as_json:
            print_json(rows)
            return
        console.print(table(
            "Shipped scenarios (MZIs per OptINC; the cascade has 5 OptINCs)",
            ["scenario", "bits", "servers", "ONN", "approx. layers", "MZIs full", "MZIs approx.", "ratio", "samples"],
            [[r["name"], r["bits"], r["servers"], r["widths"], _layers(r["approx_layers"]), r["full_mzis"],
              r["approx_mzis"], f"{100 * r['ratio']:.1f}%", r["dataset"]] for r in rows],
        ))


def _layers(layers: list[int]) -> str:
    return ",".join(map(str, layers)) if layers else "none"
