"""`evaluate` on an imperfect network: Table II's error values and which digits are wrong."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_circuit_helpers import tiny_scenario

from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.training.construct import construct
from optinc_pdk.training.evaluate import evaluate


def test_a_shifted_lsb_shows_up_as_error_values_and_per_output_counts():
    scenario = tiny_scenario(servers=3, bits=8, widths=(2, 40, 40, 40, 4), approx=(2,), name="stages")
    exact, data = construct(scenario), exhaustive_dataset(scenario)
    biases = list(exact.biases)
    biases[-1] = biases[-1] + np.array([1.0, 0.0, 0.0, -1.0])  # LSB one level up, MSB one level down
    shifted = dataclasses.replace(exact, biases=tuple(biases))
    report = evaluate(shifted, scenario, data)
    lsb_moved = data.codes[:, 0] < 3  # an LSB at level 3 is clipped back to 3 by the decision
    msb_moved = data.codes[:, 3] > 0
    assert report["wrong_per_output"] == [int(lsb_moved.sum()), 0, 0, int(msb_moved.sum())]
    assert report["correct"] == int((~lsb_moved & ~msb_moved).sum())
    expected = {1.0: lsb_moved & ~msb_moved, 1.0 - 64: lsb_moved & msb_moved, -64.0: ~lsb_moved & msb_moved}
    wrong = data.size - report["correct"]
    assert {row["error"]: row["count"] for row in report["error_values"]} == {
        value: int(mask.sum()) for value, mask in expected.items()}
    assert sum(row["ratio"] for row in report["error_values"]) == pytest.approx(1.0)
    assert report["error_values"][0]["count"] == max(int(mask.sum()) for mask in expected.values())
    assert wrong == sum(int(mask.sum()) for mask in expected.values())
