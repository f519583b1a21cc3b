"""Probe (not part of the package): sequential linear programming on the parameters that keep the block form.

    PYTHONPATH=. python weights/in_progress/slp_probe.py b8n8 W.npz OUT.npz \
        [--working 0.08] [--trust 0.01] [--margin 0.01] [--first-layer 5] [--move-cost 1.0] [--iterations 20]

`optinc refit-output` solves the output layer exactly because the outputs are linear in it. This probe
asks whether the same works one step further in: linearise every output in the parameters that can
move without leaving the block form (each layer's bias, each approximated block's d, the free layers'
whole weights), from 0-based layer ``--first-layer`` on, and solve

    min Σ ξ_r + move-cost · Σ |Δθ_p| / scale_p
    s.t. each working row r (sample, output) keeps ``margin`` levels inside its decision interval
         to first order, up to ξ_r ≥ 0;  |Δθ_p| ≤ trust · scale_p

(scale_p: the rms of the parameter's group). Working rows are those within ``--working`` levels of a
threshold plus a fixed guard of 3 000 random samples (every output); rows that a trial step pushes
inside the band join. A step (or its half) is kept only if the whole dataset then has fewer wrong
decisions; otherwise the trust region shrinks. docs/training.md ("Dead units and the output layer")
records what it found on b8n8.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sparse
from scipy.optimize import linprog

from optinc_pdk.blockform import block_factors
from optinc_pdk.datasets import exhaustive_dataset
from optinc_pdk.scenario import load_scenario
from optinc_pdk.training.refit_output import decision_interval
from optinc_pdk.weights import OnnWeights, load_for_scenario, save_npz


class BlockParameters:
    """The network as (bias, d or W) per layer; the block layers' Û stay fixed."""

    def __init__(self, weights: OnnWeights, approx_layers: list[int]):
        self.layers = []
        for number, (w, b) in enumerate(zip(weights.weights, weights.biases), start=1):
            if number in approx_layers:
                layout, d, unitary = block_factors(w)
                self.layers.append({"layout": layout, "d": d.copy(), "U": np.real(unitary), "b": b.copy()})
            else:
                self.layers.append({"W": w.copy(), "b": b.copy()})

    @staticmethod
    def _key(layer: dict) -> str:
        return "W" if "W" in layer else "d"

    def weight(self, layer: dict) -> np.ndarray:
        return layer["W"] if "W" in layer else layer["layout"].join(layer["d"][:, :, None] * layer["U"])

    def onn(self, provenance: dict) -> OnnWeights:
        return OnnWeights(tuple(self.weight(layer) for layer in self.layers),
                          tuple(layer["b"] for layer in self.layers), provenance)

    def vector(self) -> np.ndarray:
        return np.concatenate([np.concatenate([layer["b"].ravel(), layer[self._key(layer)].ravel()])
                               for layer in self.layers])

    def groups(self) -> np.ndarray:
        """Per parameter: 2·layer for a bias, 2·layer + 1 for d or W (0-based layers)."""
        return np.concatenate([np.concatenate([np.full(layer["b"].size, 2 * index),
                                               np.full(layer[self._key(layer)].size, 2 * index + 1)])
                               for index, layer in enumerate(self.layers)])

    def assign(self, theta: np.ndarray) -> None:
        at = 0
        for layer in self.layers:
            for key in ("b", self._key(layer)):
                size = layer[key].size
                layer[key] = theta[at:at + size].reshape(layer[key].shape).copy()
                at += size

    def jacobian(self, x: np.ndarray, outputs: np.ndarray) -> np.ndarray:
        """d output[r] / d θ for each row r = (x[r], outputs[r]), in vector() order."""
        weights = [self.weight(layer) for layer in self.layers]
        last = len(weights) - 1
        inputs, pre = [x], []
        for index, (w, layer) in enumerate(zip(weights, self.layers)):
            z = inputs[-1] @ w.T + layer["b"]
            pre.append(z)
            inputs.append(np.maximum(z, 0.0) if index < last else z)
        rows = len(x)
        grad = np.zeros((rows, weights[-1].shape[0]))
        grad[np.arange(rows), outputs] = 1.0
        columns = [None] * len(weights)
        for index in range(last, -1, -1):
            layer, h = self.layers[index], inputs[index]
            if "W" in layer:
                own = (grad[:, :, None] * h[:, None, :]).reshape(rows, -1)
            else:
                layout, unitary = layer["layout"], layer["U"]
                nb, k = layout.n_blocks, layout.k
                if layout.orientation == "wide":
                    padded = np.zeros((rows, nb * k))
                    padded[:, :layout.in_dim] = h
                    projected = np.einsum("nbj,brj->nbr", padded.reshape(rows, nb, k), unitary)
                    own = (grad[:, None, :] * projected).reshape(rows, -1)
                else:
                    projected = h @ unitary.reshape(nb * k, k).T
                    padded = np.zeros((rows, nb * k))
                    padded[:, :layout.out_dim] = grad
                    own = padded * projected
            columns[index] = np.hstack([grad, own])
            if index:
                grad = (grad @ weights[index]) * (pre[index - 1] > 0)
        return np.hstack(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("weights")
    parser.add_argument("output")
    parser.add_argument("--working", type=float, default=0.08)
    parser.add_argument("--trust", type=float, default=0.01)
    parser.add_argument("--margin", type=float, default=0.01)
    parser.add_argument("--first-layer", type=int, default=5)
    parser.add_argument("--move-cost", type=float, default=1.0)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()

    scenario = load_scenario(args.scenario)
    start = load_for_scenario(scenario, args.weights)
    data = exhaustive_dataset(scenario)
    x = data.inputs(dtype=np.float64)
    intervals = [decision_interval(data, o) for o in range(data.n_outputs)]
    lows = np.stack([low for low, _ in intervals], axis=1)  # (samples, outputs)
    highs = np.stack([high for _, high in intervals], axis=1)
    steps = data.output_step.astype(np.float64)
    net = BlockParameters(start, scenario.approx_layers)
    theta, groups = net.vector(), net.groups()
    scale = np.zeros_like(theta)
    for group in np.unique(groups):
        scale[groups == group] = np.sqrt(np.mean(theta[groups == group] ** 2)) + 1e-12
    free = groups >= 2 * args.first_layer

    def slack() -> tuple[np.ndarray, np.ndarray]:
        y = net.onn({}).forward(x)
        return y, np.minimum(y - lows, highs - y) / steps

    y, margins = slack()
    best = int((margins.min(axis=1) < 0).sum())
    print(f"free parameters {free.sum()} of {theta.size}; start: {best} wrong", flush=True)
    working = set(zip(*np.nonzero(margins < args.working)))
    guard = np.random.default_rng(0).choice(len(x), 3000, replace=False)
    working |= {(int(i), o) for i in guard for o in range(data.n_outputs)}
    trust = args.trust
    for iteration in range(args.iterations):
        began = time.perf_counter()
        pairs = np.array(sorted(working))
        samples, outputs = pairs[:, 0], pairs[:, 1]
        jac = net.jacobian(x[samples], outputs)[:, free]
        low, high = lows[samples, outputs], highs[samples, outputs]
        value, step = y[samples, outputs], steps[outputs]
        upper = (high - value) < (value - low)  # the threshold this row is closest to
        sign = np.where(upper, 1.0, -1.0)
        room = np.where(upper, high - value, value - low) / step
        a = (sign / step)[:, None] * jac
        rows, cols = a.shape
        width = trust * scale[free]
        constraints = sparse.hstack([sparse.csr_matrix(a), sparse.csr_matrix(-a),
                                     -sparse.identity(rows, format="csr")]).tocsr()
        cost = np.concatenate([args.move_cost / scale[free], args.move_cost / scale[free], np.ones(rows)])
        bounds = [(0, w) for w in width] * 2 + [(0, None)] * rows
        result = linprog(cost, A_ub=constraints, b_ub=room - args.margin, bounds=bounds, method="highs")
        move = np.zeros_like(theta)
        move[free] = result.x[:cols] - result.x[cols:2 * cols]
        predicted = int((result.x[2 * cols:] > args.margin + 1e-9).sum())
        print(f"iteration {iteration}: {rows} rows, predicted {predicted} wrong working rows, "
              f"{time.perf_counter() - began:.0f} s", flush=True)
        kept = False
        for fraction in (1.0, 0.5):
            net.assign(theta + fraction * move)
            trial_y, trial = slack()
            wrong = int((trial.min(axis=1) < 0).sum())
            working |= set(zip(*np.nonzero(trial < args.working)))
            print(f"  step × {fraction}: {wrong} wrong, per output {(trial < 0).sum(axis=0).tolist()}", flush=True)
            if wrong < best:
                theta, y, margins, best, kept = theta + fraction * move, trial_y, trial, wrong, True
                break
        net.assign(theta)
        if kept:
            record = {**start.provenance, "slp_probe": {**vars(args), "iterations": iteration + 1, "wrong": best}}
            save_npz(args.output, net.onn(record), record)
        else:
            trust *= 0.7
        print(f"  best {best} wrong, trust {trust:.4g}", flush=True)


if __name__ == "__main__":
    main()
