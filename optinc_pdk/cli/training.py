"""The user's network verbs: `optinc train`, `optinc evaluate`, `optinc construct`, `optinc import-weights`.

One function per verb (``*_cmd``) made of named steps; ``register`` adds them to the app. The research
tools that work on a trained network's last errors are `optinc lab` verbs (:mod:`optinc_pdk.cli.lab`).
"""

from __future__ import annotations

from pathlib import Path

import typer


class TrainingBar:
    """One rich progress bar per training phase (epochs, running loss, last accuracy, time left); the
    evaluation lines print above it. Off a terminal (a log file) only the lines are written."""

    def __init__(self, console, name: str):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.name = name
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                            TextColumn("epoch {task.completed:.1f}/{task.total:.0f}"), TextColumn("{task.fields[stats]}"),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                            disable=not console.is_terminal)
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> TrainingBar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def update(self, tick) -> None:
        if tick.phase not in self.tasks:
            self.tasks[tick.phase] = self.bar.add_task(f"{self.name} {tick.phase}", total=tick.epochs, stats="")
        accuracy = "—" if tick.accuracy is None else f"{100 * tick.accuracy:.3f}%"
        self.bar.update(self.tasks[tick.phase], completed=tick.epoch, stats=f"loss {tick.loss:.5f} accuracy {accuracy}")

    def log(self, line: str) -> None:
        self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)


def _default_target(scenario, level, run: Path, accuracy: float, console) -> Path:
    """The shipped weights file, unless it holds more accurate weights than this run reached: a trained
    95% network must not silently replace shipped (e.g. constructed) 100% ones. Then the run's folder."""
    from optinc_pdk.core.weights import load_npz, shipped_weights_path

    shipped = shipped_weights_path(scenario, level)
    if not shipped.is_file():
        return shipped
    kept = load_npz(shipped).provenance.get("accuracy")
    if kept is None or accuracy >= kept:
        return shipped
    suffix = f"-level{level}" if level else ""
    target = run / f"{scenario.name}{suffix}.npz"
    console.print(f"{shipped}: kept, it holds {100 * kept:.5f}% and this run reached {100 * accuracy:.5f}%; "
                  f"the run's weights go to {target} (-o {shipped} replaces the shipped file)")
    return target


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("evaluate")(evaluate_cmd)
    app.command("construct")(construct_cmd)
    app.command("import-weights")(import_cmd)


# -- optinc train -----------------------------------------------------------------------------------

