"""Seeded random weights in a scenario's shapes, already in block form where the scenario approximates.

For exploring area, layout and simulation before trained weights exist: the optical chain must
reproduce *these* weights' decisions exactly (whatever their accuracy), which is the invariant
the simulator checks.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.core.weights import OnnWeights, provenance_record
from optinc_pdk.decompose.blockform import block_approximation
from optinc_pdk.spec.scenario import Scenario


def random_weights(scenario: Scenario, seed: int = 0) -> OnnWeights:
    rng = np.random.default_rng(seed)
    approx = set(scenario.approx_layers)
    weights, biases = [], []
    for index, (out_dim, in_dim) in enumerate(scenario.layer_shapes(), start=1):
        weight = rng.normal(size=(out_dim, in_dim)) * np.sqrt(2.0 / in_dim)  # He scaling keeps activations O(1)
        if index in approx:
            weight = block_approximation(weight)
        weights.append(weight)
        biases.append(rng.normal(size=out_dim) * 0.5)
    # no environment fields: the record is a function of (scenario, seed), as the weights are
    provenance = provenance_record(scenario, method="random", environment=False, random_seed=seed)
    return OnnWeights(tuple(weights), tuple(biases), provenance, f"random(seed={seed})")
