"""Accuracy on the whole exhaustive dataset, Table II-style error values, and the block-form check."""

from __future__ import annotations

from collections import Counter

import numpy as np

from optinc_pdk.core.datasets import Dataset
from optinc_pdk.core.weights import OnnWeights
from optinc_pdk.decompose.blockform import block_form_error
from optinc_pdk.spec.scenario import Scenario


def evaluate(weights: OnnWeights, scenario: Scenario, data: Dataset, batch: int = 65536) -> dict:
    wrong = inside = 0
    worst = np.zeros(data.n_outputs)
    wrong_per_output = np.zeros(data.n_outputs, dtype=np.int64)
    errors: Counter[float] = Counter()
    for start in range(0, data.size, batch):
        window = slice(start, start + batch)
        out = weights.forward(data.inputs(window, dtype=np.float64))
        inside += int(data.within_tolerance(out, window).sum())
        worst = np.maximum(worst, np.abs(out - data.targets(window, dtype=np.float64)).max(axis=0, initial=0.0))
        decided = data.decide(out) * data.output_step
        target = data.targets(window, dtype=np.float64)
        missed = ~np.isclose(decided, target)
        wrong_per_output += missed.sum(axis=0)
        bad = missed.any(axis=1)
        if bad.any():
            wrong += int(bad.sum())
            # error of the averaged gradient the servers reconstruct (Table II's "error values")
            delta = data.gradient_values(decided[bad]) - data.gradient_values(target[bad])
            errors.update(np.round(delta, 6).tolist())
    total_errors = sum(errors.values())
    table = [
        {"error": value, "count": count, "ratio": count / total_errors}
        for value, count in sorted(errors.items(), key=lambda item: (-item[1], abs(item[0])))
    ]
    blocks = {}
    for number in scenario.approx_layers:
        blocks[str(number)] = block_form_error(weights.weights[number - 1])
    link = {}
    if data.output_tolerance is not None:  # cascade level 1: raw outputs feed level 2 unquantised
        link = {"link_tolerance": data.output_tolerance.tolist(), "within_link_tolerance": inside,
                "link_ok": inside == data.size}
    return {
        "scenario": scenario.name,
        "dataset": data.name,
        "samples": data.size,
        "correct": data.size - wrong,
        "accuracy": (data.size - wrong) / data.size,
        "error_values": table,
        "wrong_per_output": wrong_per_output.tolist(),  # LSB first: which digits the wrong samples miss
        "approximated_layers": blocks,
        "max_block_unitarity_error": max((b["unitarity_error"] for b in blocks.values()), default=0.0),
        "max_block_projection_residual": max((b["projection_residual"] for b in blocks.values()), default=0.0),
        "max_abs_output_error": worst.tolist(),
        **link,
    }
