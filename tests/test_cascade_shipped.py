"""The shipped cascade16 weights: both levels at 100% on their datasets, level 1 inside the link
tolerance, and the whole cascade's optics exact on a stratified sample (skipped until level 2 ships)."""

from __future__ import annotations

import numpy as np
import pytest

from optinc_pdk.circuit.cascade import build_cascade_description
from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.weights import load_for_scenario, shipped_weights_path
from optinc_pdk.simulate.allreduce import allreduce, compare
from optinc_pdk.simulate.cascade import end_to_end, link_check
from optinc_pdk.simulate.chain import compile_chain
from optinc_pdk.spec.scenario import load_scenario
from optinc_pdk.training.evaluate import evaluate


@pytest.fixture(scope="module")
def shipped():
    s = load_scenario("cascade16")
    if not shipped_weights_path(s, 2).is_file():
        pytest.skip("weights/cascade16/level2.npz not trained yet")
    w1, w2 = load_for_scenario(s, level=1), load_for_scenario(s, level=2)
    return s, w1, w2, build_cascade_description(s, w1, w2)


def test_both_levels_are_exact_on_their_datasets(shipped):
    s, w1, w2, _ = shipped
    first = evaluate(w1, s, exhaustive_dataset(s, 1))
    assert first["accuracy"] == 1.0
    # level 1's training target; the few outliers are in the error table level 2 trained against
    assert first["within_link_tolerance"] >= 0.98 * first["samples"]
    assert evaluate(w2, s, exhaustive_dataset(s, 2))["accuracy"] == 1.0
    assert w2.provenance["trained_against_level1"]["sha256"] == w1.digest()


def test_level1_optics_decide_every_input_and_match_the_weights_link_errors(shipped):
    s, w1, _, d = shipped
    link = link_check(compile_chain(d.level1), s)
    assert link["all_decided_correctly"]
    data = exhaustive_dataset(s, 1)
    model = np.abs(w1.forward(data.inputs(dtype=np.float64)) - data.targets(dtype=np.float64)).max(axis=0)
    assert np.allclose(link["max_abs_error"], model, atol=1e-9)


def test_cascade_optics_give_the_exact_floor_average(shipped):
    """Every level-1 input once at every group position (the CLI default is 4 times)."""
    _, w1, w2, d = shipped
    chain = compile_chain(d)
    result = end_to_end(chain, w1, w2, samples=28561, seed=7)
    assert result["optical_accuracy"] == 1.0 and result["decisions_differing_from_model"] == 0
    gradients = np.random.default_rng(8).integers(0, 256, (16, 2000))
    assert compare(allreduce(chain, gradients), gradients).mismatched_values == 0
