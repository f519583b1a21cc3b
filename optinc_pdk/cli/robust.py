"""`optinc robust`: fine-tune trained weights for yield — wider margins, or fabricated chips' errors in the loop.

docs/yield.md, "Raising the yield". The result is a weights .npz like any other: `optinc yield
SCENARIO --weights OUT.npz` measures it on the same chips as the plain design.
"""

from __future__ import annotations

from pathlib import Path

import typer

METHODS = ("margin", "noise-aware")
BANK_SEED = 1_000_003  # training chips come from seeds far from the chips `optinc yield` samples (seed 0, 1, …)
HELD_OUT_SEED = 2_000_003


def register(app: typer.Typer) -> None:
    @app.command("robust")
    def robust_cmd(
        scenario: str = typer.Argument(..., help="scenario name or .yml file (a plain OptINC with trained weights)"),
        output: Path = typer.Option(..., "-o", "--output", help="fine-tuned weights .npz"),
        method: str = typer.Option("noise-aware", "--method", metavar="|".join(METHODS), help=(
            "margin: push every raw output further from its thresholds; noise-aware: also train through sampled "
            "chips' errors")),
        weights: Path | None = typer.Option(None, "--weights", help="starting weights .npz (default: the shipped ones)"),
        sigma_phase: float = typer.Option(0.001, "--sigma-phase", help="noise-aware: σ of the chips' phase errors, rad"),
        dac_bits: int = typer.Option(0, "--dac-bits", help="noise-aware: phase DAC bits over 2π (0: continuous)"),
        sigma_split: float = typer.Option(0.0, "--sigma-split", help="noise-aware: σ of each coupler's power ratio"),
        margin: float = typer.Option(0.3, "--margin", min=0.0, max=0.49, help=(
            "hinge band in levels: an output further than this from its level is punished (0.3: the training's)")),
        rounds: int = typer.Option(8, "--rounds", min=1, help="full-batch L-BFGS rounds (a fresh bank of chips each)"),
        iterations: int = typer.Option(10, "--iterations", min=1, help="L-BFGS iterations per round"),
        chips: int = typer.Option(8, "--chips", min=1, help="noise-aware: chips per round's bank"),
        held_out: int = typer.Option(16, "--held-out", min=1, help="noise-aware: held-out chips that pick the best round"),
        seed: int = typer.Option(0, "--seed", min=0, help="seed of the training and held-out chips"),
        threads: int | None = typer.Option(None, "--threads", min=1, help="torch CPU threads"),
    ) -> None:
        """Fine-tune trained weights so that more fabricated chips decide every input right (docs/yield.md)."""
        from optinc_pdk.cli.output import console
        from optinc_pdk.core.atomic import check_output_file
        from optinc_pdk.errors import OptincError

        if method not in METHODS:
            raise OptincError(f"--method: {method!r} is not one of {', '.join(METHODS)}")
        check_output_file(output, "--output", (".npz",))
        if threads:
            import torch

            torch.set_num_threads(threads)
        result, record = _run(scenario, weights, method, sigma_phase, dac_bits, sigma_split, margin, rounds, iterations,
                              chips, held_out, seed)
        from optinc_pdk.core.weights import save_npz

        save_npz(output, result.weights, record)
        last = result.history[-1]
        console.print(f"{record['scenario']}: {method} fine-tuning, {len(result.history) - 1} rounds "
                      f"({last.get('wall_s', 0):.0f} s); kept accuracy {record['accuracy']:.6f}; weights written to {output}")


def _run(scenario, weights, method, sigma_phase, dac_bits, sigma_split, margin, rounds, iterations, chips, held_out,
         seed):
    from optinc_pdk.circuit.builder import build_description
    from optinc_pdk.core.weights import load_for_scenario
    from optinc_pdk.errors import OptincError
    from optinc_pdk.simulate.nonideal import ErrorModel
    from optinc_pdk.simulate.weight_errors import sample_weight_errors
    from optinc_pdk.spec.scenario import load_scenario
    from optinc_pdk.training.robust import RobustOptions, robust_finetune, robust_provenance

    s = load_scenario(scenario)
    if s.cascade is not None:
        raise OptincError(f"{s.name}: robust fine-tuning works on a plain OptINC's weights")
    start = load_for_scenario(s, weights)
    model = ErrorModel(sigma_phase=sigma_phase, dac_bits=dac_bits, sigma_split=sigma_split)
    options = RobustOptions(rounds=rounds, iterations=iterations, margin=margin)

    def bank(w, round_number: int, first: int = 0, count: int = chips, base: int = BANK_SEED):
        description = build_description(s, w)
        errors = sample_weight_errors(description, w, model, base + seed, count, first_chip=round_number * count)
        return list(errors.weights), list(errors.biases)

    noisy = method == "noise-aware"
    result = robust_finetune(
        s, start, options, errors=bank if noisy else None,
        held_out=(lambda w: bank(w, 0, count=held_out, base=HELD_OUT_SEED)) if noisy else None)
    record = robust_provenance(s, start, result, options, f"{method} fine-tuning",
                               model.to_dict() if noisy else None)
    return result, record