def train_cmd(
    scenario: str = typer.Argument(..., help="scenario name or .yml file (its training: block is the recipe)"),
    level: int | None = typer.Option(None, help="cascade level (1 or 2) for cascade scenarios"),
    output: Path | None = typer.Option(None, "-o", "--output", help="weights .npz (default: weights/NAME.npz, "
                                          "unless that holds more accurate weights: then the run folder)"),
    run_dir: Path | None = typer.Option(None, help="checkpoint folder (default: runs/NAME[-levelL])"),
    resume: bool = typer.Option(False, "--resume", help="continue from the checkpoint in the run folder"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
    epochs: int | None = typer.Option(None, help="pretraining epoch budget (default from the recipe)"),
    approx_epochs: int | None = typer.Option(None, help="hardware-aware epoch budget"),
    batch_size: int | None = typer.Option(None),
    threads: int | None = typer.Option(None, help="torch CPU threads"),
    eval_every: int = typer.Option(5, help="evaluate the whole dataset every N epochs"),
    init: Path | None = typer.Option(None, help="start from these weights (.npz): in block form, no pretraining "
                                        "(unless --continue-pretraining)"),
    continue_pretraining: bool = typer.Option(
        False, "--continue-pretraining", help="with --init: first keep training the plain layers (stage-2 loss, "
        "coupling penalty at full weight) for --epochs, then switch to the block form"),
    lr: float | None = typer.Option(None, help="pretraining peak learning rate (default from the recipe)"),
    level1_weights: Path | None = typer.Option(None, help="cascade --level 2: the level-1 weights whose analog "
                                                  "output errors level 2 must absorb (default: the shipped ones)"),
    export: bool = typer.Option(False, "--export", help="train nothing: write the run folder's checkpoint "
                                "as weights (-o, block form enforced) to evaluate or --init from"),
    time_limit: float | None = typer.Option(None, "--time-limit", help="seconds: stop at the first epoch "
                                               "boundary after this, checkpoint, and write the weights reached "
                                               "(a batch job's or a lent GPU's slot); --resume continues exactly"),
) -> None:
    """Train the scenario's ONN (hardware-aware) on its exhaustive dataset and write the weights."""
    from optinc_pdk.cli.output import console
    from optinc_pdk.core.atomic import check_output_file
    from optinc_pdk.paths import runs_dir
    from optinc_pdk.spec.scenario import load_scenario
    from optinc_pdk.training.recipe import check_recipes
    from optinc_pdk.training.trainer import TrainRequest, train

    if output is not None:
        check_output_file(output, "--output", (".npz",))
    s = load_scenario(scenario)
    check_recipes(s)  # every recipe of the file (both levels of a cascade): a typo stops here, as one line
    _check_level_and_device(s, level, device)
    name = f"{s.name}-level{level}" if level else s.name
    run = run_dir or runs_dir() / name
    if export:
        _export_checkpoint(s, level, run, output, console)
        return
    request = TrainRequest(s, level, device, run, resume, epochs, approx_epochs, batch_size, eval_every,
                           threads=threads, init=_starting_weights(s, init), continue_pretraining=continue_pretraining,
                           lr=lr, level1=_level1_weights(s, level, level1_weights), time_limit_s=time_limit)
    with TrainingBar(console, name) as bar:
        request.log, request.progress = bar.log, bar.update
        result = train(request)
    _write_trained(s, level, run, output, result, name, console)


def _check_level_and_device(s, level: int | None, device: str) -> None:
    from optinc_pdk.errors import OptincError

    if s.cascade is not None and level not in (1, 2):
        raise OptincError(f"{s.name}: a cascade trains one level at a time: add --level 1 or --level 2")
    if device not in ("cpu", "cuda"):
        raise OptincError(f"--device: must be cpu or cuda (got {device})")


def _export_checkpoint(s, level: int | None, run: Path, output: Path | None, console) -> None:
    """--export: the run folder's checkpoint written as weights."""
    from optinc_pdk.core.weights import save_npz
    from optinc_pdk.errors import OptincError
    from optinc_pdk.training.trainer import checkpoint_weights

    if output is None:
        raise OptincError("--export: give the weights file to write with -o")
    w = checkpoint_weights(s, level, run)
    save_npz(output, w, w.provenance)
    console.print(f"{run}: {w.provenance['phase']} epoch {w.provenance['epochs']} written to {output}")


def _starting_weights(s, init: Path | None):
    """--init: the weights to start from, checked against the scenario."""
    if init is None:
        return None
    from optinc_pdk.core.weights import check_against_scenario, load_npz

    start = load_npz(init)
    check_against_scenario(start, s)
    return start


def _level1_weights(s, level: int | None, path: Path | None):
    """A cascade's level 2 learns to absorb level 1's analog errors: the level-1 weights (default: shipped)."""
    if s.cascade is None or level != 2:
        return None
    from optinc_pdk.core.weights import load_for_scenario

    return load_for_scenario(s, path, 1)


def _write_trained(s, level: int | None, run: Path, output: Path | None, result, name: str, console) -> None:
    from optinc_pdk.core.weights import save_npz

    target = output or _default_target(s, level, run, result.weights.provenance["accuracy"], console)
    save_npz(target, result.weights, result.weights.provenance)
    stopped = result.weights.provenance.get("stopped")
    status = "" if stopped is None else f", stopped by the time limit in {stopped['phase']} (--resume continues)"
    console.print(f"{name}: accuracy {result.accuracy:.6f} after {result.epochs_run} epochs "
                  f"({result.wall_s:.0f} s{status}); weights written to {target}")


# -- optinc evaluate --------------------------------------------------------------------------------

def evaluate_cmd(
    scenario: str = typer.Argument(..., help="scenario name or .yml file"),
    weights: Path | None = typer.Option(None, help="weights .npz (default: the shipped weights)"),
    level: int | None = typer.Option(None, help="cascade level (1 or 2)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Accuracy on the whole exhaustive dataset, error values (Table II format), block-form check."""
    from optinc_pdk.cli.output import print_json
    from optinc_pdk.spec.scenario import load_scenario

    reports = _evaluation_reports(load_scenario(scenario), weights, level)
    if as_json:
        print_json(reports[0] if len(reports) == 1 else reports)
        return
    for report in reports:
        _print_evaluation(report)


def _evaluation_reports(s, weights: Path | None, level: int | None) -> list[dict]:
    """One report per level asked for (a cascade without --level: both)."""
    from optinc_pdk.core.datasets import exhaustive_dataset
    from optinc_pdk.core.weights import load_for_scenario
    from optinc_pdk.errors import OptincError
    from optinc_pdk.training.evaluate import evaluate

    if s.cascade is None and level is not None:
        raise OptincError(f"--level: {s.name} is not a cascade")
    levels = [level] if level else ([1, 2] if s.cascade else [None])
    reports = []
    for lv in levels:
        w = load_for_scenario(s, weights if len(levels) == 1 else None, lv)
        report = evaluate(w, s, exhaustive_dataset(s, lv))
        report["weights"] = w.source
        report["level"] = lv
        reports.append(report)
    return reports


def _print_evaluation(r: dict) -> None:
    from optinc_pdk.cli.output import console, table

    console.print(f"{r['scenario']}{' level ' + str(r['level']) if r['level'] else ''}: accuracy "
                  f"{100 * r['accuracy']:.5f}% ({r['correct']} / {r['samples']}) with {r['weights']}")
    if "link_tolerance" in r:
        console.print(f"  link to level 2: {r['within_link_tolerance']} / {r['samples']} samples with every raw "
                      f"output within {r['link_tolerance']} (worst {[round(e, 4) for e in r['max_abs_output_error']]})")
    console.print(f"  approximated layers: max block unitarity error {r['max_block_unitarity_error']:.2e}, "
                  f"max projection residual {r['max_block_projection_residual']:.2e}")
    if r["error_values"]:
        console.print(f"  wrong decisions per output (LSB first): {r['wrong_per_output']}")
        console.print(table("error values (relative ratios)", ["error", "count", "ratio"],
                            [[e["error"], e["count"], f"{100 * e['ratio']:.1f}%"] for e in r["error_values"][:10]]))


# -- optinc construct -------------------------------------------------------------------------------

def construct_cmd(
    scenario: str = typer.Argument(..., help="scenario name or .yml file (a plain OptINC)"),
    output: Path | None = typer.Option(None, "-o", "--output", help="weights .npz (default: weights/NAME.npz)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Exact weights by construction (docs/construction.md), evaluated on the whole exhaustive dataset."""
    from optinc_pdk.cli.output import console, print_json
    from optinc_pdk.core.atomic import check_output_file
    from optinc_pdk.core.weights import save_npz, shipped_weights_path
    from optinc_pdk.spec.scenario import load_scenario
    from optinc_pdk.training.construct import constructed_weights

    if output is not None:
        check_output_file(output, "--output", (".npz",))
    s = load_scenario(scenario)
    weights, report = constructed_weights(s)
    target = output or shipped_weights_path(s)
    save_npz(target, weights, weights.provenance)
    if as_json:
        print_json({**report, "weights": str(target)})
        return
    console.print(f"{s.name}: constructed, accuracy {100 * report['accuracy']:.5f}% ({report['correct']} / "
                  f"{report['samples']}), max block unitarity error {report['max_block_unitarity_error']:.1e}; "
                  f"weights written to {target}")


# -- optinc import-weights --------------------------------------------------------------------------

def import_cmd(
    source: Path = typer.Argument(..., help="torch state_dict (.pt/.pth, loaded weights_only) or .safetensors"),
    scenario: str = typer.Argument(..., help="scenario the weights belong to"),
    output: Path = typer.Option(..., "-o", "--output", help="weights .npz to write (a .json provenance goes beside it)"),
) -> None:
    """Convert a torch state_dict or safetensors file into the optinc weights format."""
    from optinc_pdk.cli.output import console
    from optinc_pdk.core.atomic import check_output_file
    from optinc_pdk.core.weights import check_against_scenario, provenance_record, save_npz
    from optinc_pdk.core.weights_import import read_foreign_state
    from optinc_pdk.spec.scenario import load_scenario

    check_output_file(output, "--output", (".npz",))
    s = load_scenario(scenario)
    w = read_foreign_state(source)
    check_against_scenario(w, s)
    save_npz(output, w, provenance_record(s, method="import", imported_from=str(source)))
    console.print(f"{source} -> {output} ({w.n_layers} layers)")
