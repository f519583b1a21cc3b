"""Output-layer refit by linear programs: finds an exact output layer where one exists, never loses."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.weights import OnnWeights, load_npz, save_npz
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import load_scenario_file
from optinc_pdk.training.construct import construct
from optinc_pdk.training.refit_output import decision_interval, refit_output_layer
from optinc_pdk.training.trainer import decision_accuracy

TINY = {"name": "tiny", "bits": 4, "servers": 2, "widths": [2, 32, 64, 32, 2], "approx_layers": [2, 3], "seed": 3}


def _scenario(tmp_path, **changes):
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump({**TINY, **changes}))
    return load_scenario_file(path)


def _quiet(_line: str) -> None:
    pass


def _wrong_per_output(weights: OnnWeights, data) -> list[int]:
    decided = data.decide(weights.forward(data.inputs(dtype=np.float64)))
    return (decided != data.codes).sum(axis=0).tolist()


def _with_output_layer(weights: OnnWeights, matrix: np.ndarray, bias: np.ndarray) -> OnnWeights:
    return OnnWeights(weights.weights[:-1] + (matrix,), weights.biases[:-1] + (bias,), {"scenario": "tiny"})


def test_decision_interval_matches_the_receivers_decision(tmp_path):
    data = exhaustive_dataset(_scenario(tmp_path))
    for output in range(data.n_outputs):
        lower, upper = decision_interval(data, output)
        inside = np.where(np.isfinite(lower), lower, upper - 1.0) + 1e-9
        probe = np.zeros((data.size, data.n_outputs))
        probe[:, output] = inside
        assert np.all(data.decide(probe)[:, output] == data.codes[:, output])
        probe[:, output] = np.where(np.isfinite(lower), lower - 1e-9, upper + 1e-9)
        assert not np.any(data.decide(probe)[:, output] == data.codes[:, output])


def test_a_spoilt_output_layer_over_exact_hidden_layers_is_refitted_to_full_accuracy(tmp_path):
    scenario = _scenario(tmp_path)
    data = exhaustive_dataset(scenario)
    exact = construct(scenario)
    spoilt = _with_output_layer(exact, exact.weights[-1] * 1.5, exact.biases[-1] + 0.6)
    assert decision_accuracy(spoilt, data) < 0.9

    result = refit_output_layer(spoilt, scenario, data, log=_quiet)

    assert decision_accuracy(result.weights, data) == 1.0
    assert result.wrong_before == _wrong_per_output(spoilt, data) and result.wrong_after == [0, 0]
    for old, new in zip(spoilt.weights[:-1] + spoilt.biases[:-1], result.weights.weights[:-1] + result.weights.biases[:-1]):
        np.testing.assert_array_equal(old, new)  # hidden layers (and their block form) untouched
    record = result.weights.provenance["output_refit"]
    assert record["from_sha256"] == spoilt.digest() and record["wrong_after"] == [0, 0]


def test_the_refit_never_makes_an_output_worse_and_reports_true_counts(tmp_path):
    scenario = _scenario(tmp_path)
    data = exhaustive_dataset(scenario)
    rng = np.random.default_rng(1)
    shapes = scenario.layer_shapes()
    start = OnnWeights(tuple(rng.standard_normal(s) / np.sqrt(s[1]) for s in shapes),
                       tuple(rng.uniform(0, 0.3, s[0]) for s in shapes), {"scenario": "tiny"})
    result = refit_output_layer(start, scenario, data, rounds=2, log=_quiet)
    assert result.wrong_before == _wrong_per_output(start, data)
    assert result.wrong_after == _wrong_per_output(result.weights, data)
    assert all(after <= before for before, after in zip(result.wrong_before, result.wrong_after))
    assert sum(result.wrong_after) < sum(result.wrong_before)


def test_an_approximated_output_layer_and_a_bad_margin_are_refused(tmp_path):
    scenario = _scenario(tmp_path, approx_layers=[2, 4])
    data = exhaustive_dataset(scenario)
    weights = construct(_scenario(tmp_path))
    with pytest.raises(OptincError, match="layer 4 \\(the output layer\\) is approximated"):
        refit_output_layer(weights, scenario, data, log=_quiet)
    with pytest.raises(OptincError, match="margin"):
        refit_output_layer(weights, _scenario(tmp_path), data, margin=0.5, log=_quiet)


def test_refit_output_command_writes_the_refitted_weights(tmp_path, run_cli):
    scenario = _scenario(tmp_path)
    exact = construct(scenario)
    spoilt = _with_output_layer(exact, exact.weights[-1] * 1.2, exact.biases[-1] - 0.2)
    start, out = tmp_path / "start.npz", tmp_path / "refit.npz"
    save_npz(start, spoilt, {"scenario": "tiny"})
    code, stdout, _ = run_cli(["lab", "refit-output", tmp_path / "tiny.yml", "--weights", start, "-o", out, "--json"])
    assert code == 0
    report = json.loads(stdout)
    assert report["accuracy_after"] == 1.0 and report["accuracy_before"] < 1.0
    assert json.loads(out.with_suffix(".json").read_text())["accuracy"] == 1.0
    assert decision_accuracy(load_npz(out), exhaustive_dataset(scenario)) == 1.0
    code, _, stderr = run_cli(["lab", "refit-output", tmp_path / "tiny.yml", "--weights", start, "-o", tmp_path / "x.npz",
                               "--margin", "0.7"])
    assert code != 0 and "margin" in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()
