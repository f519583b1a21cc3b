"""`optinc layout`: the GDS/OASIS layout of one OptINC, with its phase map, PNG and footprint report.

Weights → circuit description (decomposition) → phase map + layout. ``optinc build`` does this
and more (verification, netlists, report); this verb is the layout alone.
"""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("layout")
    def layout_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file"),
        out: Path | None = typer.Option(None, "-o", "--out", help="output folder (default: layouts/SCENARIO)"),
        weights: Path | None = typer.Option(None, "--weights", help="weights .npz (default: the shipped weights)"),
        random_seed: int | None = typer.Option(None, "--random-weights", metavar="SEED",
                                                  help="untrained seeded weights, for area/layout exploration only"),
        formats: str = typer.Option("gds,oas", "--format", help="gds, oas or both (comma-separated)"),
        labels: bool = typer.Option(False, "--labels", help="per-MZI phase labels on the TEXT layer (small designs)"),
        png: bool = typer.Option(True, "--png/--no-png", help="render a PNG with KLayout's renderer"),
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        """Lay out SCENARIO: GDS/OASIS (MZI count and waveguide connectivity read back and checked), PNG, footprint, phase map.

        Exits 1 when the drawn waveguides have other open ends than the description means.
        """
        from optinc_pdk.cli.output import console, print_json, table

        result = layout_scenario(scenario, out, weights, random_seed, formats, labels, png)
        connected = result["connectivity"]["connected"]
        if as_json:
            print_json(result)
            if not connected:
                raise typer.Exit(1)
            return
        total = result["footprint"]["total"]
        rows = [
            ["weights", result["info"].get("weights_source", "")],
            ["MZIs read back", f"{result['mzis']:,} (description: {result['expected_mzis']:,})"],
            ["footprint", f"{total['area_mm2']:.3f} mm² ({total['width_mm']:.3f} x {total['height_mm']:.3f} mm)"],
            ["waveguide crossings", f"{result['crossings']:,}"],
            ["drawn waveguides", f"{'PASS' if connected else 'FAIL: a waveguide is missing or does not abut'}: "
             f"{result['connectivity']['open_ends']} open ends, the description means "
             f"{result['connectivity']['expected_open_ends']}"],
            *[[kind, path] for kind, path in result["paths"].items()],
            ["seconds", ", ".join(f"{k[:-2]} {v:.2f}" for k, v in result["timings"].items())],
        ]
        console.print(table(f"{result['name']}: layout", ["", ""], rows))
        if not connected:
            raise typer.Exit(1)


def layout_scenario(scenario: str, out: Path | None, weights_path: Path | None, random_seed: int | None,
                    formats: str, labels: bool, png: bool) -> dict:
    """Load, describe, write the phase map and the layout; returns ``LayoutResult.to_dict()`` (+ phase map)."""
    from optinc_pdk.circuit import build_description
    from optinc_pdk.circuit.phases import write_design_phase_map
    from optinc_pdk.core.atomic import check_output_folder
    from optinc_pdk.errors import OptincError
    from optinc_pdk.flows.build import load_design_weights
    from optinc_pdk.flows.staging import mark_optinc_output
    from optinc_pdk.layout import write_layout
    from optinc_pdk.layout.connectivity import check_connectivity
    from optinc_pdk.paths import layouts_dir
    from optinc_pdk.spec.scenario import load_scenario

    chosen = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    if not chosen or any(f not in ("gds", "oas") for f in chosen):
        raise OptincError(f"--format: expected gds, oas or gds,oas (got {formats!r})")
    s = load_scenario(scenario)
    if s.cascade is not None:
        raise OptincError(f"{s.name}: cascade: not supported yet (the circuit description covers one basic OptINC)")
    (w,) = load_design_weights(s, weights_path, random_seed)  # the build's own weights rule
    out_dir = Path(out) if out is not None else layouts_dir() / s.name
    check_output_folder(out_dir)  # a file, under a file, read-only: one line before the decomposition
    description = build_description(s, w)
    try:
        phase_npz, phase_json = write_design_phase_map(description, out_dir / f"{s.name}.phases")
    except OSError as error:
        raise OptincError(f"{out_dir}: cannot write the layout here ({error.strerror or error})") from None
    result = write_layout(description, out_dir, s.name, formats=chosen, png=png, labels=labels,
                          info={"phase_map": phase_npz.name})
    summary = result.to_dict()
    # the drawn polygons against the description (optinc_pdk.layout.connectivity; 0.6 s at b8n4)
    summary["connectivity"] = check_connectivity(result.paths[chosen[0]], description.top, s.device.wg_width).to_dict()
    summary["paths"].update({"phase_map": str(phase_npz), "phase_map_json": str(phase_json)})
    mark_optinc_output(out_dir)  # an optinc output: `optinc build` may replace this folder
    return summary
