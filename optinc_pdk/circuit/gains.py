"""Amplitude bookkeeping: every passive loss is a known positive factor folded into one receiver gain.

Fields are linear in PAM4 levels: a server sends digit d as field amplitude d (the same units as
the bias light). Passive optics only attenuates, and every factor below is a positive real, so
with ReLU(c·z) = c·ReLU(z) for c > 0 the chain computes the trained MLP up to one positive scale.

Write α_l for the field per unit of the true activation after layer l (the signal at that point
is α_l·h_l, h_0 = x the averager output in level units).

* Averager (input j): digit t of group j of every server passes an attenuator of amplitude
  4^(t−G+1) (none for t = G−1), then an (N·G)→1 combiner tree gives every leaf 1/√(NG). So the
  output is Σ_i Σ_t 4^(t−G+1) d_{i,jG+t} / √(NG) = α_0·x_j with
      α_0 = N / (4^(G−1)·√(N·G)).
* Layer l (target W_l, bias b_l): the decomposition realises W_l / s_l with |σ|, |d| ≤ 1; a tall or
  wide block layer adds its fan-out or summing trees, 1/√nb (nb blocks; 1 for a full or square
  layer). So the matrix output is A_l·α_{l−1}·W_l h_{l−1} with A_l = 1/(s_l·√nb).
* Bias: the signal enters the upper input of a 50:50 combiner (factor 1/√2), the bias the lower:
  source P_l → 1→out splitter tree (1/√out) → attenuator a_r (|a_r| ≤ 1, sign by φ) → combiner
  (1/√2). For the output to be α_l·(W_l h + b_l) we need
      α_l = α_{l−1}·A_l/√2,   P_l·a_r/√(2·out) = α_l·b_r,
  and we choose P_l = √(2·out)·α_l·max|b_l| so the largest |a_r| is exactly 1 (P_l = 0 and all
  a_r = 0 for a bias-free layer).
* ReLU after every hidden layer keeps the scale (α_l > 0).
* Splitter array: each of the D outputs is split to N servers, 1/√N each, so a server receives
  α_L·o/√N and its receiver multiplies by the gain g = √N / α_L before deciding to a level.
"""

from __future__ import annotations

import math

import numpy as np


def averager_gain(servers: int, group: int) -> float:
    """α_0: averager output field per unit of x_j."""
    return servers / (4.0 ** (group - 1) * math.sqrt(servers * group))


def tree_gain(leaves: int) -> float:
    """Field a ratio-weighted tree of ``leaves`` leaves passes between its trunk and any leaf."""
    return 1.0 / math.sqrt(leaves)


MERGE_GAIN = tree_gain(2)  # a 50:50 combiner, for the signal and for the bias


def matrix_gain(scale: float, blocks: int) -> float:
    """A_l: the optical matrix is A_l times the layer's target matrix."""
    return tree_gain(blocks) / scale


def bias_light(output_gain: float, bias: np.ndarray) -> tuple[float, np.ndarray]:
    """(source amplitude P_l, attenuator amplitudes a_r) that inject α_l·b_r into every neuron."""
    bias = np.asarray(bias, dtype=np.float64)
    largest = float(np.abs(bias).max(initial=0.0))
    if largest == 0.0:
        return 0.0, np.zeros_like(bias)
    source = math.sqrt(2.0 * bias.size) * output_gain * largest
    return source, bias / largest


def receiver_gain(servers: int, output_gain: float) -> float:
    return math.sqrt(servers) / output_gain
