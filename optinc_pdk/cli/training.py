"""`optinc train`, `optinc evaluate`, `optinc import-weights`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

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

    def __enter__(self) -> "TrainingBar":
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
    from optinc_pdk.weights import load_npz, shipped_weights_path

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
    @app.command("train")
    def train_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file"),
        level: Optional[int] = typer.Option(None, help="cascade level (1 or 2) for cascade scenarios"),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="weights .npz (default: weights/NAME.npz, "
                                              "unless that holds more accurate weights: then the run folder)"),
        run_dir: Optional[Path] = typer.Option(None, help="checkpoint folder (default: runs/NAME[-levelL])"),
        resume: bool = typer.Option(False, "--resume", help="continue from the checkpoint in the run folder"),
        device: str = typer.Option("cpu", help="cpu or cuda"),
        epochs: Optional[int] = typer.Option(None, help="pretraining epoch budget (default from the scenario)"),
        approx_epochs: Optional[int] = typer.Option(None, help="hardware-aware epoch budget"),
        batch_size: Optional[int] = typer.Option(None),
        threads: Optional[int] = typer.Option(None, help="torch CPU threads"),
        eval_every: int = typer.Option(5, help="evaluate the whole dataset every N epochs"),
        init: Optional[Path] = typer.Option(None, help="start from these weights (.npz): in block form, no pretraining (unless --continue-pretraining)"),
        continue_pretraining: bool = typer.Option(
            False, "--continue-pretraining", help="with --init: first keep training the plain layers (stage-2 loss, "
            "coupling penalty at full weight) for --epochs, then switch to the block form"),
        lr: Optional[float] = typer.Option(None, help="pretraining peak learning rate (default from the scenario)"),
        level1_weights: Optional[Path] = typer.Option(None, help="cascade --level 2: the level-1 weights whose analog "
                                                      "output errors level 2 must absorb (default: the shipped ones)"),
        export: bool = typer.Option(False, "--export", help="train nothing: write the run folder's checkpoint "
                                    "as weights (-o, block form enforced) to evaluate or --init from"),
        time_limit: Optional[float] = typer.Option(None, "--time-limit", help="seconds: stop at the first epoch "
                                                   "boundary after this, checkpoint, and write the weights reached "
                                                   "(a batch job's or a lent GPU's slot); --resume continues exactly"),
    ) -> None:
        """Train the scenario's ONN (hardware-aware) on its exhaustive dataset and write the weights."""
        from optinc_pdk.cli.output import console
        from optinc_pdk.errors import OptincError
        from optinc_pdk.paths import runs_dir
        from optinc_pdk.scenario import load_scenario
        from optinc_pdk.training.trainer import TrainRequest, train
        from optinc_pdk.weights import save_npz

        s = load_scenario(scenario)
        if s.cascade is not None and level not in (1, 2):
            raise OptincError(f"{s.name}: a cascade trains one level at a time: add --level 1 or --level 2")
        if device not in ("cpu", "cuda"):
            raise OptincError(f"--device: must be cpu or cuda (got {device})")
        suffix = f"-level{level}" if level else ""
        run = run_dir or runs_dir() / f"{s.name}{suffix}"
        if export:
            from optinc_pdk.training.trainer import checkpoint_weights

            if output is None:
                raise OptincError("--export: give the weights file to write with -o")
            w = checkpoint_weights(s, level, run)
            save_npz(output, w, w.provenance)
            console.print(f"{run}: {w.provenance['phase']} epoch {w.provenance['epochs']} written to {output}")
            return
        start = None
        if init is not None:
            from optinc_pdk.weights import check_against_scenario, load_npz

            start = load_npz(init)
            check_against_scenario(start, s)
        level1 = None
        if s.cascade is not None and level == 2:  # level 2 learns to absorb the shipped level 1's analog errors
            from optinc_pdk.weights import load_for_scenario

            level1 = load_for_scenario(s, level1_weights, 1)
        with TrainingBar(console, f"{s.name}{suffix}") as bar:
            result = train(TrainRequest(s, level, device, run, resume, epochs, approx_epochs, batch_size, eval_every,
                                        threads=threads, init=start, continue_pretraining=continue_pretraining, lr=lr,
                                        level1=level1, log=bar.log, progress=bar.update, time_limit_s=time_limit))
        target = output or _default_target(s, level, run, result.weights.provenance["accuracy"], console)
        save_npz(target, result.weights, result.weights.provenance)
        stopped = result.weights.provenance.get("stopped")
        status = "" if stopped is None else f", stopped by the time limit in {stopped['phase']} (--resume continues)"
        console.print(f"{s.name}{suffix}: accuracy {result.accuracy:.6f} after {result.epochs_run} epochs "
                      f"({result.wall_s:.0f} s{status}); weights written to {target}")

    @app.command("evaluate")
    def evaluate_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file"),
        weights: Optional[Path] = typer.Option(None, help="weights .npz (default: the shipped weights)"),
        level: Optional[int] = typer.Option(None, help="cascade level (1 or 2)"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Accuracy on the whole exhaustive dataset, error values (Table II format), block-form check."""
        from optinc_pdk.cli.output import console, print_json, table
        from optinc_pdk.datasets import exhaustive_dataset
        from optinc_pdk.errors import OptincError
        from optinc_pdk.scenario import load_scenario
        from optinc_pdk.training.evaluate import evaluate
        from optinc_pdk.weights import load_for_scenario

        s = load_scenario(scenario)
        levels = [level] if level else ([1, 2] if s.cascade else [None])
        if s.cascade is None and level is not None:
            raise OptincError(f"--level: {s.name} is not a cascade")
        reports = []
        for lv in levels:
            w = load_for_scenario(s, weights if len(levels) == 1 else None, lv)
            report = evaluate(w, s, exhaustive_dataset(s, lv))
            report["weights"] = w.source
            report["level"] = lv
            reports.append(report)
        if as_json:
            print_json(reports[0] if len(reports) == 1 else reports)
            return
        for r in reports:
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

    @app.command("refine")
    def refine_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file"),
        weights: Path = typer.Option(..., help="weights .npz to refine (e.g. a run's projected.npz or best.npz)"),
        output: Path = typer.Option(..., "-o", "--output", help="refined weights .npz (rewritten after every better round)"),
        level: Optional[int] = typer.Option(None, help="cascade level 1 (level 2 trains with `optinc train`)"),
        rounds: int = typer.Option(20, min=1, help="L-BFGS rounds; the weights are evaluated after each"),
        iterations: int = typer.Option(10, min=1, help="L-BFGS iterations per round"),
        threads: Optional[int] = typer.Option(None, help="torch CPU threads"),
        double: bool = typer.Option(False, "--double", help="float64 throughout (about 3x slower on the CPU)"),
    ) -> None:
        """Full-batch L-BFGS on block-form weights (blocks stay exactly diag×orthogonal) to remove the last errors."""
        from optinc_pdk.cli.output import console
        from optinc_pdk.errors import OptincError
        from optinc_pdk.scenario import load_scenario
        from optinc_pdk.training.refine import refine
        from optinc_pdk.weights import check_against_scenario, load_npz, save_npz

        s = load_scenario(scenario)
        if (s.cascade is not None) != (level is not None):
            raise OptincError(f"--level: give it for a cascade (1), never for a plain scenario ({s.name})")
        start = load_npz(weights)
        check_against_scenario(start, s)
        if threads:
            import torch

            torch.set_num_threads(threads)
        result = refine(s, start, level=level, rounds=rounds, iterations_per_round=iterations, output=output,
                        double=double)
        save_npz(output, result.weights, result.weights.provenance)  # the best round (or the start) with its full history
        console.print(f"{s.name}: refined accuracy {result.accuracy:.6f} after {len(result.history) - 1} rounds "
                      f"({result.history[-1]['wall_s']:.0f} s); weights written to {output}")

    @app.command("revive")
    def revive_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file (a plain OptINC)"),
        weights: Path = typer.Option(..., help="weights .npz whose dead units to revive"),
        output: Path = typer.Option(..., "-o", "--output", help="weights .npz with the dead units re-aimed"),
        scale: float = typer.Option(1e-4, help="a revived unit's largest output, as a share of the layer's live units' median"),
        layers: Optional[str] = typer.Option(None, help="comma-separated 1-based hidden layers (default: all)"),
        seed: int = typer.Option(0, help="seed of the thresholds (and of free layers' directions)"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Re-aim hidden units that are dead on the whole dataset so training can use them again (docs/training.md)."""
        from optinc_pdk.cli.output import console, print_json
        from optinc_pdk.datasets import exhaustive_dataset
        from optinc_pdk.errors import OptincError
        from optinc_pdk.scenario import load_scenario
        from optinc_pdk.training.revive import revive_dead_units
        from optinc_pdk.training.trainer import decision_accuracy
        from optinc_pdk.weights import load_for_scenario, save_npz

        s = load_scenario(scenario)
        if s.cascade is not None:
            raise OptincError(f"{s.name}: revive works on a plain scenario's weights")
        chosen = None
        if layers:
            try:
                chosen = [int(part) for part in layers.split(",")]
            except ValueError:
                raise OptincError(f"--layers: comma-separated layer numbers, got {layers!r}") from None
        start = load_for_scenario(s, weights)
        data = exhaustive_dataset(s)
        result = revive_dead_units(start, s, data, scale=scale, layers=chosen, seed=seed)
        before, after = decision_accuracy(start, data), decision_accuracy(result.weights, data)
        provenance = {**result.weights.provenance, "accuracy": after, "accuracy_before_revival": before}
        save_npz(output, result.weights, provenance)
        report = {"weights": str(weights), "output": str(output), "dead_before": result.dead_before,
                  "revived": result.revived, "accuracy_before": before, "accuracy_after": after}
        if as_json:
            print_json(report)
            return
        console.print(f"{s.name}: revived {sum(result.revived.values())} of {sum(result.dead_before.values())} dead units "
                      f"(per layer {result.revived}); accuracy {100 * before:.4f}% -> {100 * after:.4f}%; "
                      f"weights written to {output}")

    @app.command("refit-output")
    def refit_output_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file (a plain OptINC, output layer not approximated)"),
        weights: Path = typer.Option(..., help="weights .npz whose output layer to refit"),
        output: Path = typer.Option(..., "-o", "--output", help="weights .npz with the refitted output layer"),
        margin: float = typer.Option(0.02, help="levels inside the decision interval the LP aims for"),
        rounds: int = typer.Option(4, min=1, help="re-weighted LP rounds per output"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """The output layer with the fewest wrong decisions for the given hidden layers (linear programs)."""
        from optinc_pdk.cli.output import console, print_json
        from optinc_pdk.datasets import exhaustive_dataset
        from optinc_pdk.errors import OptincError
        from optinc_pdk.scenario import load_scenario
        from optinc_pdk.training.refit_output import refit_output_layer
        from optinc_pdk.training.trainer import decision_accuracy
        from optinc_pdk.weights import load_for_scenario, save_npz

        s = load_scenario(scenario)
        if s.cascade is not None:
            raise OptincError(f"{s.name}: refit-output works on a plain scenario's weights")
        start = load_for_scenario(s, weights)
        data = exhaustive_dataset(s)
        def log(line: str) -> None:
            if not as_json:
                console.print(line, markup=False)  # "[b8n8] …" is not rich markup

        result = refit_output_layer(start, s, data, margin=margin, rounds=rounds, log=log)
        before, after = decision_accuracy(start, data), decision_accuracy(result.weights, data)
        provenance = {**result.weights.provenance, "accuracy": after, "accuracy_before_refit": before}
        save_npz(output, result.weights, provenance)
        report = {"weights": str(weights), "output": str(output), "accuracy_before": before, "accuracy_after": after,
                  "wrong_per_output_before": result.wrong_before, "wrong_per_output_after": result.wrong_after}
        if as_json:
            print_json(report)
            return
        console.print(f"{s.name}: output layer refitted, wrong decisions per output {result.wrong_before} -> "
                      f"{result.wrong_after}, accuracy {100 * before:.4f}% -> {100 * after:.4f}%; "
                      f"weights written to {output}")

    @app.command("construct")
    def construct_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file (a plain OptINC)"),
        output: Optional[Path] = typer.Option(None, "-o", "--output", help="weights .npz (default: weights/NAME.npz)"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Exact weights by construction (docs/construction.md), evaluated on the whole exhaustive dataset."""
        from optinc_pdk.cli.output import console, print_json
        from optinc_pdk.scenario import load_scenario
        from optinc_pdk.training.construct import constructed_weights
        from optinc_pdk.weights import save_npz, shipped_weights_path

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

    @app.command("import-weights")
    def import_cmd(
        source: Path = typer.Argument(..., help="torch state_dict (.pt/.pth, loaded weights_only) or .safetensors"),
        scenario: str = typer.Argument(..., help="scenario the weights belong to"),
        output: Path = typer.Option(..., "-o", "--output", help="weights .npz to write (a .json provenance goes beside it)"),
    ) -> None:
        """Convert a torch state_dict or safetensors file into the optinc weights format."""
        from optinc_pdk.cli.output import console
        from optinc_pdk.scenario import load_scenario
        from optinc_pdk.weights import check_against_scenario, save_npz
        from optinc_pdk.weights_import import read_foreign_state

        s = load_scenario(scenario)
        w = read_foreign_state(source)
        check_against_scenario(w, s)
        save_npz(output, w, {"scenario": s.name, "imported_from": str(source), "approx_layers": s.approx_layers})
        console.print(f"{source} -> {output} ({w.n_layers} layers)")
