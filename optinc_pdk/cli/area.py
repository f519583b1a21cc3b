"""`optinc area`: analytic MZI counts per layer, and the paper's Table I / II side by side."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("area")
    def area_cmd(
        scenarios: list[str] | None = typer.Argument(None, help="scenario names or .yml files (default b8n4)"),
        paper: bool = typer.Option(False, "--paper", help="every Table I and II row with the paper's ratio beside ours"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
        die: str | None = typer.Option(None, "--die", metavar="WxH|PRESET",
                                       help="floorplan onto dies: W×H in mm or reticle, cornerstone-full, "
                                            "cornerstone-half (dies, utilisation, inter-die links; no GDS)"),
        pdk: str = typer.Option("optinc", "--pdk", help="with --die: the PDK whose cells are floorplanned: optinc "
                                                        "(embedded) or cornerstone-si220 (cspdk, the [cornerstone] extra)"),
    ) -> None:
        """MZI count per layer (full SVD vs block approximation), totals, ratio, and periphery."""
        from optinc_pdk.cli.output import console, print_json, table
        from optinc_pdk.core import area
        from optinc_pdk.spec.scenario import all_scenarios, load_scenario

        if die is not None:
            _floorplans([load_scenario(name) for name in (scenarios or ["b8n4"])], die, pdk, as_json)
            return
        if paper:
            _paper_table(all_scenarios(), as_json)
            return
        loaded = [load_scenario(name) for name in (scenarios or ["b8n4"])]
        results = [area.onn_area(s) for s in loaded]
        if as_json:
            print_json([r.to_dict() for r in results])
            return
        for r in results:
            rows = [[f"L{l.layer}", f"{l.out_dim}x{l.in_dim}", "yes" if l.approximated else "no",
                     l.full_mzis, l.approx_mzis, (f"{l.blocks} x {l.k}x{l.k} {_orient(l)}" if l.approximated else "SVD")]
                    for l in r.layers]
            rows.append(["total", "", "", r.full_mzis, r.approx_mzis, f"ratio {100 * r.ratio:.2f}%"])
            console.print(table(f"{r.scenario}: weight-matrix MZIs per OptINC",
                                ["layer", "out x in", "approx.", "MZIs full", "MZIs realised", "mapping"], rows))
            p = r.periphery
            console.print(table(f"{r.scenario}: hardware outside the weight matrices (per OptINC)", ["element", "count"], [
                ["averager combiners", p.averager_combiners], ["averager attenuator MZIs", p.averager_attenuators],
                ["fan-out splitters (tall blocks)", p.tree_splitters], ["summing combiners (wide blocks)", p.tree_combiners],
                ["bias splitters", p.bias_splitters], ["bias attenuator MZIs", p.bias_attenuators],
                ["bias combiners", p.bias_combiners], ["nonlinear units", p.nonlinear_units],
                ["broadcast splitters", p.broadcast_splitters],
            ]))
            if r.optincs > 1:
                console.print(f"{r.scenario}: {r.optincs} OptINCs, {r.total_weight_mzis} weight-matrix MZIs in all")


def _orient(layer) -> str:
    pad = f", {layer.padding} zero-padded" if layer.padding else ""
    return {"tall": "stacked (fan-out)", "wide": "side by side (summed)"}.get(_orientation(layer), "") + pad


def _orientation(layer) -> str:
    if layer.out_dim == layer.in_dim:
        return "square"
    return "tall" if layer.out_dim > layer.in_dim else "wide"


def _paper_table(scenarios, as_json: bool) -> None:
    from dataclasses import asdict

    from optinc_pdk.cli.output import console, print_json, table
    from optinc_pdk.core import area
    from optinc_pdk.spec.scenario import load_scenario

    rows = [area.paper_comparison(s) for s in scenarios if s.paper is not None and s.paper.area_ratio is not None]
    rows.sort(key=lambda c: (c.table, c.scenario))
    cascade = area.cascade_overhead(load_scenario("cascade16"), load_scenario("b8n4"), load_scenario("b8n16"))
    if as_json:
        print_json({"rows": [asdict(c) for c in rows], "cascade": asdict(cascade)})
        return
    console.print(table("Paper Table I and II: MZIs to map the weight matrices", [
        "scenario", "table", "MZIs full", "MZIs approx.", "our ratio", "paper ratio", "delta (pp)", "paper accuracy"], [
        [c.scenario, c.table, c.full_mzis, c.approx_mzis, f"{100 * c.ratio:.2f}%", f"{100 * c.paper_ratio:.1f}%",
         f"{c.delta_pp:+.2f}", f"{100 * c.paper_accuracy:.5f}%" if c.paper_accuracy is not None else ""] for c in rows]))
    console.print(
        f"cascade16: {cascade.optinc_mzis} MZIs per expanded OptINC vs {cascade.base_optinc_mzis} for b8n4: "
        f"overhead {100 * cascade.overhead:.1f}% (paper: about {100 * cascade.paper_overhead:.1f}%); "
        f"5 OptINCs = {cascade.cascade_mzis} MZIs vs one flat {cascade.flat_scenario} = {cascade.flat_mzis} "
        f"({100 * cascade.overhead_vs_flat:+.1f}%)"
    )


def _floorplans(scenarios, die: str, pdk: str, as_json: bool) -> None:
    """``--die``: each scenario's die plan (``layout.floorplan``), or the one line saying why it does not fit."""
    from optinc_pdk.cli.output import console, print_json, table
    from optinc_pdk.errors import OptincError
    from optinc_pdk.layout.floorplan import parse_die
    from optinc_pdk.layout.footprint import analytic_floorplan
    from optinc_pdk.pdk.adapters import check_choice

    check_choice(pdk)
    chosen = parse_die(die)
    results = []
    for s in scenarios:
        try:
            results.append(analytic_floorplan(s, chosen, pdk).to_dict())
        except OptincError as error:
            results.append({"design": s.name, "die": chosen[0], "fits": False, "reason": str(error)})
    if as_json:
        print_json(results)
        return
    for r in results:
        if "reason" in r:
            console.print(f"{r['design']}: {r['reason']}")
            continue
        console.print(floorplan_table(r, table))


def floorplan_table(plan: dict, table):
    """The die plan as one table: a row per die, then the links and the optical I/O."""
    rows = [[str(d["die"]), d["cell"], f"{d['design_x_um'][0] / 1000:.2f}..{d['design_x_um'][1] / 1000:.2f}",
             len(d["rows"]), d["mzis"], f"{d['device_area_mm2']:.1f}", f"{100 * d['utilisation']:.1f}%",
             f"{d['edge_couplers_west']} / {d['edge_couplers_east']}"] for d in plan["per_die"]]
    total_rows = sum(len(d["rows"]) for d in plan["per_die"])
    rows.append(["all", f"{plan['dies']} dies", "", total_rows, plan["mzis"], f"{plan['device_area_mm2']:.1f}",
                 f"{100 * plan['utilisation']:.1f}%", str(plan["edge_couplers"])])
    w, h = plan["die_mm"]
    title = (f"{plan['design']} on {plan['dies']} dies of {w:g} x {h:g} mm ({plan['die']}); "
             f"{len(plan['inter_die_links'])} inter-die links, "
             f"{sum(link['signals'] for link in plan['inter_die_links'])} signals on "
             f"{plan['fibre_pitch_um']:g} um edge couplers")
    return table(title, ["die", "cell", "design x (mm)", "rows", "MZIs", "device mm²", "utilisation", "couplers W / E"], rows)
