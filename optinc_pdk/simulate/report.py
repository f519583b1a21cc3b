"""`optinc simulate`: per-layer transfer-matrix errors and end-to-end accuracy of the optical chain.

Per layer, the optical matrix (computed from the phases through every tree, mesh and attenuator)
divided by the layer's matrix gain A_l is compared with its target (W_l, or the block projection
of W_l for an approximated layer): relative error ‖T/A_l − target‖_F / ‖target‖_F. The bias stage
is checked the same way (injected field / α_l against b_l, relative to max |b_l|), and both must be
within LAYER_TOLERANCE: a wrong bias attenuator fails the per-layer check even where no decision
of the dataset happens to change. End to end, every sample of the
exhaustive dataset is sent as server digits, and the digits decided at every server's receivers
are compared with the dataset's targets and with the trained MLP's own decisions
(OnnWeights.forward in float64): optical accuracy must equal the trained model's.
"""

from __future__ import annotations

import time

import numpy as np

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.weights import OnnWeights
from optinc_pdk.simulate.chain import OpticalChain, compile_chain, group_sums_to_digits
from optinc_pdk.spec.scenario import Scenario

LAYER_TOLERANCE = 1e-9


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else float(np.linalg.norm(a - b))


def _bias_relative(injected: np.ndarray, bias: np.ndarray) -> float:
    """max |injected − b| / max |b| (absolute for a bias-free layer, whose injected light must be zero)."""
    error = float(np.abs(injected - bias).max(initial=0.0))
    largest = float(np.abs(bias).max(initial=0.0))
    return error / largest if largest > 0 else error


def tolerance_summary(rows: list[dict]) -> dict:
    """The worst matrix and bias errors of ``layer_errors`` rows, and whether both are within LAYER_TOLERANCE."""
    matrix = max(row["relative_error"] for row in rows)
    bias = max(row["bias_relative_error"] for row in rows)
    return {"max_layer_relative_error": matrix, "max_bias_relative_error": bias, "layer_tolerance": LAYER_TOLERANCE,
            "layers_within_tolerance": max(matrix, bias) <= LAYER_TOLERANCE}


def layer_errors(chain: OpticalChain, weights: OnnWeights | None = None) -> list[dict]:
    rows = []
    for info, matrix, bias in zip(chain.description.layers, chain.layer_matrices, chain.layer_biases):
        realised = matrix.matrix / info.matrix_gain
        injected = bias.offset / info.output_gain
        rows.append({
            "layer": info.index,
            "shape": [info.out_dim, info.in_dim],
            "mapping": "blocks" if info.approximated else "svd",
            "orientation": info.orientation,
            "blocks": info.blocks,
            "scale": info.scale,
            "matrix_gain": info.matrix_gain,
            "relative_error": _relative(realised, info.target),
            "max_abs_error": float(np.abs(realised - info.target).max()),
            "max_imag": float(np.abs(realised.imag).max()),
            "bias_error": float(np.abs(injected - info.bias).max(initial=0.0)),
            "bias_relative_error": _bias_relative(injected, info.bias),
            "bias_source": info.bias_source,
        })
        if weights is not None and info.approximated:
            # how far the trained W is from the block form the optics realise (0 for shipped weights up to rounding)
            rows[-1]["projection_residual"] = float(np.abs(weights.weights[info.index - 1] - info.target).max())
    return rows


def end_to_end(chain: OpticalChain, weights: OnnWeights, scenario: Scenario) -> dict:
    data = exhaustive_dataset(scenario)
    d = chain.description
    digits = group_sums_to_digits(data.numerators, d.servers, d.group)
    decided, diagnostics = chain.decide(digits)
    model = data.decide(weights.forward(data.inputs(dtype=np.float64)))  # (K, D) codes
    per_sample = np.all(decided == data.codes[None], axis=(0, 2))
    model_ok = np.all(model == data.codes, axis=1)
    disagree = np.any(decided != model[None], axis=(0, 2))
    return {
        "samples": data.size,
        "servers": d.servers,
        "optical_correct": int(per_sample.sum()),
        "optical_accuracy": float(per_sample.mean()),
        "model_accuracy": float(model_ok.mean()),
        "decisions_differing_from_model": int(disagree.sum()),
        "max_imag_level": diagnostics["max_imag_level"],
    }


def simulate_description(description: CircuitDescription, weights: OnnWeights, scenario: Scenario) -> dict:
    start = time.perf_counter()
    chain = compile_chain(description)
    compiled = time.perf_counter()
    layers = layer_errors(chain, weights)
    result = end_to_end(chain, weights, scenario)
    done = time.perf_counter()
    tolerance = tolerance_summary(layers)
    equals_model = result["decisions_differing_from_model"] == 0
    return {
        "scenario": scenario.name,
        "weights": description.weights_source,
        "weights_sha256": description.weights_digest,
        "layers": layers,
        **tolerance,
        "receiver_gain": description.receiver_gain,
        **result,
        "optical_equals_model": equals_model,
        "verified": tolerance["layers_within_tolerance"] and equals_model,
        "seconds": {"compile": compiled - start, "end_to_end": done - compiled},
    }


def simulate_scenario(scenario: Scenario, weights: OnnWeights, mesh: str = "clements") -> dict:
    start = time.perf_counter()
    description = build_description(scenario, weights, mesh)
    built = time.perf_counter() - start
    report = simulate_description(description, weights, scenario)
    report["seconds"] = {"build": built, **report["seconds"]}
    return report
