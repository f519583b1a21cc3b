"""`optinc simulate`, `optinc allreduce`, `optinc describe`: the circuit description and its simulation."""

from __future__ import annotations

from pathlib import Path

import typer

WEIGHTS_HELP = "weights .npz (default: the shipped weights of the scenario)"
RANDOM_HELP = "use seeded random weights (block form where approximated) instead of trained ones"
PHASE_MAP_HELP = "simulate an exported design: its phase map (from `optinc describe`), checked against the scenario"


def _cascade_design(s, weights: Path | None, random_seed: int | None, phase_map: Path | None):
    """(scenario, cascade description, (w1, w2)); --weights is a folder with level1.npz and level2.npz."""
    from optinc_pdk.circuit.cascade import build_cascade_description
    from optinc_pdk.errors import OptincError
    from optinc_pdk.flows.build import load_design_weights

    if phase_map is not None:
        raise OptincError(f"{s.name}: --phase-map: a cascade is built from its two levels' weights "
                          "(--weights FOLDER holding level1.npz and level2.npz)")
    w1, w2 = load_design_weights(s, weights, random_seed)
    return s, build_cascade_description(s, w1, w2), (w1, w2)


def _design(scenario: str, weights: Path | None, random_seed: int | None, phase_map: Path | None,
            need_weights: bool):
    """(scenario, description, weights or None) from the options; only OptincErrors escape."""
    from optinc_pdk.circuit.builder import build_description
    from optinc_pdk.circuit.phases import description_from_phase_map
    from optinc_pdk.circuit.random_weights import random_weights
    from optinc_pdk.core.weights import load_for_scenario
    from optinc_pdk.errors import OptincError
    from optinc_pdk.spec.scenario import load_scenario

    s = load_scenario(scenario)
    if s.cascade is not None:
        return _cascade_design(s, weights, random_seed, phase_map)
    if weights is not None and random_seed is not None:
        raise OptincError("--weights and --random-weights: give one or the other")
    w = None
    if random_seed is not None:
        w = random_weights(s, random_seed)
    elif weights is not None or need_weights or phase_map is None:
        w = load_for_scenario(s, weights)
    if phase_map is not None:
        return s, description_from_phase_map(s, phase_map, w), w
    return s, build_description(s, w), w


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file"),
        weights: Path | None = typer.Option(None, "--weights", help=WEIGHTS_HELP),
        random_seed: int | None = typer.Option(None, "--random-weights", metavar="SEED", help=RANDOM_HELP),
        phase_map: Path | None = typer.Option(None, "--phase-map", help=PHASE_MAP_HELP),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
        samples: int = typer.Option(114244, "--samples", min=1,
                                    help="cascade only: 16-server gradient vectors sent end to end (default: every "
                                         "level-1 input 4 times at every group position)"),
        seed: int = typer.Option(0, "--seed", help="cascade only: seed of the end-to-end sample"),
    ) -> None:
        """Behavioural S-matrix simulation: per-layer matrix errors and end-to-end accuracy on the whole dataset.

        Exits 1 when a layer's relative error exceeds 1e-9 or any decision differs from the trained model's
        (a cascade: also when any 16-server decision is wrong or level 1 decides any of its inputs wrongly).
        """
        import time

        from optinc_pdk.cli.output import console, print_json, table
        from optinc_pdk.simulate.report import simulate_description

        start = time.perf_counter()
        s, description, w = _design(scenario, weights, random_seed, phase_map, need_weights=True)
        built = time.perf_counter() - start
        if s.cascade is not None:
            _simulate_cascade(description, w, samples, seed, built, as_json)
            return
        report = simulate_description(description, w, s)
        report["seconds"] = {"build": built, **report["seconds"]}
        if as_json:
            print_json(report)
        else:
            console.print(table(f"{s.name}: simulated layer matrices vs targets", [
                "layer", "out x in", "mapping", "blocks", "scale s", "relative error", "bias error"], [
                [f"L{r['layer']}", f"{r['shape'][0]}x{r['shape'][1]}", r["orientation"], r["blocks"], f"{r['scale']:.4g}",
                 f"{r['relative_error']:.2e}", f"{r['bias_error']:.2e}"] for r in report["layers"]]))
            for row in report["layers"]:
                if row.get("projection_residual", 0.0) > report["layer_tolerance"]:
                    console.print(f"L{row['layer']}: the weights are {row['projection_residual']:.2e} (max abs) away from "
                                  "the block form the optics realise; the model's decisions may differ")
            console.print(
                f"{s.name}: optical accuracy {report['optical_accuracy']:.6f} ({report['optical_correct']} / "
                f"{report['samples']} samples, all {report['servers']} servers' receivers), trained model "
                f"{report['model_accuracy']:.6f}, decisions differing from the model: "
                f"{report['decisions_differing_from_model']}; {report['seconds']['end_to_end']:.2f} s"
            )
        if not report["verified"]:  # tests/test_fault_injection.py: a faulty design must exit 1
            raise typer.Exit(1)

    @app.command("allreduce")
    def allreduce_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file"),
        input_path: Path = typer.Option(..., "--input", help=".npy of unsigned b-bit gradients, shape (servers, elements)"),
        output_path: Path = typer.Option(..., "--output", help=".npy to write: what each server decodes, same shape"),
        check: bool = typer.Option(False, "--check", help="compare with the exact floor average; exit 1 on any mismatch"),
        weights: Path | None = typer.Option(None, "--weights", help=WEIGHTS_HELP),
        random_seed: int | None = typer.Option(None, "--random-weights", metavar="SEED", help=RANDOM_HELP),
        phase_map: Path | None = typer.Option(None, "--phase-map", help=PHASE_MAP_HELP),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """All-reduce real gradients through the simulated optics (every server's receivers decode the average)."""
        import numpy as np

        from optinc_pdk.cli.output import console, print_json
        from optinc_pdk.core.atomic import atomic_path, check_output_file
        from optinc_pdk.core.npyfile import read_npy
        from optinc_pdk.simulate.allreduce import allreduce, check_gradients, compare
        from optinc_pdk.simulate.chain import compile_chain
        from optinc_pdk.spec.scenario import load_scenario

        check_output_file(output_path, "--output", (".npy",))  # before any work: never a renamed-away .npy
        gradients = read_npy(input_path, "gradients file")

        plain = load_scenario(scenario)  # refuse bad gradients before the (slower) build
        gradients = check_gradients(gradients, plain.servers, plain.bits, str(input_path))
        s, description, _ = _design(scenario, weights, random_seed, phase_map, need_weights=False)
        decoded = allreduce(compile_chain(description), gradients, str(input_path))
        with atomic_path(output_path) as tmp, open(tmp, "wb") as handle:  # a handle: numpy appends .npy to names
            np.save(handle, decoded.astype(np.min_scalar_type(2**description.bits - 1)), allow_pickle=False)
        result = {"scenario": s.name, "servers": description.servers, "elements": int(gradients.shape[1]),
                  "output": str(output_path)}
        if check:
            result["check"] = compare(decoded, gradients).to_dict()
        if as_json:
            print_json(result)
        else:
            console.print(f"{s.name}: {result['elements']} elements from {result['servers']} servers -> {output_path}")
            if check:
                c = result["check"]
                console.print(f"check vs exact floor average: {c['mismatched_elements']} mismatched elements, "
                              f"{c['mismatched_values']} mismatched server values, max |error| {c['max_abs_error']}")
        if check and result["check"]["mismatched_values"]:
            raise typer.Exit(1)

    @app.command("describe")
    def describe_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file"),
        out: Path = typer.Option(..., "--out", "-o", help="folder for phases.npz/json, circuit.json, summary.json, netlists/"),
        weights: Path | None = typer.Option(None, "--weights", help=WEIGHTS_HELP),
        random_seed: int | None = typer.Option(None, "--random-weights", metavar="SEED", help=RANDOM_HELP),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Build the circuit description and write its exports (phase map, compact netlist, summary, netlists/)."""
        from optinc_pdk.circuit.export import write_exports
        from optinc_pdk.circuit.summary import summary
        from optinc_pdk.cli.output import console, print_json
        from optinc_pdk.core.atomic import check_output_folder
        from optinc_pdk.flows.staging import mark_optinc_output

        check_output_folder(out, "--out")
        s, description, _ = _design(scenario, weights, random_seed, None, need_weights=True)
        if s.cascade is not None:
            _describe_cascade(description, out, as_json)
            return
        written = write_exports(description, out)
        written["netlists"] = _write_netlists(description.top, s, out)
        mark_optinc_output(out)  # an optinc output: `optinc build` may replace this folder
        info = summary(description)
        if as_json:
            print_json({"scenario": s.name, "written": written, "totals": info["totals"],
                        "weight_matrix_mzis": info["weight_matrix_mzis"], "matches_area_report": info["matches_area_report"]})
            return
        t = info["totals"]
        console.print(
            f"{s.name}: {t['mzis']} MZIs ({info['weight_matrix_mzis']} in weight matrices), {t['splitters']} splitters, "
            f"{t['combiners']} combiners, {t['phase_shifters']} phase shifters, {t['nonlinear_units']} nonlinear units; "
            f"counts {'match' if info['matches_area_report'] else 'DIFFER FROM'} the area report"
        )
        console.print(f"wrote {out}/phases.npz, phases.json, circuit.json, summary.json and the netlists of "
                      f"every level under {out}/netlists (top: {Path(written['netlists']).name})")


def _simulate_cascade(description, weights, samples: int, seed: int, built: float, as_json: bool) -> None:
    from optinc_pdk.cli.output import console, print_json, table
    from optinc_pdk.simulate.cascade import simulate_cascade

    report = simulate_cascade(description, *weights, samples=samples, seed=seed)
    report["seconds"] = {"build": built, **report["seconds"]}
    ok = (report["layers_within_tolerance"] and report["optical_equals_model"] and report["link"]["all_decided_correctly"]
          and report["optical_accuracy"] == 1.0)
    report["pass"] = report["verified"] = ok
    if as_json:
        print_json(report)
    else:
        rows = [[f"level {level}", f"L{r['layer']}", f"{r['shape'][0]}x{r['shape'][1]}", r["orientation"],
                 f"{r['relative_error']:.2e}", f"{r['bias_error']:.2e}"]
                for level, rows in report["layers"].items() for r in rows]
        console.print(table(f"{report['scenario']}: simulated layer matrices vs targets",
                            ["level", "layer", "out x in", "mapping", "relative error", "bias error"], rows))
        link = report["link"]
        console.print(f"level-1 analog link: {link['within_tolerance']} / {link['level1_inputs']} inputs within "
                      f"{link['tolerance']} (worst {[round(e, 4) for e in link['max_abs_error']]}), "
                      f"{link['decided_correctly']} decided correctly")
        console.print(
            f"{report['scenario']}: optical accuracy {report['optical_accuracy']:.6f} ({report['optical_correct']} / "
            f"{report['samples']} 16-server vectors, {report['sample']}; all {report['servers']} servers' receivers) "
            f"against the exact floor average; ideal two-level MLP {report['model_accuracy']:.6f}, decisions "
            f"differing from it: {report['decisions_differing_from_model']}; {report['seconds']['end_to_end']:.1f} s"
        )
    if not ok:
        raise typer.Exit(1)


def _write_netlists(top, scenario, out: Path) -> str:
    """Every level's gdsfactory netlist, placed as ``optinc build`` draws it; returns the top file."""
    from optinc_pdk.layout.netlists import SUFFIX, design_netlists, write_netlists
    from optinc_pdk.layout.planner import Planner

    write_netlists(design_netlists(top, Planner(scenario.device), name=scenario.name), out / "netlists")
    return str(out / "netlists" / f"{scenario.name}{SUFFIX}")


def _describe_cascade(description, out: Path, as_json: bool) -> None:
    from optinc_pdk.circuit.export import write_cascade_exports
    from optinc_pdk.cli.output import console, print_json
    from optinc_pdk.flows.staging import mark_optinc_output

    written, counts = write_cascade_exports(description, out)
    written["netlists"] = _write_netlists(description.top, description.scenario, out)
    mark_optinc_output(out)
    if as_json:
        print_json({"scenario": description.name, "written": written, **counts})
        return
    t = counts["totals"]
    console.print(f"{description.name}: {t['mzis']} MZIs ({counts['weight_matrix_mzis']} in weight matrices of "
                  f"{len(counts['optincs'])} OptINCs), {t['splitters']} splitters, {t['combiners']} combiners; counts "
                  f"{'match' if counts['matches_area_report'] else 'DIFFER FROM'} the area report")
    console.print(f"wrote {out}/level1/ and {out}/level2/ (phase map, compact netlist, summary of each level), "
                  f"{out}/summary.json and the netlists of every level under {out}/netlists")
