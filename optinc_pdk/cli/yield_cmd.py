"""`optinc yield`: how many sampled chips still decide every input right (docs/yield.md).

Shards its chips over ranks when started by ``torchrun`` (``torchrun --nproc-per-node 2 -m
optinc_pdk.cli.main yield …``); rank 0 prints and writes the report.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

INPUT_LIMIT = 100_000  # datasets up to this size are simulated whole by default
STRATIFIED_DEFAULT = 28_561  # otherwise a stratified sample of this many inputs (b8n4's whole dataset)


def _one_blas_thread(threads: int) -> None:
    """Pin BLAS to ``threads`` threads before numpy loads (no effect once it has).

    Why: each chip is many small matmuls; on a 2-core machine shared with other work, a second BLAS
    thread spins waiting for a busy core and made the chips 2-3× slower here. Parallelism comes from
    torchrun ranks instead (one process per core).
    """
    if "numpy" in sys.modules:
        return
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))


def _offset(scenario: str, sigma_offset: float | None, phases: str) -> float:
    """--sigma-offset, or its default: 0 for heaters, the delay sections' fabrication spread for fixed phases."""
    if sigma_offset is not None or phases != "fixed":
        return sigma_offset or 0.0
    from optinc_pdk.simulate.nonideal import fixed_phase_sigma
    from optinc_pdk.spec.scenario import load_scenario

    return fixed_phase_sigma(load_scenario(scenario).device.heater_length)


def _crosstalk(scenario: str, text: str) -> tuple[float, float | None]:
    """--crosstalk: (between mesh MZIs, between output phase shifters; None: the same), given or from the layout."""
    from optinc_pdk.errors import OptincError

    if text.strip().lower() == "layout":
        from optinc_pdk.simulate.thermal import layout_crosstalk
        from optinc_pdk.spec.scenario import load_scenario

        return layout_crosstalk(load_scenario(scenario).device)
    try:
        return float(text), None
    except ValueError:
        raise OptincError(f"--crosstalk: {text!r} is neither a number (rad per rad) nor 'layout'") from None


def _detector(text: str) -> float | None:
    """--sigma-detector: the given σ (levels), or None for 'budget' (``_budget_detector`` computes it)."""
    from optinc_pdk.errors import OptincError

    if text.strip().lower() == "budget":
        return None
    try:
        return float(text)
    except ValueError:
        raise OptincError(f"--sigma-detector: {text!r} is neither a number (PAM4 levels) nor 'budget'") from None


def _budget_detector(design: tuple) -> float:
    """The receiver noise (levels) the scenario's link budget implies for ``design`` (docs/yield.md)."""
    from optinc_pdk.analysis.link_budget import link_budget, receiver_noise_levels

    s, _, description = design
    return receiver_noise_levels(link_budget(description, s.budget))["sigma_levels"]


def _sigmas(text: str | None) -> list[float] | None:
    from optinc_pdk.errors import OptincError

    if text is None:
        return None
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise OptincError(f"--sweep-sigma: {text!r} is not a comma-separated list of numbers (rad)") from None
    if not values:
        raise OptincError("--sweep-sigma: give at least one σ (rad)")
    return values


