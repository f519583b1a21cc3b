"""`optinc build`: the main job: decompose, describe, verify, export, lay out, report."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("build")
    def build_cmd(
        scenario: str = typer.Argument("b8n4", help="scenario name or .yml file (default: b8n4 with its shipped weights)"),
        out: Path | None = typer.Option(None, "-o", "--out", help="output folder (default: layouts/SCENARIO)"),
        weights: Path | None = typer.Option(None, "--weights", help="weights .npz (a cascade: folder with level1.npz, "
                                               "level2.npz); default: the shipped weights"),
        random_seed: int | None = typer.Option(None, "--random-weights", metavar="SEED",
                                                  help="untrained seeded weights, for area/layout exploration only"),
        formats: str = typer.Option("gds,oas", "--format", help="layout formats: gds, oas or both (comma-separated)"),
        verify: bool = typer.Option(True, "--verify/--no-verify", help="simulate and check the optics (default on)"),
        png: bool = typer.Option(True, "--png/--no-png", help="render a PNG of the layout with klayout"),
        labels: bool = typer.Option(False, "--labels", help="per-MZI phase labels on the label layer (small designs)"),
        show: bool = typer.Option(False, "--show", help="send the layout to a running KLayout (klive) when present"),
        as_json: bool = typer.Option(False, "--json", help="print the report as JSON instead of the summary table"),
        samples: int | None = typer.Option(None, "--samples", min=1,
                                              help="cascade: 16-server vectors in the end-to-end check (default 114244)"),
        pdk: str = typer.Option("optinc", "--pdk", help="PDK: optinc (embedded) or cornerstone-si220 (cspdk, "
                                "pip install .[cornerstone]); docs/cornerstone.md"),
        die: str | None = typer.Option(None, "--die", metavar="WxH|PRESET", help=(
            "floorplan onto dies of W×H mm or reticle, cornerstone-full, cornerstone-half, one top cell per die, "
            "drawn with --pdk's cells (docs/floorplan.md); with --pdk cornerstone-si220, cornerstone-full or "
            "cornerstone-half mounts a design that fits one on its MPW die frame with fibre I/O (docs/cornerstone.md)")),
        institution: str | None = typer.Option(None, "--institution", help="with a foundry die: top cell "
                                               "Cell0_INSTITUTION (MPW naming; default Cell0_optinc_SCENARIO)"),
        phases: str = typer.Option("tunable", "--phases", help="tunable: a heater with pads per phase; fixed: a waveguide "
                                   "delay section per phase, quantised to the scenario's fixed_phases.levels "
                                   "(docs/fixed_phases.md)"),
        min_power: bool = typer.Option(False, "--min-power", help="draw each mesh MZI's two heaters on the arms that "
                                       "cost least (same matrices, verified; docs/heater_power.md)"),
        pads: str = typer.Option("perimeter", "--pads", metavar="perimeter|bumps:PITCH", help=(
            "heater pads: perimeter (the die frame's bond pads) or bumps:PITCH, a flip-chip bump array at PITCH µm over "
            "every die with every heater end on a bump of its own (optinc PDK; docs/signoff.md)")),
    ) -> None:
        """Build an OptINC: phases, circuit description, verification, GDS/OASIS, netlists, phase map, PNG, report."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from optinc_pdk.cli.output import console, print_json
        from optinc_pdk.errors import OptincError
        from optinc_pdk.flows.build import STAGES, VERIFY_STAGES, BuildRequest, build
        from optinc_pdk.spec.scenario import load_scenario

        chosen = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
        bad = [f for f in chosen if f not in ("gds", "oas")]
        if not chosen or bad:
            raise OptincError(f"--format: expected gds, oas or gds,oas (got {formats!r})")
        s = load_scenario(scenario)
        stages = [st for st in STAGES if verify or st not in VERIFY_STAGES]
        with Progress(TextColumn("{task.description:<28}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console, transient=not console.is_terminal, disable=as_json) as bar:
            task = bar.add_task(f"{s.name}: starting", total=len(stages))

            def progress(name: str) -> None:
                done = stages.index(name) if name in stages else 0
                bar.update(task, completed=done, description=f"{s.name}: {name}")

            result = build(BuildRequest(scenario=s, out_dir=out, weights_path=weights, random_seed=random_seed,
                                        formats=chosen, verify=verify, png=png, labels=labels, progress=progress,
                                        samples=samples, pdk=pdk, die=die, institution=institution,
                                        phases=phases.strip().lower(), min_power=min_power, pads=pads))
            bar.update(task, completed=len(stages), description=f"{s.name}: done")
        if show:
            _show(result)
        if as_json:
            print_json(result.report)
        else:
            _summary(console, result)
        if result.verified is False:
            raise typer.Exit(1)


def _summary(console, result) -> None:
    from optinc_pdk.cli.output import table

    r = result.report
    if "level1" in r["weights"]:
        _cascade_summary(console, result)
        return
    area = r["area"]
    if r["weights"]["random"]:
        console.print("[bold red]RANDOM WEIGHTS: untrained, for area/layout exploration only[/bold red]")
    console.print(table(f"{result.scenario}: MZIs per layer", ["layer", "out x in", "full", "approximated", "ratio"], [
        [f"L{l['layer']}", f"{l['out_dim']}x{l['in_dim']}", l["full_mzis"], l["approx_mzis"],
         f"{100 * l['approx_mzis'] / l['full_mzis']:.1f}%"] for l in area["layers"]] + [
        ["total", "", area["full_mzis"], area["approx_mzis"], f"{100 * area['ratio']:.2f}%"]]))
    layout = r.get("layout") or {}
    v = r.get("verification")
    rows = [
        ["weights", r["weights"]["source"] + (" (RANDOM)" if r["weights"]["random"] else "")],
        _footprint_row(layout),
        ["MZIs in the GDS", f"{layout['mzis']} ({r['description']['weight_matrix_mzis']} in weight matrices)"],
        ["verification", "skipped" if v is None else
         f"{'PASS' if r['verified'] else 'FAIL'}: max layer error {v['max_layer_relative_error']:.1e}, "
         f"optical accuracy {v['optical_accuracy']:.6f} on {v['samples']} samples"],
        _connectivity_row(r),
        *_power_rows(r),
        *_phase_rows(r),
        *_pdk_rows(layout.get("info", {})),
        *_signoff_rows(r),
    ]
    for key in ("gds", "oas", "png"):
        if layout["paths"].get(key):
            rows.append([key.upper(), layout["paths"][key]])
    if layout["paths"].get("netlists"):
        rows.append(["netlists (every level)", layout["paths"]["netlists"]])
    rows += [["phase map", r["exports"]["phase_map"][0]], ["compact netlist", r["exports"]["compact_netlist"]],
             ["report", str(result.out_dir / "report.md")], ["open in KLayout", r["view"]]]
    console.print(table(f"{result.scenario}: build summary", ["", ""], rows))


def _phase_rows(report: dict) -> list[list[str]]:
    """Which phase shifters were drawn, what the other option would cost, and the heater/pad shapes read back."""
    options = report.get("phase_options")
    if not options:
        return []
    t, f = options["tunable"], options["fixed"]
    shapes = (report.get("layout") or {}).get("layer_shapes") or {}
    return [["phase shifters", f"{options['chosen']}; tunable: {t['heaters']} heaters, {t['pads']} pads, "
                               f"{t['static_power_w']:.1f} W static; fixed: {f['delay_sections']} delays in 2π/"
                               f"{f['levels']} steps, 0 pads, 0 W"],
            ["heater / metal shapes", f"{shapes.get('heater', '?')} / {shapes.get('metal', '?')} (read back)"]]


def _power_rows(report: dict) -> list[list[str]]:
    """The static heater power as drawn, and the other arm choice's for comparison (docs/heater_power.md)."""
    power = report.get("heater_power")
    if not power:
        return []
    if power.get("plain"):
        return [["heater power", f"{power['total_w']:.1f} W drawn (--min-power: {power['lower_arm_heaters']} heaters on "
                                 f"a lower arm); plain {power['plain']['total_w']:.1f} W: "
                                 f"{100 * power['reduction']:.1f} % less"]]
    return [["heater power", f"{power['total_w']:.1f} W drawn (every heater on the upper arm); "
                             f"--min-power would draw {power['least']['total_w']:.1f} W"]]


def _footprint_row(layout: dict) -> list[str]:
    total = layout["footprint"]["total"]
    plan = layout.get("floorplan")
    if plan is None:
        return ["footprint", f"{total['area_mm2']:.3f} mm² ({total['width_mm']:.2f} x {total['height_mm']:.2f} mm)"]
    w, h = plan["die_mm"]
    return ["dies", f"{plan['dies']} of {w:g} x {h:g} mm ({plan['die']}), utilisation {100 * plan['utilisation']:.1f}%, "
            f"{len(plan['inter_die_links'])} inter-die links, {plan['edge_couplers']} edge couplers (report.md lists them)"]


def _pdk_rows(info: dict) -> list[list[str]]:
    """The PDK drawn with (and its versions) and, on a die, what the die frame offers and what is used."""
    versions = ", ".join(f"{k} {v}" for k, v in (info.get("pdk_versions") or {}).items())
    rows = [["PDK", f"{info.get('pdk', 'optinc')}" + (f" ({versions})" if versions else "")]]
    die = info.get("die")
    if info.get("not_mounted"):  # a foundry preset too small for the design: floorplanned onto such dies
        rows.append(["MPW frame", f"not mounted: {info['not_mounted']}"])
    if isinstance(die, dict):  # mounted on a foundry die frame (a floorplanned build names its dies instead)
        rows.append(["die", f"{die['die']} ({die['width_um'] / 1000:g} x {die['height_um'] / 1000:g} mm): "
                            f"{die['fibres_used']} of {die['fibre_couplers']} fibre couplers at {die['fibre_pitch_um']:g} "
                            f"µm ({die['bias_inputs']} bias input), {die['bond_pads']} bond pads ({_routing(die)})"])
    return rows


def _routing(die: dict) -> str:
    routing = die.get("heater_routing") or {}
    if not routing.get("routed"):
        return f"heaters not routed: {routing.get('why', 'no routing')}"
    return f"{routing['heaters']} heaters routed to {routing['pads_used']} pads, ground shared"



def _signoff_rows(report: dict) -> list[list[str]]:
    """Heater nets read from the GDS (where routed) and the tapeout verdict per die."""
    rows = []
    e = report.get("electrical")
    if e:
        pad = "bump" if e.get("pads") == "bumps" else "pad"
        ground = "a ground bump" if pad == "bump" else "the shared ground"
        rows.append(["heater nets", f"{'PASS' if e['mismatches'] == 0 else 'FAIL'}: {e['own_pad']} of "
                                    f"{e['heaters_expected']} heaters on a {pad} of their own, {e['on_ground']} on "
                                    f"{ground}, {e['mismatches']} mismatches"])
    signoff = report.get("signoff") or {}
    dies = signoff.get("dies") or []
    bumps = (report.get("layout") or {}).get("info", {}).get("bumps")
    if bumps:
        routed = sum(d["routed"] for d in dies)
        rows.append(["flip-chip bumps", f"{bumps['pitch_um']:g} µm pitch: {bumps['sites']} sites on {len(dies)} "
                                        f"dies, {signoff['pads_needed']} needed, {bumps['bumps_used']} used; heaters "
                                        f"routed on {routed} of {len(dies)} dies (ground bumps joined by the package)"])
    ready = sum(d["tapeout_ready"] for d in dies)
    if dies:
        first = next((d for d in dies if not d["tapeout_ready"]), None)
        why = "" if first is None else f" ({first['die'] or 'no die'}: {'; '.join(first['blockers'])})"
        rows.append(["tapeout", f"{ready} of {len(dies)} dies ready, {signoff['pads_needed']} pads needed{why}"])
    system = signoff.get("system")
    if system:
        rows.append(["system", f"works passively ({system['laser_dbm_per_server']:.1f} dBm of laser per server)"
                     if system["works_passively"] else
                     f"does not work passively: {system['laser_dbm_per_server']:.1f} dBm of laser per server needed, at "
                     f"most {system['max_launch_dbm']:g} dBm launched (the report's link budget says where gain is needed)"])
    return rows


def _connectivity_row(report: dict) -> list[str]:
    c = report.get("connectivity")
    if c is None:
        return ["drawn waveguides", "not checked"]
    verdict = "PASS" if c["connected"] else "FAIL: a waveguide is missing or does not abut"
    text = f"{verdict}: {c['open_ends']} open ends, the description means {c['expected_open_ends']}"
    ports = c.get("ports") or {}
    if ports.get("covered"):
        where = f" in the {ports['blocks']} block cells the dies draw whole" if "cut_cells" in ports else ""
        text += (f"; optical connectivity: {ports['connections']} connections checked{where}, {ports['mismatches']} "
                 f"mismatches, {ports['wiring_mismatches']} wrong of {ports['wiring']} channel pairs"
                 + ("" if ports["ok"] else " (FAIL)"))
    elif ports:
        text += f"; port to port: not checked ({ports['reason']})"
    return ["drawn waveguides", text]


def _cascade_summary(console, result) -> None:
    from optinc_pdk.cli.output import table

    r = result.report
    a, c, layout, v = r["area"], r["description"], r["layout"], r.get("verification")
    n = a["optincs"]
    if r["weights"]["random"]:
        console.print("[bold red]RANDOM WEIGHTS: untrained, for area/layout exploration only[/bold red]")
    rows = [
        ["weights", f"{r['weights']['level1']['source']}, {r['weights']['level2']['source']}"],
        ["MZIs (weight matrices)", f"{c['weight_matrix_mzis']} in {n} OptINCs; {a['expanded_optinc_mzis']} per "
         f"expanded OptINC vs {a['base_optinc_mzis']} for {a['base_optinc']}: {100 * a['overhead_per_optinc']:+.1f}% "
         f"(paper about {100 * (a['paper_overhead'] or 0):.1f}%)"],
        ["vs flat " + a["flat_optinc"], f"{a['flat_mzis']} MZIs: {100 * a['overhead_vs_flat']:+.1f}%"],
        _footprint_row(layout),
        ["MZIs in the GDS", str(layout["mzis"])],
        ["verification", "skipped" if v is None else
         f"{'PASS' if r['verified'] else 'FAIL'}: link {v['link']['within_tolerance']}/{v['link']['level1_inputs']} "
         f"within tolerance, optical accuracy {v['optical_accuracy']:.6f} on {v['samples']} 16-server vectors"],
        _connectivity_row(r),
    ]
    for key in ("gds", "oas", "png"):
        if layout["paths"].get(key):
            rows.append([key.upper(), layout["paths"][key]])
    if layout["paths"].get("netlists"):
        rows.append(["netlists (every level)", layout["paths"]["netlists"]])
    rows += [["report", str(result.out_dir / "report.md")], ["open in KLayout", r["view"]]]
    console.print(table(f"{result.scenario}: build summary", ["", ""], rows))


def _show(result) -> None:
    """Send the layout to a running KLayout through kfactory's klive client; say whether it arrived."""
    import kfactory as kf
    from kfactory.conf import logger

    from optinc_pdk.cli.output import console

    paths = (result.report.get("layout") or {}).get("paths", {})
    path = paths.get("oas") or paths.get("gds")
    if not path:
        console.print("--show: this build wrote no layout file")
        return
    missed = []  # kfactory only logs a warning when nothing listens on klive's port
    sink = logger.add(missed.append, level="WARNING", filter=lambda record: "klive" in record["message"])
    try:
        kf.show(Path(path).resolve())
    except Exception as error:  # noqa: BLE001 -- the build is written; a viewer hiccup must not fail it
        console.print(f"--show: KLayout did not take {path} ({error}); open the file with the command above")
        return
    finally:
        logger.remove(sink)
    if missed:
        console.print("--show: no KLayout with klive listening on localhost:8082; open the file with the command above")
    else:
        console.print(f"sent {path} to KLayout (klive)")
