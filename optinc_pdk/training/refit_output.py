"""`optinc lab refit-output`: the output layer's best weights for the hidden layers it is given.

When the output layer is not approximated, each output is an affine function of the last hidden
layer's features, and "decided correctly" is a pair of linear inequalities per sample: the output
must lie inside its decision interval. So, with the hidden layers fixed, finding the output layer
with the fewest wrong decisions is a linear classification problem, which gradient descent only
approaches. This module solves it as linear programs (scipy's HiGHS), one output at a time:

- minimise the summed violations Σ ξ_i of "inside the interval by ``margin`` levels" (the convex
  relaxation of the number of violations), over a working set of the samples closest to their
  decision thresholds; samples outside the set that end up violated join it, until none does;
- then re-weight each sample by 1/(ξ_i + ε) and solve again (iteratively re-weighted L1), which
  gives up on samples that cannot be saved so that more of the others are;
- keep the candidate (the start included) with the fewest wrong decisions on the whole dataset.

The hidden layers, and with them the block form of every approximated layer, are untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sparse
from scipy.optimize import linprog

from optinc_pdk.core.datasets import Dataset
from optinc_pdk.core.weights import OnnWeights, provenance_record
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import Scenario

REWEIGHT_EPSILON = 0.05  # levels: a violation this large halves a sample's weight in the next round


@dataclass
class OutputRefit:
    weights: OnnWeights
    wrong_before: list[int]  # per output, LSB first
    wrong_after: list[int]
    history: list[dict] = field(default_factory=list)


def decision_interval(data: Dataset, output: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the raw output values decided as the target: (lower, upper), ±inf at the clipped ends."""
    step = float(data.output_step[output])
    top = data.top_codes[output]
    codes = data.codes[:, output].astype(np.float64)
    lower = np.where(codes > 0, (codes - 0.5) * step, -np.inf)
    upper = np.where(codes < top, (codes + 0.5) * step, np.inf)
    return lower, upper


def refit_output_layer(weights: OnnWeights, scenario: Scenario, data: Dataset, *, margin: float = 0.02,
                       working_set: int = 30000, rounds: int = 4, max_additions: int = 10,
                       log: Callable[[str], None] = lambda line: print(line, flush=True)) -> OutputRefit:
    """Each output's row and bias with the fewest wrong decisions found (see the module text)."""
    last = len(weights.weights)
    if last in scenario.approx_layers:
        raise OptincError(f"{scenario.name}: layer {last} (the output layer) is approximated; refit-output only "
                          f"refits a free output layer")
    if data.output_tolerance is not None or len(data.variants()) > 1:
        raise OptincError(f"{scenario.name}: refit-output works on a plain scenario's exact decisions only")
    if not 0 <= margin < 0.5:
        raise OptincError(f"refit-output: margin must lie in [0, 0.5) levels, got {margin}")
    started = time.perf_counter()
    features = weights.hidden(data.inputs(dtype=np.float64))
    matrix = np.array(weights.weights[-1], dtype=np.float64)
    bias = np.array(weights.biases[-1], dtype=np.float64)
    before, after, history = [], [], []
    for output in range(matrix.shape[0]):
        lower, upper = decision_interval(data, output)
        step = float(data.output_step[output])

        def wrong_and_slack(row: np.ndarray, offset: float, lower=lower, upper=upper, step=step) -> tuple[int, np.ndarray]:
            values = features @ row + offset
            slack = np.minimum(values - lower, upper - values) / step
            return int((slack < 0).sum()), slack

        best_wrong, slack = wrong_and_slack(matrix[output], bias[output])
        before.append(best_wrong)
        best = (matrix[output].copy(), bias[output])
        if best_wrong:
            active = np.argsort(slack)[:working_set]
            cost = np.ones(active.size)
            for number in range(rounds):
                for _ in range(max_additions):
                    row, offset, violation = _solve(features[active], lower[active], upper[active],
                                                    margin * step, cost)
                    wrong, slack = wrong_and_slack(row, offset)
                    if wrong < best_wrong:
                        best_wrong, best = wrong, (row, offset)
                    missing = np.setdiff1d(np.flatnonzero(slack < margin), active)
                    if missing.size == 0:
                        break
                    active = np.concatenate([active, missing])
                    violation = np.concatenate([violation, np.full(missing.size, margin * step)])
                    cost = np.concatenate([cost, np.ones(missing.size)])
                history.append({"output": output, "round": number, "wrong": wrong, "working_set": int(active.size),
                                "wall_s": round(time.perf_counter() - started, 1)})
                log(f"[{scenario.name}] output {output} round {number + 1}/{rounds}: {wrong} wrong "
                    f"(start {before[-1]}, best {best_wrong}), working set {active.size}")
                cost = 1.0 / (violation / step + REWEIGHT_EPSILON)
        matrix[output], bias[output] = best
        after.append(best_wrong)
    wall = time.perf_counter() - started
    # the start's record carries on (how its hidden layers were trained); its accuracy no longer holds
    provenance = provenance_record(
        scenario, method="output refit", based_on=weights.provenance, wall_s=wall,
        output_refit={"method": "per-output LP (HiGHS): min Σ violations, cutting planes, iteratively re-weighted",
                      "margin": margin, "rounds": rounds, "wrong_before": before, "wrong_after": after,
                      "history": history, "from_sha256": weights.digest(), "wall_time_s": round(wall, 1)})
    refitted = OnnWeights(tuple(weights.weights[:-1]) + (matrix,), tuple(weights.biases[:-1]) + (bias,),
                          provenance, weights.source)
    return OutputRefit(refitted, before, after, history)


def _solve(features: np.ndarray, lower: np.ndarray, upper: np.ndarray, margin: float,
           cost: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """min Σ cost_i ξ_i  s.t.  lower_i + margin − ξ_i ≤ w·h_i + b ≤ upper_i − margin + ξ_i,  ξ ≥ 0."""
    count, width = features.shape
    rows_up = np.flatnonzero(np.isfinite(upper))
    rows_low = np.flatnonzero(np.isfinite(lower))
    affine = np.hstack([features, np.ones((count, 1))])

    def block(rows: np.ndarray, sign: float) -> sparse.csr_matrix:
        slack = sparse.csr_matrix((-np.ones(rows.size), (np.arange(rows.size), rows)), shape=(rows.size, count))
        return sparse.hstack([sparse.csr_matrix(sign * affine[rows]), slack])

    constraints = sparse.vstack([block(rows_up, 1.0), block(rows_low, -1.0)]).tocsr()
    bounds = np.concatenate([upper[rows_up] - margin, -(lower[rows_low] + margin)])
    objective = np.concatenate([np.zeros(width + 1), cost])
    limits = [(None, None)] * (width + 1) + [(0, None)] * count
    result = linprog(objective, A_ub=constraints, b_ub=bounds, bounds=limits, method="highs")
    if result.status != 0:
        raise OptincError(f"refit-output: the linear program did not solve ({result.message})")
    return result.x[:width], float(result.x[width]), result.x[width + 1:]
