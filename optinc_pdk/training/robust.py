"""Fine-tuning for yield: wider decision margins, and fabricated chips' errors in the loop (issue 29, 4b/4c).

Both start from trained weights and keep every approximated layer exactly block diag×orthogonal
(diag(d)·U0·expm(A − Aᵀ), as :mod:`optinc_pdk.training.refine`), so the result decomposes like
any other design. The loss is the trainer's stage-2 loss with its decision-margin hinge
(:func:`optinc_pdk.training.loss.two_stage_loss`):

* **margin** (``errors=None``): on the exact network, with a smaller hinge band, so that every raw
  output moves further from its decision thresholds;
* **noise-aware** (``errors`` given): also on the network with sampled chips' weight and bias
  errors added — each minibatch is split into groups, each group through another chip. The errors
  are those of the real circuit (phase errors, DAC, couplers … of
  :mod:`optinc_pdk.simulate.nonideal`, mapped to the weights by
  :mod:`optinc_pdk.simulate.weight_errors`); they depend on the decomposition of the current
  weights, so ``errors`` is asked for a fresh bank of chips every round.

This module does not import the simulator: the caller passes ``errors(weights, round) →
(ΔW per layer (C, out, in), Δb per layer (C, out))``. The kept result is the round with the best
score on held-out chips among those whose exact network still decides every input right.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch

from optinc_pdk.core.datasets import Dataset, exhaustive_dataset
from optinc_pdk.core.weights import OnnWeights, provenance_record
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import Scenario
from optinc_pdk.training.loss import DecisionGrid, two_stage_loss
from optinc_pdk.training.recipe import recipe_for
from optinc_pdk.training.refine import block_model
from optinc_pdk.training.trainer import decision_accuracy, enforce

ErrorBank = tuple[list[np.ndarray], list[np.ndarray]]  # ΔW (C, out, in) and Δb (C, out) per layer


@dataclass(frozen=True)
class RobustOptions:
    rounds: int = 8  # L-BFGS rounds; each gets a fresh bank of chips (noise-aware)
    iterations: int = 10  # L-BFGS iterations per round
    margin: float = 0.3  # hinge band in levels: outputs further than this from their level are punished
    exact_weight: float = 10.0  # weight of the exact network's hinge: the design must stay exact while it hardens
    chunk: int = 8192  # inputs per forward pass (the gradient is accumulated over chunks)


@dataclass
class RobustResult:
    weights: OnnWeights
    history: list[dict] = field(default_factory=list)


def chip_scores(weights: OnnWeights, data: Dataset, bank: ErrorBank, inputs: np.ndarray) -> np.ndarray:
    """Per chip of the bank: the share of inputs whose every output is decided right (float64, numpy)."""
    dw, db = bank
    scores = []
    for chip in range(dw[0].shape[0]):
        noisy = weights.plus([d[chip] for d in dw], [d[chip] for d in db])
        scores.append(data.correct(noisy.forward(inputs), slice(0, data.size)).mean())
    return np.asarray(scores)


def _noisy_forward(model, x: torch.Tensor, dw: list[torch.Tensor], db: list[torch.Tensor]) -> torch.Tensor:
    """x: (B, in), dw[l]: (C, out, in): every input through every chip → (C, B, out)."""
    last = len(model.layers) - 1
    h = x.expand(dw[0].shape[0], *x.shape)
    for index, layer in enumerate(model.layers):
        weight = layer.weight + dw[index]
        h = torch.baddbmm((layer.bias + db[index])[:, None, :], h, weight.transpose(1, 2))
        if index < last:
            h = torch.relu(h)
    return h


def robust_finetune(scenario: Scenario, start: OnnWeights, options: RobustOptions,
                    errors: Callable[[OnnWeights, int], ErrorBank] | None = None,
                    held_out: Callable[[OnnWeights], ErrorBank] | None = None,
                    log: Callable[[str], None] = lambda line: print(line, flush=True)) -> RobustResult:
    """Full-batch L-BFGS rounds on the hinge of the exact network (+ the bank's chips); the best round is kept."""
    data = exhaustive_dataset(scenario)
    if data.input_noise is not None or data.size > 2_000_000:
        raise OptincError(f"{scenario.name}: robust fine-tuning needs an exact dataset of at most 2 000 000 inputs")
    model = block_model(scenario, start).to(torch.float32)
    grid = DecisionGrid.of(data, recipe_for(scenario), torch.float32)
    ones = torch.ones(data.n_outputs)
    chunks = [slice(i, i + options.chunk) for i in range(0, data.size, options.chunk)]
    xs = [torch.as_tensor(data.inputs(c, dtype=np.float32)) for c in chunks]
    ys = [torch.as_tensor(data.targets(c, dtype=np.float32)) for c in chunks]
    inputs64 = data.inputs(slice(0, data.size), dtype=np.float64)

    def hinge(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return two_stage_loss(out, y, grid.step, ones, 2, options.margin, None, grid.top, grid.hinge, 0.0)

    started = time.perf_counter()
    check = held_out(start) if held_out is not None else None
    best, best_score = start, _score(start, data, check, inputs64)
    history = [{"round": 0, "exact_accuracy": decision_accuracy(start, data), **best_score}]
    log(f"[{scenario.name}] start: {history[0]}")
    for number in range(1, options.rounds + 1):
        bank = None
        if errors is not None:
            bank = [[torch.as_tensor(a) for a in part] for part in errors(enforce(model, scenario), number)]
        optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=options.iterations, history_size=20,
                                      line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-15)

        objective = partial(_objective, optimizer, model, xs, ys, bank, hinge, options.exact_weight, data.size)
        optimizer.step(objective)
        weights = enforce(model, scenario)
        entry = {"round": number, "objective": float(objective()), "exact_accuracy": decision_accuracy(weights, data),
                 **_score(weights, data, check, inputs64), "wall_s": time.perf_counter() - started}
        history.append(entry)
        log(f"[{scenario.name}] round {number}/{options.rounds}: {entry}")
        if entry["exact_accuracy"] == 1.0 and _better(entry, best_score):
            best, best_score = weights, {k: entry[k] for k in best_score}
    return RobustResult(best, history)


def _objective(optimizer, model, xs, ys, bank, hinge, exact_weight: float, size: int) -> torch.Tensor:
    """The full-batch loss (gradient accumulated chunk by chunk): exact hinge, weighted, + the bank's mean hinge."""
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for x, y in zip(xs, ys):
        loss = hinge(model(x), y)
        if bank is not None:
            noisy = _noisy_forward(model, x, *bank)
            loss = exact_weight * loss + hinge(noisy.reshape(-1, y.shape[1]), y.repeat(noisy.shape[0], 1))
        loss = loss * (len(x) / size)
        loss.backward()
        total += loss.item()
    return torch.tensor(total, dtype=torch.float64)


def _score(weights: OnnWeights, data: Dataset, bank: ErrorBank | None, inputs: np.ndarray) -> dict:
    """Held-out chips' yield and mean accuracy (noise-aware), else the design's smallest margin."""
    if bank is not None:
        scores = chip_scores(weights, data, bank, inputs)
        return {"held_out_yield": float(np.mean(scores == 1.0)), "held_out_accuracy": float(scores.mean())}
    out = weights.forward(inputs)
    targets = data.targets(slice(0, data.size), dtype=np.float64)
    error = out - targets
    # beyond the lowest or highest level, where that level is the target, the receiver's clipping decides right
    harmless = ((targets <= 0) & (error < 0)) | ((targets >= data.output_top) & (error > 0))
    distance = np.where(harmless, 0.0, np.abs(error)) / data.output_step
    return {"worst_distance": float(distance.max()), "p99_distance": float(np.percentile(distance, 99))}


def _better(entry: dict, best: dict) -> bool:
    if "held_out_yield" in best:
        return (entry["held_out_yield"], entry["held_out_accuracy"]) > (best["held_out_yield"], best["held_out_accuracy"])
    return entry["worst_distance"] < best["worst_distance"]


def robust_provenance(scenario: Scenario, start: OnnWeights, result: RobustResult, options: RobustOptions,
                      method: str, error_model: dict | None) -> dict:
    data = exhaustive_dataset(scenario)
    return provenance_record(
        scenario, None, method=method, accuracy=decision_accuracy(result.weights, data), data=data,
        wall_s=result.history[-1].get("wall_s", 0.0), torch_used=True,
        refined={"method": f"{method}: Adam on blocks diag(d)·U0·expm(A−Aᵀ), stage-2 loss with hinge band "
                           f"{options.margin} levels", "options": options.__dict__, "error_model": error_model,
                 "history": result.history},
        initialised_from={"source": start.source, "sha256": start.digest(), "record": start.provenance}, device="cpu")
