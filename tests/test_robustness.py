"""Raising yield (issue 29, 4a–4c) and the tolerable σ: chips' errors as weight errors, margin and noise-aware
fine-tuning, phase-offset calibration, the tolerable-σ search and its provenance record."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from optinc_pdk.circuit import build_description
from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.weights import load_npz, save_npz
from optinc_pdk.simulate.nonideal import ErrorModel, ErrorSites
from optinc_pdk.simulate.tolerance import tolerable_sigma
from optinc_pdk.simulate.weight_errors import sample_weight_errors
from optinc_pdk.simulate.yield_ import ChipOutcomes, run_yield, simulate_chips, yield_inputs
from optinc_pdk.training.robust import RobustOptions, robust_finetune
from optinc_pdk.training.trainer import decision_accuracy

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def trained_tiny(tmp_path_factory):
    """The training tests' tiny scenario (4-bit, 2 servers, block-form layers), trained to decide every input right."""
    import torch
    import yaml
    from test_training import TINY

    from optinc_pdk.spec.scenario import load_scenario_file
    from optinc_pdk.training.trainer import TrainRequest, train

    torch.set_num_threads(1)
    path = tmp_path_factory.mktemp("robust") / "robusttiny.yml"
    path.write_text(yaml.safe_dump(TINY | {"name": "robusttiny"}))
    scenario = load_scenario_file(path)
    result = train(TrainRequest(scenario, run_dir=path.parent / "run", eval_every=50, log=lambda _: None))
    assert result.accuracy == 1.0
    return scenario, result.weights


@pytest.fixture(scope="module")
def tiny_chip(trained_tiny):
    """(description, exhaustive dataset, every input as yield inputs) of the trained tiny network."""
    scenario, weights = trained_tiny
    description = build_description(scenario, weights)
    data = exhaustive_dataset(scenario)
    return description, data, yield_inputs(description, data, 0, seed=0)


def _chip(weights, errors, k: int):
    return weights.plus([d[k] for d in errors.weights], [d[k] for d in errors.biases])


def test_chips_seen_as_weight_errors_decide_exactly_as_the_chip_simulation(trained_tiny, tiny_chip):
    weights = trained_tiny[1]
    description, data, chosen = tiny_chip
    model = ErrorModel(sigma_phase=0.05, sigma_split=0.01)
    chips = 12
    out = ChipOutcomes.empty(chips, data.n_outputs)
    simulate_chips(description, ErrorSites(description), model, chosen, 3, range(chips), out, dtype=np.float64)
    errors = sample_weight_errors(description, weights, model, 3, chips)
    x = data.inputs(slice(0, data.size), dtype=np.float64)
    through_weights = [int(data.correct(_chip(weights, errors, k).forward(x), slice(0, data.size)).sum())
                       for k in range(chips)]
    np.testing.assert_array_equal(out.correct, through_weights)
    assert min(through_weights) < data.size  # the errors are large enough to cost decisions


def test_margin_fine_tuning_moves_the_worst_output_away_from_its_thresholds(trained_tiny):
    scenario, weights = trained_tiny
    result = robust_finetune(scenario, weights, RobustOptions(rounds=3, margin=0.4), log=lambda line: None)
    start, best = result.history[0], min(result.history[1:], key=lambda h: h["worst_distance"])
    assert decision_accuracy(result.weights, exhaustive_dataset(scenario)) == 1.0
    assert best["worst_distance"] < start["worst_distance"]


def test_noise_aware_fine_tuning_raises_the_held_out_chips_accuracy(trained_tiny):
    scenario, weights = trained_tiny
    model = ErrorModel(sigma_phase=0.006)  # the tiny network keeps ~83 % of its decisions here

    def bank(w, number, count=8, seed=11):
        errors = sample_weight_errors(build_description(scenario, w), w, model, seed, count, first_chip=number * count)
        return list(errors.weights), list(errors.biases)

    result = robust_finetune(scenario, weights, RobustOptions(rounds=3), errors=bank,
                             held_out=lambda w: bank(w, 0, 16, 99), log=lambda line: None)
    start, end = result.history[0], result.history[-1]
    assert end["exact_accuracy"] == 1.0
    assert end["held_out_accuracy"] > start["held_out_accuracy"]
    assert decision_accuracy(result.weights, exhaustive_dataset(scenario)) == 1.0


def test_calibrated_phase_offsets_leave_only_the_residual_and_uncalibrated_ones_act_as_phase_errors(tiny_chip):
    description = tiny_chip[0]
    sites = ErrorSites(description)
    normals = sites.draw(5, [0, 1])
    k, o = sites.n_mzis, sites.n_outputs
    ideal = sites.leaf_matrices(ErrorModel(), normals)
    calibrated = sites.leaf_matrices(ErrorModel(sigma_offset=0.3, calibrate="phases"), normals)
    for name in ideal:
        np.testing.assert_allclose(calibrated[name], ideal[name], atol=1e-12)
    # the heaters' crosstalk too is measured and programmed out; uncalibrated, it stays
    hot = ErrorModel(sigma_offset=0.3, crosstalk=0.05, crosstalk_output=0.1)
    compensated = sites.leaf_matrices(replace(hot, calibrate="phases"), normals)
    uncompensated = sites.leaf_matrices(replace(hot, sigma_offset=0.0), normals)
    for name in ideal:
        np.testing.assert_allclose(compensated[name], ideal[name], atol=1e-9)
    assert max(np.abs(uncompensated[name] - ideal[name]).max() for name in ideal) > 0.01
    # uncalibrated, the offsets are phase errors drawn from the tail of the chip's normals
    swapped = normals.copy()
    swapped[:, : 2 * k] = normals[:, 5 * k + o : 7 * k + o]
    swapped[:, 5 * k : 5 * k + o] = normals[:, 7 * k + o : 7 * k + 2 * o]
    as_offsets = sites.leaf_matrices(ErrorModel(sigma_offset=0.3), normals)
    as_errors = sites.leaf_matrices(ErrorModel(sigma_phase=0.3), swapped)
    for name in ideal:
        np.testing.assert_allclose(as_offsets[name], as_errors[name], atol=1e-12)
        assert np.abs(as_offsets[name] - ideal[name]).max() > 0.01


