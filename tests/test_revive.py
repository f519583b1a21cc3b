"""Dead-unit revival: dead units come back live, everything else is untouched, block form holds."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.weights import OnnWeights, load_npz, save_npz
from optinc_pdk.decompose.blockform import block_approximation, block_form_error
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import load_scenario_file
from optinc_pdk.training.revive import revive_dead_units

TINY = {"name": "tiny", "bits": 4, "servers": 2, "widths": [2, 32, 64, 32, 2], "approx_layers": [2, 3], "seed": 3}
KILLED = {1: [0, 5], 2: [3, 40], 3: [7]}  # 1-based layer -> units made dead
ZERO_ROW = (2, 40)  # a dead block-form row of length zero: it must take its unitary row's direction


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(TINY))
    return load_scenario_file(path)


@pytest.fixture
def with_dead_units(tiny) -> OnnWeights:
    rng = np.random.default_rng(0)
    weights, biases = [], []
    for number, (out_dim, in_dim) in enumerate(tiny.layer_shapes(), start=1):
        w = rng.standard_normal((out_dim, in_dim)) / np.sqrt(in_dim)
        b = rng.uniform(0.0, 0.5, out_dim)
        for unit in KILLED.get(number, []):
            b[unit] = -1e3
        if number == ZERO_ROW[0]:
            w[ZERO_ROW[1]] = 0.0
        if number in tiny.approx_layers:
            w = block_approximation(w)
        weights.append(w)
        biases.append(b)
    return OnnWeights(tuple(weights), tuple(biases), {"scenario": "tiny"})


def _pre_activations(weights: OnnWeights, x: np.ndarray) -> list[np.ndarray]:
    out, h = [], x
    for w, b in zip(weights.weights[:-1], weights.biases[:-1]):
        z = h @ w.T + b
        out.append(z)
        h = np.maximum(z, 0.0)
    return out


def test_dead_units_come_back_live_with_a_kink_inside_the_data(tiny, with_dead_units):
    data = exhaustive_dataset(tiny)
    x = data.inputs(dtype=np.float64)
    before = _pre_activations(with_dead_units, x)
    dead = {n: sorted(np.flatnonzero(z.max(axis=0) <= 0).tolist()) for n, z in enumerate(before, start=1)}
    assert all(set(units) <= set(dead[n]) for n, units in KILLED.items())  # the fixture did kill them

    result = revive_dead_units(with_dead_units, tiny, data, scale=1e-3)

    assert result.dead_before == {n: len(units) for n, units in dead.items()}
    assert result.revived == {n: len(units) for n, units in dead.items() if units}
    after = _pre_activations(result.weights, x)
    for number, units in dead.items():
        for unit in units:
            z = after[number - 1][:, unit]
            assert (z > 0).any() and (z <= 0).any(), f"layer {number} unit {unit}: kink must cut the data"
    for number, units in dead.items():  # normal-length rows: a short row's direction is lost at the projection
        if units:
            matrix = result.weights.weights[number - 1]
            live = np.setdiff1d(np.arange(matrix.shape[0]), units)
            np.testing.assert_allclose(np.linalg.norm(matrix[units], axis=1),
                                       np.median(np.linalg.norm(matrix[live], axis=1)), rtol=1e-12)


def test_only_dead_rows_change_and_block_form_layers_stay_exact(tiny, with_dead_units):
    data = exhaustive_dataset(tiny)
    result = revive_dead_units(with_dead_units, tiny, data, scale=1e-3)
    for number, (old, new) in enumerate(zip(with_dead_units.weights, result.weights.weights), start=1):
        changed = np.flatnonzero(np.any(old != new, axis=1))
        bias_changed = with_dead_units.biases[number - 1] != result.weights.biases[number - 1]
        assert set(changed.tolist()) <= set(np.flatnonzero(bias_changed).tolist()) | {ZERO_ROW[1]}
        if number in tiny.approx_layers:
            assert block_form_error(new)["projection_residual"] < 1e-12
    np.testing.assert_array_equal(with_dead_units.weights[-1], result.weights.weights[-1])


def test_the_revived_network_computes_almost_the_same_and_smaller_scale_moves_it_less(tiny, with_dead_units):
    data = exhaustive_dataset(tiny)
    x = data.inputs(dtype=np.float64)
    start = with_dead_units.forward(x)
    moves = [np.abs(revive_dead_units(with_dead_units, tiny, data, scale=s).weights.forward(x) - start).max()
             for s in (1e-2, 1e-4)]
    assert 0 < moves[1] < moves[0]
    assert moves[1] < 1e-2 * np.abs(start).max()


def test_revival_is_seeded_recorded_and_limited_to_the_chosen_layers(tiny, with_dead_units):
    data = exhaustive_dataset(tiny)
    one = revive_dead_units(with_dead_units, tiny, data, seed=1, layers=[2])
    again = revive_dead_units(with_dead_units, tiny, data, seed=1, layers=[2])
    assert one.weights.digest() == again.weights.digest()
    assert set(one.revived) == {2}
    record = one.weights.provenance["revived"]
    assert record["layers"] == [2] and record["seed"] == 1 and record["from_sha256"] == with_dead_units.digest()
    with pytest.raises(OptincError, match="scale"):
        revive_dead_units(with_dead_units, tiny, data, scale=0.0)
    with pytest.raises(OptincError, match="layers"):
        revive_dead_units(with_dead_units, tiny, data, layers=[4])


def test_revive_command_writes_weights_and_refuses_bad_layers(tiny, with_dead_units, tmp_path, run_cli):
    scenario_file = tmp_path / "tiny.yml"
    start = tmp_path / "start.npz"
    save_npz(start, with_dead_units, {"scenario": "tiny"})
    out = tmp_path / "revived.npz"
    code, stdout, _ = run_cli(["lab", "revive", scenario_file, "--weights", start, "-o", out, "--json"])
    assert code == 0
    report = json.loads(stdout)
    assert report["revived"] == {k: v for k, v in report["dead_before"].items() if v}
    assert all(report["dead_before"][str(n)] >= len(units) for n, units in KILLED.items())
    assert load_npz(out).digest() == json.loads(out.with_suffix(".json").read_text())["sha256"]
    code, _, stderr = run_cli(["lab", "revive", scenario_file, "--weights", start, "-o", tmp_path / "x.npz", "--layers", "2,x"])
    assert code != 0 and "--layers" in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()


class _Interrupted(Exception):
    pass


def test_revive_every_revives_during_pretraining_and_resumes_exactly(tiny, with_dead_units, tmp_path):
    """revive_every: 2 over 6 epochs revives after epochs 2 and 4 (not 6: too late to settle); a run
    interrupted after the first revival resumes bit for bit."""
    import torch

    from optinc_pdk.spec.scenario import scenario_from_dict
    from optinc_pdk.training.recipe import recipe_for
    from optinc_pdk.training.trainer import TrainRequest, checkpoint_weights, train

    torch.set_num_threads(1)
    options = {"epochs": 6, "stage1_epochs": 0, "approx_epochs": 0, "batch_size": 49, "lr": 0.002,
               "revive_every": 2, "revive_scale": 1e-3}
    scenario = scenario_from_dict({**TINY, "training": options}, "tiny.yml")
    short = dict(init=with_dead_units, continue_pretraining=True, eval_every=1, checkpoint_every=1)
    straight = train(TrainRequest(scenario, run_dir=tmp_path / "a", log=lambda _: None, **short))
    revivals = [h for h in straight.history if h["phase"] == "revived"]
    assert [h["epoch"] for h in revivals] == [2, 4]
    assert all(revivals[0]["revived"].get(str(n), 0) >= len(units) for n, units in KILLED.items())
    assert straight.weights.provenance["training"]["revive_every"] == 2

    def stop_at_third_epoch(line: str) -> None:
        if "pretrain epoch 3/6" in line:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        train(TrainRequest(scenario, run_dir=tmp_path / "b", log=stop_at_third_epoch, **short))
    # the checkpoint's last history entry is the revival; the export still finds the last evaluation
    exported = checkpoint_weights(scenario, None, tmp_path / "b")
    assert exported.provenance["accepted_at_last_evaluation"] == straight.history[1]["accuracy"]
    resumed = train(TrainRequest(scenario, run_dir=tmp_path / "b", resume=True, eval_every=1, log=lambda _: None))
    assert resumed.weights.digest() == straight.weights.digest()

    with pytest.raises(OptincError, match="revive_scale"):
        recipe_for(scenario_from_dict({**TINY, "training": {**options, "revive_scale": 0}}, "tiny.yml"))
