"""Where a plain scenario's network is still imprecise: per output, how many decisions are wrong and how
many sit beyond the hinge margin; then the LSB error averaged by the position of the exact average v
within the LSB's period (4 levels), one row per grid step of v; then the wrong samples per cell of the two
most significant inputs (one row per value of the top input, one column per value of the one below).

    python weights/in_progress/lsb_profile.py b8n8 weights/in_progress/b8n8-clipped3/b8n8.npz

Errors are what the receiver's decision sees: overshoot beyond the target's extreme level counts zero.
"""

from __future__ import annotations

import sys

import numpy as np

from optinc_pdk.datasets import exhaustive_dataset
from optinc_pdk.scenario import load_scenario
from optinc_pdk.weights import load_for_scenario


def main(name: str, path: str) -> None:
    scenario = load_scenario(name)
    data = exhaustive_dataset(scenario)
    weights = load_for_scenario(scenario, path)
    targets = data.targets(dtype=np.float64)
    error = weights.forward(data.inputs(dtype=np.float64)) - targets
    harmless = ((targets <= 0) & (error < 0)) | ((targets >= data.output_top) & (error > 0))
    error[harmless] = 0.0
    size = np.abs(error)
    margin = scenario.training.margin
    print(f"{name} with {path}: {data.size} samples")
    print("output  wrong  |e|>margin  |e|>0.4")
    for k in range(data.n_outputs):
        print(f"{k:6d} {(size[:, k] >= 0.5).sum():6d} {(size[:, k] > margin).sum():11d} {(size[:, k] > 0.4).sum():8d}")
    v = data.numerators @ (4 ** (np.arange(data.numerators.shape[1]) * data.group)) / data.divisor
    steps = np.rint(np.mod(v, 4.0) * data.divisor).astype(np.int64)
    print("v mod 4  LSB target  mean error  rms error  |e|>margin  wrong")
    for step in range(4 * data.divisor):
        rows = steps == step
        if rows.any():
            e = error[rows, 0]
            print(f"{step / data.divisor:7.3f} {targets[rows, 0][0]:11.0f} {e.mean():+11.3f} {np.sqrt((e**2).mean()):10.3f} "
                  f"{(np.abs(e) > margin).mean():11.3f} {(np.abs(e) >= 0.5).sum():6d}")
    wrong = ~data.correct(weights.forward(data.inputs(dtype=np.float64)))
    radix = int(data.numerators.max()) + 1
    top, below = data.numerators[:, -1], data.numerators[:, -2]
    counts = np.bincount(top[wrong] * radix + below[wrong], minlength=radix * radix).reshape(radix, radix)
    print(f"wrong samples per (x_{data.numerators.shape[1] - 1}, x_{data.numerators.shape[1] - 2}) numerator cell "
          f"(divisor {data.divisor}), rows x_{data.numerators.shape[1] - 1}:")
    for value, row in enumerate(counts):
        print(f"{value:4d} " + " ".join(f"{c:3d}" for c in row))


if __name__ == "__main__":
    main(*sys.argv[1:3])
