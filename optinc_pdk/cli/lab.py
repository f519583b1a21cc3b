"""`optinc lab`: research tools for the last wrong decisions of a trained network (docs/training.md).

`optinc lab refine`, `optinc lab revive` and `optinc lab refit-output` were tried on b8n8's last
errors; they stay usable, but they are not steps of the user's flow (train or construct, evaluate,
build), so they live in their own group instead of the main verb list.
"""

from __future__ import annotations

from pathlib import Path

import typer

LAB_HELP = ("Research tools (not needed to train or build): refine, revive and refit-output work on a trained "
            "network's last wrong decisions (docs/training.md).")


def register(app: typer.Typer) -> None:
    lab = typer.Typer(name="lab", help=LAB_HELP, no_args_is_help=True)
    lab.command("refine")(refine_cmd)
    lab.command("revive")(revive_cmd)
    lab.command("refit-output")(refit_output_cmd)
    app.add_typer(lab, name="lab")


def refine_cmd(
    scenario: str = typer.Argument(..., help="scenario name or .yml file"),
    weights: Path = typer.Option(..., help="weights .npz to refine (e.g. a run's projected.npz or best.npz)"),
    output: Path = typer.Option(..., "-o", "--output", help="refined weights .npz (rewritten after every better round)"),
    level: int | None = typer.Option(None, help="cascade level 1 (level 2 trains with `optinc train`)"),
    rounds: int = typer.Option(20, min=1, help="L-BFGS rounds; the weights are evaluated after each"),
    iterations: int = typer.Option(10, min=1, help="L-BFGS iterations per round"),
    threads: int | None = typer.Option(None, help="torch CPU threads"),
    double: bool = typer.Option(False, "--double", help="float64 throughout (about 3x slower on the CPU)"),
) -> None:
    """Full-batch L-BFGS on block-form weights (blocks stay exactly diag×orthogonal) to remove the last errors."""
    from optinc_pdk.cli.output import console
    from optinc_pdk.core.weights import check_against_scenario, load_npz, save_npz
    from optinc_pdk.errors import OptincError
    from optinc_pdk.spec.scenario import load_scenario
    from optinc_pdk.training.refine import refine

    _weights_output(output)
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


def revive_cmd(
    scenario: str = typer.Argument(..., help="scenario name or .yml file (a plain OptINC)"),
    weights: Path = typer.Option(..., help="weights .npz whose dead units to revive"),
    output: Path = typer.Option(..., "-o", "--output", help="weights .npz with the dead units re-aimed"),
    scale: float = typer.Option(1e-4, help="a revived unit's largest output, as a share of the layer's live units' median"),
    layers: str | None = typer.Option(None, help="comma-separated 1-based hidden layers (default: all)"),
    seed: int = typer.Option(0, help="seed of the thresholds (and of free layers' directions)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-aim hidden units that are dead on the whole dataset so training can use them again (docs/training.md)."""
    from optinc_pdk.cli.output import console, print_json
    from optinc_pdk.core.datasets import exhaustive_dataset
    from optinc_pdk.core.weights import load_for_scenario, provenance_record, save_npz
    from optinc_pdk.training.revive import revive_dead_units
    from optinc_pdk.training.trainer import decision_accuracy

    _weights_output(output)
    s = _plain_scenario(scenario, "revive")
    chosen = _layer_list(layers)
    start = load_for_scenario(s, weights)
    data = exhaustive_dataset(s)
    result = revive_dead_units(start, s, data, scale=scale, layers=chosen, seed=seed)
    before, after = decision_accuracy(start, data), decision_accuracy(result.weights, data)
    save_npz(output, result.weights, provenance_record(s, method="revival", accuracy=after, data=data,
                                                       based_on=result.weights.provenance,
                                                       accuracy_before_revival=before))
    report = {"weights": str(weights), "output": str(output), "dead_before": result.dead_before,
              "revived": result.revived, "accuracy_before": before, "accuracy_after": after}
    if as_json:
        print_json(report)
        return
    console.print(f"{s.name}: revived {sum(result.revived.values())} of {sum(result.dead_before.values())} dead units "
                  f"(per layer {result.revived}); accuracy {100 * before:.4f}% -> {100 * after:.4f}%; "
                  f"weights written to {output}")


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
    from optinc_pdk.core.datasets import exhaustive_dataset
    from optinc_pdk.core.weights import load_for_scenario, provenance_record, save_npz
    from optinc_pdk.training.refit_output import refit_output_layer
    from optinc_pdk.training.trainer import decision_accuracy

    _weights_output(output)
    s = _plain_scenario(scenario, "refit-output")
    start = load_for_scenario(s, weights)
    data = exhaustive_dataset(s)

    def log(line: str) -> None:
        if not as_json:
            console.print(line, markup=False)  # "[b8n8] …" is not rich markup

    result = refit_output_layer(start, s, data, margin=margin, rounds=rounds, log=log)
    before, after = decision_accuracy(start, data), decision_accuracy(result.weights, data)
    save_npz(output, result.weights, provenance_record(s, method="output refit", accuracy=after, data=data,
                                                       based_on=result.weights.provenance,
                                                       accuracy_before_refit=before))
    report = {"weights": str(weights), "output": str(output), "accuracy_before": before, "accuracy_after": after,
              "wrong_per_output_before": result.wrong_before, "wrong_per_output_after": result.wrong_after}
    if as_json:
        print_json(report)
        return
    console.print(f"{s.name}: output layer refitted, wrong decisions per output {result.wrong_before} -> "
                  f"{result.wrong_after}, accuracy {100 * before:.4f}% -> {100 * after:.4f}%; "
                  f"weights written to {output}")


def _weights_output(output: Path) -> None:
    """-o must name a .npz in a writable place: refused in one line before any work."""
    from optinc_pdk.core.atomic import check_output_file

    check_output_file(output, "--output", (".npz",))


def _plain_scenario(name: str, verb: str):
    """The scenario, refused if it is a cascade (these tools work on one plain OptINC's weights)."""
    from optinc_pdk.errors import OptincError
    from optinc_pdk.spec.scenario import load_scenario

    s = load_scenario(name)
    if s.cascade is not None:
        raise OptincError(f"{s.name}: {verb} works on a plain scenario's weights")
    return s


def _layer_list(layers: str | None) -> list[int] | None:
    from optinc_pdk.errors import OptincError

    if not layers:
        return None
    try:
        return [int(part) for part in layers.split(",")]
    except ValueError:
        raise OptincError(f"--layers: comma-separated layer numbers, got {layers!r}") from None
