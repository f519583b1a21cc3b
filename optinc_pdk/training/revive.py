"""Give dead ReLU units back to training, without changing what the network computes.

A hidden unit whose pre-activation is ≤ 0 on every sample of the exhaustive dataset outputs 0
everywhere, so it gets no gradient and never comes back: its whole row and column are wasted
capacity. Long b8n8 runs end with most units dead (380 of layer 4's 512), while the last errors
need sharper kinks than the live units give.

Revival re-aims each dead unit so that it is live on the data's edge: its row gets the median
length of the layer's live rows, and its bias puts the kink just inside the samples that reach
furthest along the row, so that its largest output is ``scale`` times the median largest output of
the layer's live units. The network's outputs move by that much times the network's gain, the unit
is live again (on few samples, but Adam's steps do not shrink with the gradient), and training
decides what to make of it. The row keeps a normal length on purpose: a short row's direction is
lost when a block is projected onto diag×unitary (its polar factor is ill-conditioned there), and a
b8n8 run from tiny revived rows fell from 99.82% to 94.0% at that projection.

In an approximated layer the revived row is its blocks' unitary rows (each signed like its d, all
scaled alike): on exact block-form weights that keeps a tall layer's row direction and scales its
d, an exact block-form layer stays exact, and a layer only near the form (as during pretraining,
where a dead row's own direction is not held) gets rows that its projection keeps. In a free layer the row keeps its
direction, or takes a random one if it has length zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optinc_pdk.core.datasets import Dataset
from optinc_pdk.core.weights import OnnWeights, provenance_record
from optinc_pdk.decompose.blockform import block_factors
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import Scenario

TINY_ROW = 1e-12


@dataclass(frozen=True)
class Revival:
    weights: OnnWeights
    revived: dict[int, int]  # 1-based layer number -> units revived
    dead_before: dict[int, int]  # 1-based layer number -> units dead on the whole dataset


def revive_dead_units(weights: OnnWeights, scenario: Scenario, data: Dataset, *, scale: float = 1e-4, seed: int = 0,
                      layers: list[int] | None = None) -> Revival:
    """``weights`` with every dead hidden unit of ``layers`` (1-based; default every hidden layer)
    re-aimed (see the module text); layers in order, so a unit revived in one layer is seen live by
    the next one's statistics."""
    if not 0 < scale < 1:
        raise OptincError(f"revive: scale must lie in (0, 1), got {scale}")
    hidden_layers = list(range(1, len(weights.weights)))
    chosen = hidden_layers if layers is None else sorted(set(layers))
    if any(number not in hidden_layers for number in chosen):
        raise OptincError(f"revive: layers must be hidden layers {hidden_layers[0]}…{hidden_layers[-1]}, got {layers}")
    rng = np.random.default_rng(seed)
    approximated = set(scenario.approx_layers)
    matrices = [np.array(w, dtype=np.float64) for w in weights.weights]
    biases = [np.array(b, dtype=np.float64) for b in weights.biases]
    inputs = data.inputs(dtype=np.float64)
    revived: dict[int, int] = {}
    dead_before: dict[int, int] = {}
    hidden = inputs
    for index in range(len(matrices) - 1):
        number = index + 1
        pre = hidden @ matrices[index].T + biases[index]
        dead = np.flatnonzero(pre.max(axis=0) <= 0)
        dead_before[number] = int(dead.size)
        live = np.setdiff1d(np.arange(pre.shape[1]), dead)
        if dead.size and live.size and number in chosen:
            directions = _directions(matrices[index], dead, number in approximated, rng)
            length = float(np.median(np.linalg.norm(matrices[index][live], axis=1)))
            target = scale * float(np.median(pre[:, live].max(axis=0)))
            reach = (hidden @ directions.T).max(axis=0)  # per unit: furthest sample along its row
            matrices[index][dead] = length * directions
            biases[index][dead] = target - length * reach  # largest pre-activation: exactly target
            revived[number] = int(dead.size)
            pre = hidden @ matrices[index].T + biases[index]
        hidden = np.maximum(pre, 0.0)
    # the start's record carries on (how it was trained); its accuracy no longer holds and is left out
    provenance = provenance_record(scenario, method="revival", based_on=weights.provenance,
                                   revived={"scale": scale, "seed": seed, "layers": chosen,
                                            "dead_before": {str(k): v for k, v in dead_before.items()},
                                            "revived_units": {str(k): v for k, v in revived.items()},
                                            "from_sha256": weights.digest()})
    result = OnnWeights(tuple(matrices), tuple(biases), provenance, weights.source)
    return Revival(result, revived, dead_before)


def _directions(matrix: np.ndarray, rows: np.ndarray, block_form: bool, rng: np.random.Generator) -> np.ndarray:
    """Unit-length incoming directions for ``rows``. In a block-form layer: the rows of its blocks' unitary
    factors (signed like d), so a revived row is exactly in block form even when the layer is only near
    it, as during pretraining, where a dead row's own direction is not held; elsewhere the row's own
    direction, or a random one for a row of length zero."""
    if block_form:
        layout, d, unitary = block_factors(matrix)
        signed = layout.join(np.where(d < 0, -1.0, 1.0)[:, :, None] * unitary)[rows]
        return signed / np.linalg.norm(signed, axis=1)[:, None]
    out = matrix[rows].copy()
    norms = np.linalg.norm(out, axis=1)
    empty = norms < TINY_ROW
    if empty.any():
        out[empty] = rng.standard_normal((int(empty.sum()), matrix.shape[1]))
        norms = np.linalg.norm(out, axis=1)
    return out / norms[:, None]