def _shown(source: str) -> str:
    """A weights path relative to the working folder where it lies below it (reports name no machine folder)."""
    try:
        return str(Path(source).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return source


def _design(scenario: str, weights: Path | None):
    """(scenario, the weights of each trained network, description): a cascade has two networks and is one system."""
    from optinc_pdk.circuit.builder import build_description
    from optinc_pdk.circuit.cascade import build_cascade_description
    from optinc_pdk.flows.build import load_design_weights
    from optinc_pdk.spec.scenario import load_scenario

    s = load_scenario(scenario)
    networks = load_design_weights(s, weights, None)
    if s.cascade is not None:
        return s, networks, build_cascade_description(s, *networks)
    return s, networks, build_description(s, networks[0])


def _chosen_inputs(s, description, limit: int | None, seed: int):
    """(the inputs every chip is checked on, the size of the dataset they come from; None: too many to count)."""
    from optinc_pdk.core.datasets import exhaustive_dataset
    from optinc_pdk.simulate.yield_ import cascade_yield_inputs, yield_inputs

    if s.cascade is not None:  # too many server vectors to count: a stratified sample of them
        return cascade_yield_inputs(description, limit or 0, seed), None
    data = exhaustive_dataset(s)
    if limit is None:
        limit = 0 if data.size <= INPUT_LIMIT else STRATIFIED_DEFAULT
    return yield_inputs(description, data, limit, seed), data.size


def register(app: typer.Typer) -> None:
    @app.command("yield")
    def yield_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file (a cascade's sample is a whole system)"),
        weights: Path | None = typer.Option(None, "--weights", help=(
            "weights .npz (a cascade: folder with level1.npz, level2.npz; default: the shipped weights)")),
        sigma_phase: float | None = typer.Option(None, "--sigma-phase", help=(
            "σ of every phase's error left after calibration (drift, measurement), rad; default 0.01, or 0 with "
            "--phases fixed (whose error is its offset)")),
        dac_bits: int = typer.Option(0, "--dac-bits", help="phase DAC bits over 2π (0: continuous phases)"),
        sigma_split: float = typer.Option(0.0, "--sigma-split", help="σ of each coupler's power ratio (0.01 = 1%)"),
        sigma_split_tree: float = typer.Option(0.0, "--sigma-split-tree", help=(
            "σ of the power ratio of each 1x2 MMI in the averager, bias and broadcast trees")),
        loss_db: float = typer.Option(0.0, "--loss-db", help="excess loss of every MZI, dB"),
        sigma_imbalance_db: float = typer.Option(0.0, "--sigma-imbalance-db", help="σ of an MZI's arm loss difference, dB"),
        crosstalk: str = typer.Option("0", "--crosstalk", metavar="K|layout", help=(
            "thermal crosstalk, rad per rad of a neighbouring heater; layout: computed from the heater distances the "
            "layout draws (docs/yield.md)")),
        sigma_detector: str = typer.Option("0", "--sigma-detector", metavar="S|budget", help=(
            "receiver noise σ, PAM4 levels; budget: from the scenario's link budget (worst route, most launch power)")),
        sigma_offset: float | None = typer.Option(None, "--sigma-offset", help=(
            "σ of every phase shifter's static fabrication offset, rad (removed by --calibrate); default 0, or with "
            "--phases fixed the delay sections' spread computed from the scenario's section length (docs/yield.md)")),
        phases: str = typer.Option("tunable", "--phases", metavar="tunable|fixed", help=(
            "fixed: every phase is a waveguide delay (no heater): its offset stays and --dac-bits is the delay's step")),
        calibrate: str = typer.Option("", "--calibrate", metavar="phases|attenuators|all", help=(
            "what each chip had measured and programmed out: its phase offsets (phases); also its coupler ratios "
            "and arm losses, re-solved in the attenuators or in all MZIs, meshes too (docs/yield.md)")),
        samples: int = typer.Option(100, "--samples", min=0, help="chips sampled (per σ of a sweep); 0: the design only"),
        seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1, help="seed of the chip samples"),
        inputs: int | None = typer.Option(None, "--inputs", min=0, help=(
            f"0: every input of the dataset; N: a stratified sample of N (default: all up to {INPUT_LIMIT}, "
            f"else {STRATIFIED_DEFAULT}); a cascade: N server vectors (0, default: each level-1 input once per group)")),
        sweep_sigma: str | None = typer.Option(None, "--sweep-sigma", help="comma-separated σ_phase values: a yield curve"),
        tolerable: bool = typer.Option(False, "--tolerable", help=(
            "search the largest σ_phase at which ≥ 99% of --samples chips yield (the other errors as given)")),
        record: bool = typer.Option(False, "--record", help=(
            "with --tolerable: write the result into the weights' provenance record (the .json beside the .npz)")),
        out: Path | None = typer.Option(None, "-o", "--out", help="report folder: yield.json, yield.md, plots/"),
        blas_threads: int = typer.Option(1, "--blas-threads", min=1, help="BLAS threads per process"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        """Yield of sampled chips: every input through every chip with its phase, coupler, loss, crosstalk and detector errors."""
        _one_blas_thread(blas_threads)
        from optinc_pdk.core.atomic import check_output_folder
        from optinc_pdk.errors import OptincError
        from optinc_pdk.simulate.nonideal import ErrorModel

        if sigma_phase is None:
            sigma_phase = 0.0 if phases == "fixed" else 0.01
        import time
        from dataclasses import replace

        started = time.perf_counter()
        mzi_crosstalk, output_crosstalk = _crosstalk(scenario, crosstalk)
        detector = _detector(sigma_detector)
        model = ErrorModel(sigma_phase, dac_bits, sigma_split, loss_db, sigma_imbalance_db, mzi_crosstalk, detector or 0.0,
                           calibrate, _offset(scenario, sigma_offset, phases), phases, output_crosstalk,
                           sigma_split_tree=sigma_split_tree)
        sigmas = _sigmas(sweep_sigma)
        try:  # a swept σ outside its range is refused before any work, naming the option it came from
            models = [model.with_sigma_phase(s) for s in sigmas] if sigmas else [model]
        except OptincError as error:
            raise OptincError(f"--sweep-sigma: {str(error).split(': ', 1)[1]}") from None
        if record and not tolerable:
            raise OptincError("--record: give it with --tolerable (it records the tolerable σ)")
        if tolerable and (sigmas or not samples):
            raise OptincError("--tolerable: searches σ_phase itself; give --samples N > 0 and no --sweep-sigma")
        if out is not None:
            check_output_folder(out, "-o")
        design = _design(scenario, weights)  # every rank builds it: it picks the inputs and the precision
        if detector is None:
            detector = _budget_detector(design)
            models = [replace(m, sigma_detector=detector) for m in models]
        report = _run(design, started, models, samples, seed, inputs, tolerable)
        if report is None:  # not rank 0
            return
        if out is not None:
            report["written"] = [str(out / name) for name in _write(report, out)]
        if record:
            report["recorded_in"] = _record(scenario, weights, report)
        if as_json:
            from optinc_pdk.cli.output import print_json

            print_json(report)
        else:
            _print(report)
        if report["design"]["decisions_differing_from_complex128"]:
            raise typer.Exit(1)


def _run(design: tuple, start: float, models: list, samples: int, seed: int, limit: int | None,
         tolerable: bool = False) -> dict | None:
    """The run on ``design`` (``_design``'s triple); ``start``: when the command began (its seconds count from it)."""
    import time

    from optinc_pdk.simulate.nonideal import ErrorSites
    from optinc_pdk.simulate.shard import finish, rank_and_world
    from optinc_pdk.simulate.yield_ import ideal_check, run_yield

    rank, world = rank_and_world()
    s, networks, description = design
    chosen, dataset_size = _chosen_inputs(s, description, limit, seed)
    seconds = {"build": time.perf_counter() - start}
    design = ideal_check(description, chosen)  # every rank: it picks the precision all of them use
    seconds["design_check"] = time.perf_counter() - start - sum(seconds.values())
    sites = ErrorSites(description)
    precision = design["precision"]
    tolerance = None
    if tolerable:
        tolerance = _tolerance(description, chosen, models[0], samples, seed, precision)
        tolerance["unit"] = "system" if s.cascade is not None else "chip"
        results = []
    else:
        results = [run_yield(description, chosen, m, samples, seed, sites, precision=precision)
                   for m in models] if samples else []
    seconds["chips"] = time.perf_counter() - start - sum(seconds.values())
    finish(world)
    if rank != 0:
        return None
    return {"scenario": s.name, "weights": ", ".join(_shown(w.source) for w in networks), "servers": description.servers,
            "chips": samples, "unit": "system" if s.cascade is not None else "chip", "seed": seed, "ranks": world,
            "inputs": {"sample": chosen.sample, "count": chosen.size, "of": dataset_size},
            "design": design, "results": results, "seconds": seconds} | ({"tolerance": tolerance} if tolerance else {})


def _progress_printer():
    from rich.console import Console

    console = Console(stderr=True)  # progress only: stdout stays the report (or its JSON)

    def progress(entry: dict) -> None:
        verdict = "passes" if entry["passed"] else "fails"
        console.print(f"  σ_phase {entry['sigma_phase']:.3g} rad: {verdict} ({entry['failures']} of "
                      f"{entry['chips_simulated']} simulated fail)", highlight=False)

    return progress


def _tolerance(description, chosen, model, samples: int, seed: int, precision: str) -> dict:
    import numpy as np

    from optinc_pdk.simulate.tolerance import tolerable_sigma

    found = tolerable_sigma(description, chosen, model, samples, seed, dtype=np.dtype(precision).type,
                            progress=_progress_printer())
    return found.to_dict() | {"error_model": model.to_dict(), "seed": seed}


def _record(scenario: str, weights: Path | None, report: dict) -> str:
    """The tolerance goes into the weights' provenance record (sha256 and every other field unchanged).

    A cascade's tolerance is one system's (its N + 1 OptINCs sampled together): it goes into both levels' records.
    """
    from optinc_pdk.flows.build import load_design_weights
    from optinc_pdk.spec.scenario import load_scenario

    s = load_scenario(scenario)
    networks = load_design_weights(s, weights, None)
    if s.cascade is None:
        return _write_record(s, None, networks[0], report, weights)
    return ", ".join(_write_record(s, level, w, report, None if weights is None else Path(weights) / f"level{level}.npz")
                     for level, w in zip((1, 2), networks))


def _write_record(s, level: int | None, w, report: dict, weights: Path | None = None) -> str:
    import datetime
    import json

    from optinc_pdk.core.atomic import write_text_atomic
    from optinc_pdk.core.weights import shipped_weights_path

    path = (Path(weights) if weights is not None else shipped_weights_path(s, level)).with_suffix(".json")
    from optinc_pdk.report.yield_report import switched_on

    model = switched_on(report["tolerance"]["error_model"])
    if model.pop("crosstalk_output", None) is not None:  # only --crosstalk layout sets the two apart
        model["crosstalk"] = "layout"
    options = " ".join(f"--{key.replace('_', '-')} {value}" for key, value in model.items() if key != "sigma_phase")
    command = f"optinc yield {s.name} --tolerable --samples {report['chips']} --seed {report['seed']} {options}".strip()
    entry = report["tolerance"] | {"inputs": report["inputs"], "sha256": w.digest(),
                                   "measured_on": datetime.date.today().isoformat(), "command": command}
    write_text_atomic(path, json.dumps(w.provenance | {"tolerance": entry}, indent=2) + "\n")
    return str(path)


def _write(report: dict, out: Path) -> list[str]:
    from optinc_pdk.report.yield_report import write_yield_report

    return write_yield_report(report, out)


def _print(report: dict) -> None:
    from optinc_pdk.cli.output import console, table
    from optinc_pdk.report.yield_report import accuracy_row, error_rows, switched_on, tolerance_line

    d = report["design"]
    console.print(f"{report['scenario']}: {report['inputs']['sample']}; weights {report['weights']}")
    console.print(f"design (ideal chip): accuracy {d['accuracy']:.6f}, decision margin smallest {d['margin_min']:.4f} "
                  f"levels, 1st percentile {d['margin_p1']:.4f}; fused {d['precision']} path vs complex128 simulator: "
                  f"{d['decisions_differing_from_complex128']} decisions differ")
    for r in report["results"]:
        model = ", ".join(f"{k}={v}" for k, v in switched_on(r["error_model"]).items()) or "ideal"
        console.print(f"[bold]yield {r['yield']:.4f}[/bold] ({r['chips_all_correct']} / {r['chips']} {report['unit']}s, seed "
                      f"{r['seed']}, {report['ranks']} rank(s)); errors: {model}")
        console.print(table("per-chip accuracy", ["min", "1st pct", "5th pct", "median", "mean", "max"], [accuracy_row(r)]))
        if r["error_values"]:
            console.print(table("error values (relative ratios)", ["error", "count", "ratio"], error_rows(r)))
    if "tolerance" in report:
        console.print(tolerance_line(report["tolerance"]))
    seconds = ", ".join(f"{k} {v:.1f}" for k, v in report["seconds"].items())
    console.print(f"seconds: {seconds}" + (f"; wrote {', '.join(report['written'])}" if "written" in report else ""))