def test_calibration_of_offsets_with_a_dac_leaves_at_most_half_a_step(tiny_chip):
    description, _, chosen = tiny_chip
    with_offsets = ErrorModel(sigma_offset=0.5, dac_bits=12)
    plain = run_yield(description, chosen, with_offsets, 8, 2)
    calibrated = run_yield(description, chosen, replace(with_offsets, calibrate="phases"), 8, 2)
    assert plain["yield"] < calibrated["yield"] == 1.0


def test_tolerable_sigma_brackets_the_yield_target(tiny_chip):
    description, _, chosen = tiny_chip
    found = tolerable_sigma(description, chosen, ErrorModel(), chips=20, seed=4, low=1e-3, high=1.0, ratio=1.5,
                            dtype=np.float64)
    assert found.sigma is not None and found.rejected is not None and found.rejected / found.sigma <= 1.5
    # checked separately with every chip simulated: ≥ 99 % at the tolerable σ, below it at the rejected σ
    at = run_yield(description, chosen, ErrorModel(sigma_phase=found.sigma), 20, 4, precision="float64")
    above = run_yield(description, chosen, ErrorModel(sigma_phase=found.rejected), 20, 4, precision="float64")
    assert at["yield"] >= 0.99 > above["yield"]
    assert found.manufacturable == (found.sigma >= 0.001)


def test_tolerable_sigma_is_recorded_beside_the_weights_with_their_hash(run_cli, tmp_path):
    shutil.copy("weights/demo.npz", tmp_path / "demo.npz")
    shutil.copy("weights/demo.json", tmp_path / "demo.json")
    before = json.loads((tmp_path / "demo.json").read_text())
    code, out, err = run_cli(["yield", "demo", "--weights", str(tmp_path / "demo.npz"), "--tolerable", "--samples", "20",
                              "--record", "--json"])
    assert code == 0, err
    report = json.loads(out)
    after = json.loads((tmp_path / "demo.json").read_text())
    assert after["tolerance"]["tolerable_sigma_phase"] == report["tolerance"]["tolerable_sigma_phase"]
    assert after["sha256"] == before["sha256"] == load_npz(tmp_path / "demo.npz").digest()
    assert {k: v for k, v in after.items() if k != "tolerance"} == {k: v for k, v in before.items() if k != "tolerance"}
    code, out, err = run_cli(["yield", "demo", "--record"])
    assert code == 2 and "--record" in err and len(err.strip().splitlines()) == 1


def test_robust_cli_refuses_an_unknown_method_in_one_line(run_cli, tmp_path):
    code, out, err = run_cli(["robust", "b8n4", "--method", "magic", "-o", str(tmp_path / "x.npz")])
    assert code == 2 and "--method" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()


def test_saved_robust_weights_carry_their_method(trained_tiny, tmp_path):
    scenario, weights = trained_tiny
    from optinc_pdk.training.robust import robust_provenance

    result = robust_finetune(scenario, weights, RobustOptions(rounds=1, margin=0.4), log=lambda line: None)
    record = robust_provenance(scenario, weights, result, RobustOptions(rounds=1, margin=0.4), "margin fine-tuning", None)
    save_npz(tmp_path / "m.npz", result.weights, record)
    loaded = load_npz(tmp_path / "m.npz")
    assert loaded.provenance["method"] == "margin fine-tuning"
    assert loaded.provenance["initialised_from"]["sha256"] == weights.digest()


def test_fixed_phases_keep_their_offsets_and_refuse_calibration(tiny_chip, run_cli):
    from optinc_pdk.errors import OptincError
    from optinc_pdk.simulate.nonideal import fixed_phase_sigma

    description = tiny_chip[0]
    sites = ErrorSites(description)
    normals = sites.draw(8, [0])
    fixed = sites.leaf_matrices(ErrorModel(sigma_offset=0.02, dac_bits=10, phases="fixed"), normals)
    uncalibrated = sites.leaf_matrices(ErrorModel(sigma_offset=0.02, dac_bits=10), normals)
    for name in fixed:
        np.testing.assert_array_equal(fixed[name], uncalibrated[name])
    with pytest.raises(OptincError, match="--calibrate"):
        ErrorModel(phases="fixed", calibrate="phases")
    # the default spread: (2π/λ)·(∂n/∂w)·σ_w·L, here written out with the stated assumptions
    assert fixed_phase_sigma(100.0) == pytest.approx(2 * np.pi / 1.55 * 2e-3 * 0.5 * 100.0, rel=1e-12)
    code, out, err = run_cli(["yield", "demo", "--phases", "fixed", "--samples", "4", "--json"])
    assert code == 0, err
    model = json.loads(out)["results"][0]["error_model"]
    assert model["phases"] == "fixed" and model["sigma_offset"] == pytest.approx(fixed_phase_sigma(100.0))
    code, out, err = run_cli(["yield", "demo", "--phases", "fixed", "--calibrate", "phases"])
    assert code == 2 and "--calibrate" in err and len(err.strip().splitlines()) == 1
