"""`optinc lab refine`: full-batch L-BFGS on block-form weights, to close the last errors.

Minibatch Adam reaches a noise floor: on b8n8 its loss rises whenever the rate is large enough to
move, and falls only as the one-cycle schedule anneals (98.6% after three cycles). The last
errors are a few thousand samples just across a decision boundary; a deterministic full-batch
quasi-Newton method might push them back without the stochastic kick. It does on small networks
(the tiny test scenario: 27% → 100% in 3 s); on b8n8 it stalls (docs/training.md, "b8n8 so far").

The approximated layers are parametrised so that they are *always* exactly block
diag×orthogonal: block b is diag(d_b)·U0_b·expm(A_b − A_bᵀ), with U0 the starting Û (fixed) and
A starting at 0. No retraction interrupts L-BFGS's curvature history, and the exported weights
need no projection beyond float64 round-off. The loss is the trainer's stage-2 loss (eq. 7 with
the decision-margin hinge) over the whole exhaustive dataset, accumulated in chunks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from optinc_pdk.core.datasets import Dataset, exhaustive_dataset
from optinc_pdk.core.weights import OnnWeights, provenance_record, save_npz
from optinc_pdk.decompose.blockform import block_factors
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import Scenario
from optinc_pdk.training.loss import DecisionGrid, two_stage_loss
from optinc_pdk.training.model import OnnMLP, join_blocks
from optinc_pdk.training.recipe import TrainingRecipe, checked_recipe, recipe_for
from optinc_pdk.training.trainer import decision_accuracy, enforce, exact_accuracy, load_plain_weights


class ExpOrthogonalBlockLinear(nn.Module):
    """Block layer diag(d)·U0·expm(A − Aᵀ): exactly block diag×orthogonal for every parameter value."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        super().__init__()
        self.part, d, unitary = block_factors(weight)
        self.register_buffer("start", torch.as_tensor(unitary))
        self.d = nn.Parameter(torch.as_tensor(d))
        self.generator = nn.Parameter(torch.zeros_like(self.start))
        self.bias = nn.Parameter(torch.as_tensor(bias))

    @property
    def weight(self) -> torch.Tensor:
        skew = self.generator - self.generator.transpose(1, 2)
        return join_blocks(self.part, self.d[:, :, None] * (self.start @ torch.linalg.matrix_exp(skew)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


@dataclass
class RefineResult:
    weights: OnnWeights
    accuracy: float
    history: list[dict] = field(default_factory=list)


def refine(scenario: Scenario, start: OnnWeights, *, level: int | None = None, rounds: int = 20,
           iterations_per_round: int = 10, chunk: int = 32768, output: Path | None = None,
           double: bool = False, recipe: TrainingRecipe | None = None,
           log: Callable[[str], None] = lambda line: print(line, flush=True)) -> RefineResult:
    """L-BFGS rounds (each ``iterations_per_round`` iterations) until 100% or ``rounds`` are spent.

    After every round the exported weights are evaluated exactly; the best so far is written to
    ``output`` (atomically), so an interrupted refinement loses at most one round and continues by
    refining that file again. float32 by default (a third of float64's time on the CPU); the
    evaluated and written weights are the float64 projection either way. The loss's margin and
    weights come from ``recipe`` (default: the scenario file's, :func:`recipe_for`).
    """
    data = exhaustive_dataset(scenario, level)
    if data.input_noise is not None:
        raise OptincError(f"{scenario.name} level {level}: refine works on exact inputs only; a level 2 that "
                          "absorbs level-1 errors trains with `optinc train`")
    opts = recipe_for(scenario, level) if recipe is None else checked_recipe(recipe, scenario, level)
    dtype = torch.float64 if double else torch.float32
    model = block_model(scenario, start).to(dtype)
    grid = DecisionGrid.of(data, opts, dtype)
    importance = torch.ones(data.n_outputs, dtype=dtype)  # stage 2 does not use it
    chunks = [slice(i, i + chunk) for i in range(0, data.size, chunk)]
    numpy_dtype = np.float64 if double else np.float32
    inputs = [torch.as_tensor(data.inputs(c, dtype=numpy_dtype)) for c in chunks]
    targets = [torch.as_tensor(data.targets(c, dtype=numpy_dtype)) for c in chunks]
    offsets = [grid.offsets(data, c) for c in chunks]
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=iterations_per_round, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-15)

    def full_loss() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for x, y, offset in zip(inputs, targets, offsets):
            loss = two_stage_loss(model(x), y, grid.step, importance, 2, opts.margin, grid.threshold, grid.top,
                                  grid.hinge, opts.fit_weight, offset)
            loss = loss * (len(x) / data.size)
            loss.backward()
            total += loss.item()
        return torch.tensor(total, dtype=torch.float64)

    started = time.perf_counter()
    best_weights = enforce(model, scenario)
    best = exact_accuracy(best_weights, data)
    history = [{"round": 0, "loss": float(full_loss()), "accuracy": best, "wall_s": time.perf_counter() - started}]
    log(f"[{scenario.name}] refine start: loss {history[0]['loss']:.6f} accuracy {best:.6f}")
    for number in range(1, rounds + 1):
        if best == 1.0:
            break
        optimizer.step(full_loss)
        weights = enforce(model, scenario)
        accuracy = exact_accuracy(weights, data)
        loss = float(full_loss())
        history.append({"round": number, "loss": loss, "accuracy": accuracy, "wall_s": time.perf_counter() - started})
        log(f"[{scenario.name}] refine round {number}/{rounds}: loss {loss:.6f} accuracy {accuracy:.6f}")
        if accuracy > best:
            best, best_weights = accuracy, weights
            if output is not None:
                save_npz(output, best_weights, _provenance(scenario, level, start, data, best_weights, best, history))
    result = OnnWeights(best_weights.weights, best_weights.biases,
                        _provenance(scenario, level, start, data, best_weights, best, history))
    return RefineResult(result, best, history)


def block_model(scenario: Scenario, start: OnnWeights) -> OnnMLP:
    model = OnnMLP(scenario.widths).double()
    load_plain_weights(model, start)
    for number in scenario.approx_layers:
        index = number - 1
        model.layers[index] = ExpOrthogonalBlockLinear(start.weights[index], start.biases[index])
    return model


def _provenance(scenario: Scenario, level: int | None, start: OnnWeights, data: Dataset, weights: OnnWeights,
                accepted: float, history: list[dict]) -> dict:
    return provenance_record(
        scenario, level, method="refinement", accuracy=decision_accuracy(weights, data), data=data,
        wall_s=history[-1]["wall_s"], torch_used=True,
        refined={"method": "full-batch L-BFGS (strong Wolfe), blocks as diag(d)·U0·expm(A−Aᵀ)",
                 "rounds": len(history) - 1, "history": history},
        initialised_from={"source": start.source, "sha256": start.digest()},
        accepted=accepted, device="cpu")
