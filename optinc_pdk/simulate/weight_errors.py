"""Sampled chips' errors seen as errors of the ONN's weights and biases (noise-aware training, docs/yield.md).

A chip's fused real segments (:func:`optinc_pdk.simulate.fused.chip_segments`) are the ONN's layers
up to positive scales of the activations (ReLU is positively homogeneous): segment l realises
S_l = c_l·W_l between hidden layers, S_0 = W_0·C with C the averager (server digits → the ONN's
inputs, including the activation scale), and S_L = R·W_L with R the broadcast to every server's
receivers (with the receiver gain); each offset is its layer's bias times its activation scale.
Given an imperfect chip's segments S_l + ΔS_l, the same maps give the weight and bias errors ΔW_l,
Δb_l in the ONN's own units, so a trainer can put the fabricated chips' errors in its loop without
knowing optics. The maps come from the ideal chip and are checked to reproduce the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.core.weights import OnnWeights
from optinc_pdk.errors import OptincError
from optinc_pdk.simulate.fused import Segment, chip_segments
from optinc_pdk.simulate.nonideal import ErrorModel, ErrorSites
from optinc_pdk.simulate.yield_ import CHIP_BATCH

MAP_TOLERANCE = 1e-6  # relative: the ideal chip's segments must give back the weights this closely


@dataclass(frozen=True)
class LayerMap:
    """How one segment relates to its layer: S = left·W·right, offset = bias_scale·(left·b)."""

    left: np.ndarray | None  # (segment rows, layer rows) or None for the identity
    right: np.ndarray  # (layer cols, segment cols); a scalar multiple of the identity between hidden layers
    bias_scale: float

    def __post_init__(self) -> None:  # the inverses, once: every sampled chip uses them
        object.__setattr__(self, "left_inverse", None if self.left is None else np.linalg.pinv(self.left))
        object.__setattr__(self, "right_inverse", np.linalg.pinv(self.right))

    def weight_error(self, delta: np.ndarray) -> np.ndarray:
        rows = delta if self.left is None else self.left_inverse @ delta
        return rows @ self.right_inverse

    def bias_error(self, delta: np.ndarray) -> np.ndarray:
        rows = delta if self.left is None else self.left_inverse @ delta
        return rows / self.bias_scale


def layer_maps(segments: list[Segment], weights: OnnWeights) -> list[LayerMap]:
    """The map of every segment to its layer, from the ideal chip (float64 segments)."""
    if len(segments) != weights.n_layers:
        raise OptincError(f"weight errors: {len(segments)} fused segments for {weights.n_layers} layers")
    maps = []
    for index, (segment, w, b) in enumerate(zip(segments, weights.weights, weights.biases)):
        s = segment.weight.astype(np.float64)
        left = None
        if s.shape[0] != w.shape[0]:  # the last layer: every server's receivers, a copy each
            left = s @ np.linalg.pinv(w)
            s = np.linalg.pinv(left) @ s
        right = np.linalg.pinv(w) @ s if s.shape[1] != w.shape[1] else np.eye(w.shape[1]) * _scale(s, w)
        offset = segment.offset.astype(np.float64)
        rows = offset if left is None else np.linalg.pinv(left) @ offset
        layer_map = LayerMap(left, right, _scale(rows, b) if np.any(b) else 1.0)
        _check_map(layer_map, segment, w, b, index)
        maps.append(layer_map)
    return maps


def _scale(scaled: np.ndarray, plain: np.ndarray) -> float:
    return float(np.vdot(plain, scaled) / np.vdot(plain, plain))


def _check_map(layer_map: LayerMap, segment: Segment, w: np.ndarray, b: np.ndarray, index: int) -> None:
    left = np.eye(w.shape[0]) if layer_map.left is None else layer_map.left
    rebuilt = left @ w @ layer_map.right
    error = np.abs(rebuilt - segment.weight).max() / max(np.abs(segment.weight).max(), 1e-300)
    bias_error = np.abs(layer_map.bias_scale * (left @ b) - segment.offset).max() / max(np.abs(segment.offset).max(), 1e-300)
    if max(error, bias_error) > MAP_TOLERANCE:
        raise OptincError(f"weight errors: layer {index + 1}'s segment is not a scaled copy of its weights "
                          f"(relative error {max(error, bias_error):.2g}); the map needs a plain averager → layers → broadcast "
                          "chain")


@dataclass(frozen=True)
class WeightErrors:
    """Per layer, the weight and bias errors of C sampled chips: (C, out, in) and (C, out), float32."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]

    @property
    def chips(self) -> int:
        return self.weights[0].shape[0]


def sample_weight_errors(description: CircuitDescription, weights: OnnWeights, model: ErrorModel, seed: int,
                         chips: int, first_chip: int = 0) -> WeightErrors:
    """ΔW, Δb of chips ``first_chip …`` of ``seed`` under ``model`` (the chips ``optinc yield`` samples)."""
    ideal = chip_segments(description, dtype=np.float64)
    maps = layer_maps(ideal, weights)
    sites = ErrorSites(description)
    dw = [np.empty((chips, *w.shape), dtype=np.float32) for w in weights.weights]
    db = [np.empty((chips, b.size), dtype=np.float32) for b in weights.biases]
    numbers = np.arange(first_chip, first_chip + chips)
    for start in range(0, chips, CHIP_BATCH):
        batch = numbers[start : start + CHIP_BATCH]
        leaves = sites.leaf_matrices(model, sites.draw(seed, batch))
        for j in range(batch.size):
            segments = chip_segments(description, {name: m[j] for name, m in leaves.items()}, np.float64)
            for layer, (chip, clean, layer_map) in enumerate(zip(segments, ideal, maps)):
                dw[layer][start + j] = layer_map.weight_error(chip.weight - clean.weight)
                db[layer][start + j] = layer_map.bias_error(chip.offset - clean.offset)
    return WeightErrors(tuple(dw), tuple(db))
