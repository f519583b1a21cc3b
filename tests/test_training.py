"""Hardware-aware training on a tiny scenario (4-bit gradients, 2 servers, 2 ONN inputs)."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch
import yaml

from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.weights import load_for_scenario, load_npz, save_npz
from optinc_pdk.decompose.blockform import block_form_error
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import load_scenario_file, scenario_from_dict
from optinc_pdk.training.evaluate import evaluate
from optinc_pdk.training.loss import two_stage_loss
from optinc_pdk.training.model import OnnMLP
from optinc_pdk.training.recipe import TrainingRecipe, check_recipes, recipe_for
from optinc_pdk.training.trainer import TrainRequest, checkpoint_weights, exact_accuracy, train

TINY = {
    "name": "tiny",
    "bits": 4,
    "servers": 2,
    "widths": [2, 32, 64, 32, 2],
    "approx_layers": [2, 3],  # one tall (64x32) and one wide (32x64) layer
    "seed": 3,
    "training": {"epochs": 1500, "stage1_epochs": 300, "approx_epochs": 1500, "batch_size": 49, "lr": 0.01},
}


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(TINY))
    return load_scenario_file(path)


def _quiet(_line: str) -> None:
    pass


def test_tiny_scenario_trains_to_full_accuracy_in_block_form(tiny, tmp_path):
    torch.set_num_threads(1)
    result = train(TrainRequest(tiny, run_dir=tmp_path / "run", eval_every=50, log=_quiet))
    data = exhaustive_dataset(tiny)
    assert data.size == 49  # ((4^1 - 1) * 2 + 1)^2
    assert result.accuracy == 1.0
    report = evaluate(result.weights, tiny, data)
    assert report["accuracy"] == 1.0 and report["error_values"] == []
    # every approximated layer is exactly block diagonal x orthogonal
    for number in tiny.approx_layers:
        err = block_form_error(result.weights.weights[number - 1])
        assert err["projection_residual"] < 1e-10 and err["unitarity_error"] < 1e-10
    assert any(h["phase"] == "approx" for h in result.history)


def test_two_stage_loss_switches_from_weighted_outputs_to_reconstructed_gradient():
    targets = torch.tensor([[1.0, 2.0]])
    step, importance = torch.ones(2), torch.tensor([0.5, 1.5])
    lsb_off = torch.tensor([[1.2, 2.0]])  # 0.2 error on the LSB, inside the 0.3 margin
    msb_off = torch.tensor([[1.0, 2.2]])  # 0.2 error on the MSB
    # stage 1: importance-weighted MSE on outputs, mean over the 2 outputs
    assert two_stage_loss(lsb_off, targets, step, importance, 1, 0.3).item() == pytest.approx(0.5 * 0.04 / 2)
    assert two_stage_loss(msb_off, targets, step, importance, 1, 0.3).item() == pytest.approx(1.5 * 0.04 / 2)
    # stage 2: squared error of Σ 4^k o_k, normalised by the MSB weight 4
    assert two_stage_loss(lsb_off, targets, step, importance, 2, 0.3).item() == pytest.approx((0.2 / 4) ** 2)
    assert two_stage_loss(msb_off, targets, step, importance, 2, 0.3).item() == pytest.approx(0.2**2)
    # the hinge adds (|e| - margin)^2 beyond the margin
    far = torch.tensor([[1.5, 2.0]])
    assert two_stage_loss(far, targets, step, importance, 1, 0.3).item() == pytest.approx(0.5 * 0.25 / 2 + 0.2**2)


def test_clipped_loss_ignores_overshoot_beyond_the_extreme_levels_only():
    targets = torch.tensor([[0.0, 3.0, 1.0]])
    step, importance, top = torch.ones(3), torch.ones(3), torch.full((3,), 3.0)
    overshoot = torch.tensor([[-0.8, 3.9, 1.0]], requires_grad=True)  # decided 0 and 3: correct
    clipped = two_stage_loss(overshoot, targets, step, importance, 2, 0.3, top=top)
    assert clipped.item() == 0.0
    clipped.backward()
    assert torch.count_nonzero(overshoot.grad) == 0  # nothing pulls a harmless overshoot back
    assert two_stage_loss(overshoot, targets, step, importance, 2, 0.3).item() > 0.1  # unclipped it costs
    # inside the range, and on the wrong side of an extreme level, the clipped loss is the plain one
    inside = torch.tensor([[0.45, 2.4, 1.6]])
    assert two_stage_loss(inside, targets, step, importance, 2, 0.3, top=top).item() == pytest.approx(
        two_stage_loss(inside, targets, step, importance, 2, 0.3).item())


def test_clipped_loss_still_pulls_an_output_stuck_beyond_the_wrong_extreme():
    # target 2 with the output below 0 (or above the top): clamping would leave no gradient at all
    targets = torch.tensor([[2.0, 1.0]])
    step, importance, top = torch.ones(2), torch.ones(2), torch.full((2,), 3.0)
    stuck = torch.tensor([[-1.0, 4.5]], requires_grad=True)
    loss = two_stage_loss(stuck, targets, step, importance, 1, 0.3, top=top)
    loss.backward()
    assert stuck.grad[0, 0] < 0 and stuck.grad[0, 1] > 0  # descent moves both back towards their targets
    assert loss.item() == pytest.approx(two_stage_loss(stuck.detach(), targets, step, importance, 1, 0.3).item())


def test_clip_to_levels_trains_the_tiny_scenario_and_is_refused_for_an_analog_level1(tmp_path):
    from optinc_pdk.spec.scenario import scenario_from_dict

    clipped = scenario_from_dict({**TINY, "training": {**TINY["training"], "clip_to_levels": True}}, "tiny.yml")
    torch.set_num_threads(1)
    result = train(TrainRequest(clipped, run_dir=tmp_path / "run", eval_every=50, log=_quiet))
    assert result.accuracy == 1.0
    assert result.weights.provenance["training"]["clip_to_levels"] is True
    plain = train(TrainRequest(scenario_from_dict(TINY, "tiny.yml"), eval_every=50, log=_quiet))
    assert result.history[0]["loss"] < plain.history[0]["loss"]  # early overshoot costs nothing clipped
    bad = {**TINY_CASCADE, "training": {**TINY_CASCADE["training"], "clip_to_levels": True}}
    with pytest.raises(OptincError, match=r"training\.clip_to_levels"):
        recipe_for(scenario_from_dict(bad, "tinycascade.yml"), 1)


def test_resume_from_checkpoint_continues_exactly(tiny, tmp_path):
    torch.set_num_threads(1)
    short = dict(epochs=6, approx_epochs=4, eval_every=2, log=_quiet)
    straight = train(TrainRequest(tiny, run_dir=tmp_path / "a", **short))
    # stop after the pretraining phase's first checkpoint, then resume to the same budget
    train(TrainRequest(tiny, run_dir=tmp_path / "b", epochs=6, approx_epochs=0, eval_every=2, log=_quiet))
    meta = json.loads((tmp_path / "b" / "checkpoint.json").read_text())
    assert meta["epoch"] == 6 and meta["phase"] == "pretrain"
    resumed = train(TrainRequest(tiny, run_dir=tmp_path / "b", resume=True, **short))
    for a, b in zip(straight.weights.weights, resumed.weights.weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(straight.weights.biases, resumed.weights.biases):
        np.testing.assert_array_equal(a, b)
    # a checkpoint exported as weights is the state the run ended in (what it wrote, unless an
    # earlier evaluation was better: then it wrote that one, see the drift test below)
    exported = checkpoint_weights(tiny, None, tmp_path / "a")
    final = json.loads((tmp_path / "a" / "checkpoint.json").read_text())
    assert exported.provenance["phase"] == final["phase"] and exported.provenance["epochs"] == final["epoch"] > 6
    data = exhaustive_dataset(tiny)
    assert exact_accuracy(exported, data) == final["history"][-1]["accuracy"]
    in_block_form = [h["accuracy"] for h in straight.history if h["phase"] != "pretrain"]
    assert straight.accuracy == max(in_block_form)
    with pytest.raises(OptincError, match="checkpoint is for"):
        checkpoint_weights(tiny, 2, tmp_path / "a")


def test_time_limit_stops_at_an_epoch_boundary_and_resumes_exactly(tiny, tmp_path):
    """--time-limit: a run that has used up its slot checkpoints and writes the block-form weights it
    reached; resumed slot after slot (one epoch each here), it ends bit for bit where one run does."""
    torch.set_num_threads(1)
    short = dict(epochs=6, approx_epochs=4, eval_every=2, log=_quiet)
    straight = train(TrainRequest(tiny, run_dir=tmp_path / "a", **short))
    assert "stopped" not in straight.weights.provenance
    first = train(TrainRequest(tiny, run_dir=tmp_path / "b", time_limit_s=1e-9, **short))
    assert first.weights.provenance["stopped"] == {"reason": "time limit", "time_limit_s": 1e-9,
                                                   "phase": "pretrain", "epoch": 1}
    assert first.epochs_run == 1
    assert evaluate(first.weights, tiny, exhaustive_dataset(tiny))["max_block_unitarity_error"] < 1e-9
    slots, result = 1, first
    while "stopped" in result.weights.provenance:
        result = train(TrainRequest(tiny, run_dir=tmp_path / "b", resume=True, time_limit_s=1e-9, **short))
        slots += 1
        assert slots <= straight.epochs_run
    # one slot per epoch boundary, except where a phase's last epoch runs on into the next phase's first
    # (pretrain -> approx -> polish): the hardware-aware phases were sliced too, not only the pretraining
    assert slots == straight.epochs_run - 2
    assert result.weights.digest() == straight.weights.digest()
    with pytest.raises(OptincError, match="--time-limit"):
        train(TrainRequest(tiny, time_limit_s=0, **short))


def test_weights_round_trip_and_refusals(tiny, tmp_path):
    rng = np.random.default_rng(0)
    state = {}
    for i, (o, n) in enumerate(tiny.layer_shapes()):
        state[f"layers.{i}.weight"] = rng.normal(size=(o, n))
        state[f"layers.{i}.bias"] = rng.normal(size=o)
    good = tmp_path / "good.npz"
    np.savez(good, **state)
    w = load_for_scenario(tiny, good)
    save_npz(tmp_path / "copy.npz", w, {"scenario": "tiny"})
    assert json.loads((tmp_path / "copy.json").read_text())["sha256"] == w.digest()
    assert load_npz(tmp_path / "copy.npz").digest() == w.digest()

    wrong = dict(state)
    wrong["layers.1.weight"] = rng.normal(size=(64, 31))
    np.savez(tmp_path / "wrong.npz", **wrong)
    with pytest.raises(OptincError, match=r"wrong\.npz: layers\.1\.weight"):
        load_for_scenario(tiny, tmp_path / "wrong.npz")

    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{**state, "layers.0.weight": np.array([object()], dtype=object)})
    with pytest.raises(OptincError, match="pickle"):
        load_npz(pickled)

    not_npz = tmp_path / "junk.npz"
    not_npz.write_bytes(pickle.dumps({"layers.0.weight": 1}))
    with pytest.raises(OptincError, match="junk.npz"):
        load_npz(not_npz)


def test_import_weights_from_torch_and_safetensors(tiny, tmp_path, run_cli):
    from safetensors.torch import save_file

    from optinc_pdk.training.model import OnnMLP

    model = OnnMLP(tiny.widths)
    torch.save(model.state_dict(), tmp_path / "model.pt")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "model.safetensors"))
    scenario_file = tmp_path / "tiny.yml"
    for source in ("model.pt", "model.safetensors"):
        code, _, err = run_cli(["import-weights", tmp_path / source, scenario_file, "-o", tmp_path / f"{source}.npz"])
        assert code == 0, err
        got = load_npz(tmp_path / f"{source}.npz")
        np.testing.assert_allclose(got.weights[0], model.layers[0].weight.detach().double().numpy())

    # a pickled object that is not a plain state_dict is refused by weights_only loading
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"layers.0.weight": Evil()}, handle)
    code, out, err = run_cli(["import-weights", tmp_path / "evil.pt", scenario_file, "-o", tmp_path / "evil.npz"])
    assert code != 0 and "evil.pt" in err and "pwned" not in out
    assert not (tmp_path / "evil.npz").exists()


TINY_CASCADE = {
    "name": "tinycascade", "bits": 4, "servers": 4, "widths": [2, 16, 2], "approx_layers": [1], "seed": 1,
    "cascade": {"levels": 2, "servers_per_optinc": 2, "link_tolerance": [0.06, 0.12]},
    "training": {"epochs": 4, "stage1_epochs": 1, "approx_epochs": 2, "polish_epochs": 0, "batch_size": 16},
}


def test_cascade_levels_train_with_init_and_against_level1_errors(tmp_path):
    from optinc_pdk.errors import OptincError
    from optinc_pdk.spec.scenario import scenario_from_dict

    s = scenario_from_dict(TINY_CASCADE, "tiny.yml")
    first = train(TrainRequest(s, level=1, run_dir=tmp_path / "l1", eval_every=1, log=_quiet))
    assert "link_tolerance" in first.weights.provenance and 0 <= first.weights.provenance["accepted"] <= 1
    again = train(TrainRequest(s, level=1, run_dir=tmp_path / "l1b", eval_every=1, log=_quiet, init=first.weights))
    assert {h["phase"] for h in again.history} <= {"approx"}  # no pretraining from given weights
    assert again.weights.provenance["initialised_from"]["sha256"] == first.weights.digest()
    with pytest.raises(OptincError, match="level-1 weights needed"):
        train(TrainRequest(s, level=2, run_dir=tmp_path / "l2", log=_quiet))
    second = train(TrainRequest(s, level=2, run_dir=tmp_path / "l2", eval_every=1, log=_quiet, level1=first.weights))
    assert second.weights.provenance["trained_against_level1"]["sha256"] == first.weights.digest()
    assert second.weights.provenance["dataset_size"] == 15 * 7  # LSB sums 0..14, digit sums 0..6


@pytest.mark.parametrize("shape", [(8, 4), (4, 8), (6, 6)])  # tall, wide, square
def test_block_row_coupling_vanishes_exactly_on_the_block_form(shape):
    from optinc_pdk.training.model import block_row_coupling

    rng = np.random.default_rng(0)
    dense = torch.as_tensor(rng.normal(size=shape))
    assert float(block_row_coupling(dense)) > 0.05
    model = OnnMLP([shape[1], shape[0]]).double()
    with torch.no_grad():
        model.layers[0].weight.copy_(dense)
    model.approximate([1])  # the closest block diag x orthogonal form
    assert float(block_row_coupling(model.layers[0].weight)) < 1e-12
    weight = dense.clone().requires_grad_(True)
    block_row_coupling(weight).backward()
    assert torch.isfinite(weight.grad).all() and weight.grad.abs().max() > 0


def test_coupling_penalty_makes_the_switch_to_block_form_lossless(tmp_path):
    """Without the penalty the projection wrecks the tiny network; with it, nothing is lost."""
    torch.set_num_threads(1)
    pretrained, projected = {}, {}
    for weight in (0.0, 1000.0):
        spec = {**TINY, "training": {**TINY["training"], "orthogonality_weight": weight, "polish_epochs": 0}}
        path = tmp_path / f"tiny{int(weight)}.yml"
        path.write_text(yaml.safe_dump(spec))
        result = train(TrainRequest(load_scenario_file(path), approx_epochs=1, eval_every=100, log=_quiet))
        pretrained[weight] = [h for h in result.history if h["phase"] == "pretrain"][-1]["accuracy"]
        (projected[weight],) = [h for h in result.history if h["phase"] == "projected"]
    # unpenalised, the last few decisions depend on the CPU's float rounding (89.8% on one CPU, 100% on another); the
    # projection's loss does not
    assert pretrained[0.0] > 0.85 and pretrained[1000.0] == 1.0
    assert projected[0.0]["accuracy"] < 0.5 and projected[0.0]["block_coupling"] > 0.1
    assert projected[1000.0]["accuracy"] == 1.0 and projected[1000.0]["block_coupling"] < 1e-5
    # lossless: no hardware-aware epochs were needed, and the projected weights were kept


def test_projected_weights_are_kept_and_a_lossless_switch_ends_training(tmp_path):
    torch.set_num_threads(1)
    spec = {**TINY, "training": {**TINY["training"], "orthogonality_weight": 1000.0, "approx_lr": 1e-4}}
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(spec))
    scenario = load_scenario_file(path)
    result = train(TrainRequest(scenario, run_dir=tmp_path / "run", eval_every=100, log=_quiet))
    assert result.accuracy == 1.0
    assert [h["phase"] for h in result.history][-1] == "projected"  # no approx or polish epochs followed
    kept = load_npz(tmp_path / "run" / "projected.npz")
    assert kept.provenance["phase"] == "projected" and kept.digest() == result.weights.digest()


def test_a_run_that_drifts_down_writes_its_best_evaluated_block_form_weights(tmp_path):
    """An absurd hardware-aware rate wrecks the projected network; the run still writes the best
    weights it evaluated, keeps them as best.npz, and a resumed run remembers them."""
    torch.set_num_threads(1)
    spec = {**TINY, "training": {**TINY["training"], "epochs": 200, "orthogonality_weight": 1000.0,
                                 "approx_lr": 1.0, "polish_epochs": 0}}
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(spec))
    scenario = load_scenario_file(path)
    run = tmp_path / "run"
    result = train(TrainRequest(scenario, run_dir=run, approx_epochs=10, eval_every=1, log=_quiet))
    evaluated = [h for h in result.history if h["phase"] in ("projected", "approx")]
    assert evaluated[-1]["accuracy"] < max(h["accuracy"] for h in evaluated)  # it did drift down
    assert result.accuracy == max(h["accuracy"] for h in evaluated)
    selected = result.weights.provenance["selected"]
    assert selected["accepted"] == result.accuracy and selected["last_accepted"] == evaluated[-1]["accuracy"]
    kept = load_npz(run / "best.npz")
    assert kept.digest() == result.weights.digest() and kept.provenance["accepted"] == result.accuracy
    assert evaluate(result.weights, scenario, exhaustive_dataset(scenario))["accuracy"] == result.accuracy
    # resuming the finished run re-enters its last phase with no epochs left: the kept best still wins
    again = train(TrainRequest(scenario, run_dir=run, resume=True, approx_epochs=10, eval_every=1, log=_quiet))
    assert again.weights.digest() == result.weights.digest()


class _Interrupted(Exception):
    pass


def test_continued_pretraining_resumes_exactly_and_is_recorded(tiny, tmp_path):
    """--init W --continue-pretraining: plain layers keep training (stage 2, full coupling weight, own
    peak rate) before the switch; an interrupted continuation resumes bit for bit from its checkpoint."""
    torch.set_num_threads(1)
    start = train(TrainRequest(tiny, epochs=20, approx_epochs=0, eval_every=100, log=_quiet)).weights
    short = dict(init=start, continue_pretraining=True, epochs=6, approx_epochs=2, lr=0.002,
                 eval_every=1, checkpoint_every=1)
    straight = train(TrainRequest(tiny, run_dir=tmp_path / "a", log=_quiet, **short))
    assert [h["phase"] for h in straight.history][:7] == ["pretrain"] * 6 + ["projected"]
    assert straight.weights.provenance["initialised_from"]["continued_pretraining"] is True
    assert straight.weights.provenance["pretrain_lr"] == 0.002

    def stop_at_third_epoch(line: str) -> None:
        if "pretrain epoch 3/6" in line:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        train(TrainRequest(tiny, run_dir=tmp_path / "b", log=stop_at_third_epoch, **short))
    meta = json.loads((tmp_path / "b" / "checkpoint.json").read_text())
    assert meta["epoch"] == 2 and meta["continued_pretraining"] is True and meta["pretrain_lr"] == 0.002
    # resuming needs no --init: the checkpoint says how the pretraining was continued
    resumed = train(TrainRequest(tiny, run_dir=tmp_path / "b", resume=True, epochs=6, approx_epochs=2,
                                 eval_every=1, log=_quiet))
    assert resumed.weights.digest() == straight.weights.digest()
    assert resumed.weights.provenance["initialised_from"] == straight.weights.provenance["initialised_from"]


def test_continue_pretraining_and_lr_are_checked(tiny):
    with pytest.raises(OptincError, match="--continue-pretraining: give the weights"):
        train(TrainRequest(tiny, continue_pretraining=True, log=_quiet))
    with pytest.raises(OptincError, match="--lr: must be positive"):
        train(TrainRequest(tiny, lr=0.0, log=_quiet))


def _adam_step_in_weight_space(scale_rows: bool) -> torch.Tensor:
    """Largest |ΔW| per row after one Adam step (lr 1e-3) of a block layer whose row scales |d| span 0.1..100."""
    torch.manual_seed(0)
    model = OnnMLP([8, 8])
    with torch.no_grad():
        model.layers[0].weight.copy_(torch.logspace(-1, 2, 8)[:, None] * torch.linalg.qr(torch.randn(8, 8))[0])
    model.approximate([1], scale_rows)
    layer = model.layers[0]
    before = layer.weight.detach().clone()
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    model(torch.rand(16, 8)).square().sum().backward()
    optimizer.step()
    return (layer.weight.detach() - before).abs().amax(dim=1)


def test_scaled_rows_move_every_weight_entry_at_the_learning_rate():
    """Unscaled, Adam moves a row's weights |d| times the rate (the b8n8 switch left its minimum that
    way); with approx_scale_rows every row moves by at most twice the rate (the d and Û steps)."""
    unscaled, scaled = _adam_step_in_weight_space(False), _adam_step_in_weight_space(True)
    assert unscaled.max() > 20 * 1e-3 and unscaled.max() / unscaled.min() > 100
    assert scaled.max() <= 2 * 1e-3 + 1e-7 and scaled.min() > 0.3 * 1e-3


def test_scaled_rows_keep_the_block_form_and_resume_exactly(tiny, tmp_path):
    torch.set_num_threads(1)
    spec = {**TINY, "training": {**TINY["training"], "approx_scale_rows": True, "polish_epochs": 0}}
    path = tmp_path / "scaled.yml"
    path.write_text(yaml.safe_dump(spec))
    scaled = load_scenario_file(path)
    start = train(TrainRequest(tiny, epochs=30, approx_epochs=0, eval_every=100, log=_quiet)).weights
    short = dict(init=start, approx_epochs=4, eval_every=1, checkpoint_every=1)
    straight = train(TrainRequest(scaled, run_dir=tmp_path / "a", log=_quiet, **short))
    assert [h["phase"] for h in straight.history] == ["approx"] * 4
    for number in scaled.approx_layers:
        err = block_form_error(straight.weights.weights[number - 1])
        assert err["projection_residual"] < 1e-10 and err["unitarity_error"] < 1e-10
    exported = checkpoint_weights(scaled, None, tmp_path / "a")  # the row scales travel with the checkpoint
    np.testing.assert_allclose(exported.weights[1], straight.weights.weights[1], atol=1e-6)

    def stop_after_second_epoch(line: str) -> None:
        if "approx epoch 2/4" in line:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        train(TrainRequest(scaled, run_dir=tmp_path / "b", log=stop_after_second_epoch, **short))
    resumed = train(TrainRequest(scaled, run_dir=tmp_path / "b", resume=True, approx_epochs=4, eval_every=1,
                                 log=_quiet))
    assert resumed.weights.digest() == straight.weights.digest()


def test_checkpoints_from_before_row_scales_still_load(tiny, tmp_path):
    """Block layers gained a row_scale buffer; an older approx-phase checkpoint (without it) loads with scale 1."""
    from safetensors.torch import load_file, save_file

    torch.set_num_threads(1)
    run = tmp_path / "run"
    result = train(TrainRequest(tiny, run_dir=run, epochs=4, approx_epochs=2, eval_every=1, log=_quiet))
    current = checkpoint_weights(tiny, None, run)
    tensors = load_file(str(run / "checkpoint.safetensors"))
    assert any(k.endswith(".row_scale") for k in tensors)
    save_file({k: v for k, v in tensors.items() if not k.endswith(".row_scale")}, str(run / "checkpoint.safetensors"))
    older = checkpoint_weights(tiny, None, run)
    assert older.digest() == current.digest()
    assert older.provenance["phase"] in ("approx", "polish") and result.epochs_run == older.provenance["epochs"]
    # anything else missing is still refused
    save_file({k: v for k, v in tensors.items() if not k.endswith(".bias")}, str(run / "checkpoint.safetensors"))
    with pytest.raises(RuntimeError, match="does not match the model"):
        checkpoint_weights(tiny, None, run)


def test_refine_closes_a_poorly_trained_network_in_exact_block_form(tmp_path, run_cli):
    """Full-batch L-BFGS with the blocks parametrised as diag(d)·U0·expm(A−Aᵀ): from a network that
    decides a quarter of the tiny dataset to all of it, every block exactly orthogonal throughout."""
    from optinc_pdk.training.refine import refine

    torch.set_num_threads(1)
    spec = {**TINY, "training": {**TINY["training"], "epochs": 250, "stage1_epochs": 100, "approx_epochs": 0,
                                 "orthogonality_weight": 1000.0}}
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(spec))
    scenario = load_scenario_file(path)
    start = train(TrainRequest(scenario, log=_quiet)).weights
    data = exhaustive_dataset(scenario)
    assert exact_accuracy(start, data) < 0.5
    save_npz(tmp_path / "start.npz", start, start.provenance)
    result = refine(scenario, load_npz(tmp_path / "start.npz"), rounds=30, iterations_per_round=50,
                    output=tmp_path / "refined.npz", log=_quiet)
    assert result.accuracy == 1.0 and exact_accuracy(result.weights, data) == 1.0
    assert [h["round"] for h in result.history][0] == 0 and result.history[-1]["accuracy"] == 1.0
    for number in scenario.approx_layers:
        err = block_form_error(result.weights.weights[number - 1])
        assert err["projection_residual"] < 1e-10 and err["unitarity_error"] < 1e-10
    written = load_npz(tmp_path / "refined.npz")
    assert written.digest() == result.weights.digest()
    assert written.provenance["initialised_from"]["sha256"] == start.digest()
    assert written.provenance["accuracy"] == 1.0 and written.provenance["refined"]["rounds"] >= 1
    # the command line refuses a cascade level on a plain scenario before doing any work
    code, out, err = run_cli(["lab", "refine", path, "--weights", tmp_path / "start.npz", "-o", tmp_path / "x.npz",
                              "--level", "1"])
    assert code != 0 and "--level" in out + err and not (tmp_path / "x.npz").exists()


def test_hard_examples_repeat_in_every_epoch_and_resume_exactly(tiny, tmp_path):
    from safetensors.torch import load_file

    from optinc_pdk.training.trainer import HardExamples

    hard = HardExamples(repeats=3)
    hard.update(np.array([True, False, True, True, False, True]))
    order = hard.epoch_order(6, torch.Generator().manual_seed(1))
    assert sorted(order.tolist()) == [0, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 5]
    assert np.array_equal(order, hard.epoch_order(6, torch.Generator().manual_seed(1)))
    assert np.array_equal(HardExamples(0).epoch_order(6, torch.Generator().manual_seed(1)),
                          torch.randperm(6, generator=torch.Generator().manual_seed(1)).numpy())

    torch.set_num_threads(1)
    spec = {**TINY, "training": {**TINY["training"], "hard_example_repeats": 5}}
    path = tmp_path / "hard.yml"
    path.write_text(yaml.safe_dump(spec))
    scenario = load_scenario_file(path)
    start = train(TrainRequest(tiny, epochs=20, approx_epochs=0, eval_every=100, log=_quiet)).weights
    assert exact_accuracy(start, exhaustive_dataset(tiny)) < 1.0  # there are wrong samples to repeat
    short = dict(init=start, continue_pretraining=True, epochs=6, approx_epochs=2, lr=0.002, eval_every=1,
                 checkpoint_every=1)
    straight = train(TrainRequest(scenario, run_dir=tmp_path / "a", log=_quiet, **short))
    plain = train(TrainRequest(tiny, log=_quiet, **short))
    assert straight.weights.digest() != plain.weights.digest()  # the repeats changed the epochs

    def stop_at_fourth_epoch(line: str) -> None:
        if "pretrain epoch 4/6" in line:
            raise _Interrupted

    with pytest.raises(_Interrupted):
        train(TrainRequest(scenario, run_dir=tmp_path / "b", log=stop_at_fourth_epoch, **short))
    kept = load_file(str(tmp_path / "b" / "checkpoint.safetensors"))["extra.hard_examples"]
    assert 0 < len(kept) < exhaustive_dataset(tiny).size
    resumed = train(TrainRequest(scenario, run_dir=tmp_path / "b", resume=True, epochs=6, approx_epochs=2,
                                 eval_every=1, log=_quiet))
    assert resumed.weights.digest() == straight.weights.digest()


def test_progress_reports_every_batch_with_running_loss_and_last_accuracy(tiny, tmp_path):
    ticks = []
    train(TrainRequest(tiny, epochs=4, approx_epochs=2, batch_size=25, eval_every=2, log=_quiet, progress=ticks.append))
    pretrain = [t for t in ticks if t.phase == "pretrain"]
    assert len(pretrain) == 4 * 2 and pretrain[-1].epoch == pretrain[-1].epochs == 4  # 49 samples: 2 batches
    assert [t.epoch for t in pretrain] == sorted(t.epoch for t in pretrain)
    assert pretrain[0].accuracy is None and pretrain[-1].accuracy is not None  # none before the first evaluation
    assert all(math.isfinite(t.loss) for t in ticks)
    assert {t.phase for t in ticks} >= {"pretrain", "approx"}


def test_train_cli_shows_a_bar_on_a_terminal_and_plain_lines_in_a_log(tmp_path, run_cli):
    from io import StringIO

    from rich.console import Console

    from optinc_pdk.cli.training import TrainingBar
    from optinc_pdk.training.trainer import TrainProgress

    screen = StringIO()
    with TrainingBar(Console(file=screen, force_terminal=True, width=160), "tiny") as bar:
        bar.update(TrainProgress("pretrain", 1.5, 4, 0.25, None))
        bar.log("[tiny] pretrain epoch 2/4 loss 0.25000 accuracy 0.500000")
        bar.update(TrainProgress("pretrain", 2.5, 4, 0.125, 0.5))
    shown = screen.getvalue()
    assert "tiny pretrain" in shown and "epoch 2.5/4" in shown and "loss 0.12500 accuracy 50.000%" in shown
    assert "[tiny] pretrain epoch 2/4" in shown  # square brackets are not taken for markup

    recipe = tmp_path / "tiny.yml"
    recipe.write_text(yaml.safe_dump(TINY))
    code, out, _ = run_cli(["train", recipe, "--epochs", "4", "--approx-epochs", "0", "--eval-every", "2",
                            "--run-dir", tmp_path / "run", "-o", tmp_path / "w.npz"])
    assert code == 0 and (tmp_path / "w.npz").is_file()
    assert "[tiny] pretrain epoch 2/4 loss" in out and "epoch 2.5/4" not in out  # captured: lines only, no bar

    code, out, _ = run_cli(["train", recipe, "--epochs", "4", "--approx-epochs", "0", "--time-limit", "1e-9",
                            "--run-dir", tmp_path / "slot", "-o", tmp_path / "slot.npz"])
    assert code == 0 and "time limit of 1e-09 s reached at pretrain epoch 1" in out
    assert "stopped by the time limit in pretrain (--resume continues)" in out
    assert load_npz(tmp_path / "slot.npz").provenance["stopped"]["epoch"] == 1
    code, _, err = run_cli(["train", recipe, "--time-limit", "-5", "-o", tmp_path / "never.npz"])
    assert code != 0 and "--time-limit: must be positive" in err and not (tmp_path / "never.npz").exists()


def test_train_keeps_more_accurate_shipped_weights_unless_told_to_replace_them(tiny, tmp_path, run_cli, monkeypatch):
    """Without -o a run writes the shipped file, but never over more accurate weights (a constructed 100%
    b8n8 is not replaced by a 95% training run): those runs land in the run folder, and it says so."""
    import optinc_pdk.core.weights as weights_module

    shipped = tmp_path / "shipped" / "tiny.npz"
    monkeypatch.setattr(weights_module, "shipped_weights_path", lambda scenario, level=None: shipped)
    recipe = tmp_path / "tiny.yml"
    recipe.write_text(yaml.safe_dump(TINY))
    short = ["--epochs", "2", "--approx-epochs", "0", "--eval-every", "50"]
    code, out, _ = run_cli(["train", recipe, *short, "--run-dir", tmp_path / "first"])
    assert code == 0 and shipped.is_file()  # nothing there yet: the shipped file is written
    first = load_npz(shipped)
    assert first.provenance["accuracy"] < 1.0
    perfect = {**first.provenance, "accuracy": 1.0}
    save_npz(shipped, first, perfect)
    code, out, _ = run_cli(["train", recipe, *short, "--run-dir", tmp_path / "second"])
    assert code == 0 and "kept, it holds 100.00000%" in out
    assert load_npz(shipped).provenance["accuracy"] == 1.0  # untouched
    assert (tmp_path / "second" / "tiny.npz").is_file()
    code, out, _ = run_cli(["train", recipe, *short, "--run-dir", tmp_path / "third", "-o", shipped])
    assert code == 0 and load_npz(shipped).provenance["accuracy"] < 1.0  # -o replaces it on purpose


def test_hinge_weights_scale_each_outputs_hinge_and_are_checked():
    from optinc_pdk.spec.scenario import scenario_from_dict

    targets = torch.tensor([[1.0, 2.0]])
    step, importance = torch.ones(2), torch.ones(2)
    off = torch.tensor([[1.8, 2.0]])  # LSB 0.8 off: base (0.8/4)^2, hinge (0.8 - 0.3)^2
    plain = two_stage_loss(off, targets, step, importance, 2, 0.3)
    weighted = two_stage_loss(off, targets, step, importance, 2, 0.3, hinge_weights=torch.tensor([4.0, 1.0]))
    assert plain.item() == pytest.approx(0.2**2 + 0.5**2)
    assert weighted.item() == pytest.approx(0.2**2 + 4 * 0.5**2)
    for bad, message in (([1.0], r"training\.hinge_weights: needs one weight per output \(2\), got 1"),
                         ([1.0, -1.0], r"training\.hinge_weights: weights must be non-negative")):
        with pytest.raises(OptincError, match=message):
            recipe_for(scenario_from_dict({**TINY, "training": {**TINY["training"], "hinge_weights": bad}}, "tiny.yml"))
    weighted_tiny = scenario_from_dict({**TINY, "training": {**TINY["training"], "hinge_weights": [4.0, 1.0]}}, "tiny.yml")
    from optinc_pdk.training.loss import DecisionGrid

    grid = DecisionGrid.of(exhaustive_dataset(weighted_tiny), recipe_for(weighted_tiny))
    assert grid.hinge.tolist() == [4.0, 1.0]


def test_fit_weight_scales_the_exact_fit_and_zero_leaves_only_the_hinge(tmp_path):
    from optinc_pdk.spec.scenario import scenario_from_dict

    targets = torch.tensor([[1.0, 2.0]])
    step, importance = torch.ones(2), torch.ones(2)
    inside = torch.tensor([[1.2, 2.0]])  # LSB 0.2 off: inside the 0.3 margin, so only the fit costs
    off = torch.tensor([[1.8, 2.0]])  # LSB 0.8 off: fit (0.8/4)^2, hinge (0.8 - 0.3)^2
    assert two_stage_loss(inside, targets, step, importance, 2, 0.3).item() == pytest.approx(0.05**2)
    assert two_stage_loss(inside, targets, step, importance, 2, 0.3, fit_weight=0.0).item() == 0.0
    assert two_stage_loss(off, targets, step, importance, 2, 0.3, fit_weight=0.5).item() == pytest.approx(
        0.5 * 0.2**2 + 0.5**2)
    with pytest.raises(OptincError, match=r"training\.fit_weight"):
        recipe_for(scenario_from_dict({**TINY, "training": {**TINY["training"], "fit_weight": -1}}, "tiny.yml"))
    short = {**TINY["training"], "epochs": 2, "approx_epochs": 0, "polish_epochs": 0}
    runs = {}
    for weight in (1.0, 0.0):
        scenario = scenario_from_dict({**TINY, "training": {**short, "fit_weight": weight}}, "tiny.yml")
        runs[weight] = train(TrainRequest(scenario, run_dir=tmp_path / f"run{weight}", eval_every=1, log=_quiet))
    assert runs[0.0].weights.provenance["training"]["fit_weight"] == 0.0
    assert runs[0.0].history[0]["loss"] < runs[1.0].history[0]["loss"]  # the trainer passes it to the loss


def test_step_positions_locate_the_exact_average_within_each_digits_step():
    from optinc_pdk.core.datasets import plain_dataset

    data = plain_dataset(4, 2, 2)  # v = (s_0 + 4 s_1)/2 on a 1/2 grid, 2 digits
    v = data.inputs(dtype=np.float64) @ np.array([1.0, 4.0])
    positions = data.centered_step_positions()
    # LSB: 2 grid points per step (fraction 0, 1/2) centred on 1/4; digit 1: 8 points per step of 4
    np.testing.assert_allclose(positions[:, 0], (v % 1) - 0.25)
    np.testing.assert_allclose(positions[:, 1], ((v / 4) % 1) - 7 / 16)
    assert np.all(np.abs(positions) < 0.5)


def test_target_tilt_moves_the_fitted_target_and_its_hinge_band_but_not_the_decision(tmp_path):
    from optinc_pdk.spec.scenario import scenario_from_dict
    from optinc_pdk.training.loss import DecisionGrid

    targets = torch.tensor([[1.0, 2.0]])
    step, importance = torch.ones(2), torch.ones(2)
    offset = torch.tensor([[0.2, 0.0]])
    on_tilt = torch.tensor([[1.2, 2.0]])  # exactly on the tilted target: nothing to fit, nothing to hinge
    assert two_stage_loss(on_tilt, targets, step, importance, 2, 0.15, offset=offset).item() == 0.0
    assert two_stage_loss(on_tilt, targets, step, importance, 2, 0.15).item() > 0  # untilted it costs
    # the clip forgives by level, not by tilted target: target level 0, output below a positive tilt
    low = torch.tensor([[-1.0, 2.0]])
    zero_level = torch.tensor([[0.0, 2.0]])
    assert two_stage_loss(low, zero_level, step, importance, 2, 0.15, top=torch.tensor([3.0, 3.0]),
                          offset=offset).item() == 0.0
    tilted = {**TINY["training"], "margin": 0.15, "target_tilt": [0.6, 0.0]}
    scenario = scenario_from_dict({**TINY, "training": tilted}, "tiny.yml")
    data = exhaustive_dataset(scenario)
    grid = DecisionGrid.of(data, recipe_for(scenario))
    np.testing.assert_allclose(grid.offsets(data, slice(0, 5)).numpy(),
                               data.centered_step_positions(slice(0, 5)) * [0.6, 0.0], rtol=1e-6)
    for bad, message in (([0.5], r"training\.target_tilt: needs one value per output \(2\), got 1"),
                         ([0.7, 0.0], r"training\.target_tilt\[0\]: must be in \[0, 1 − 2·margin\) = \[0, 0\.7\)"),
                         ([0.0, -0.1], r"training\.target_tilt\[1\]")):
        with pytest.raises(OptincError, match=message):
            recipe_for(scenario_from_dict({**TINY, "training": {**tilted, "target_tilt": bad}}, "tiny.yml"))
    analog = {**TINY_CASCADE, "training": {**TINY_CASCADE["training"], "target_tilt": [0.3, 0.0]}}
    with pytest.raises(OptincError, match=r"training\.target_tilt: level 1 of a cascade"):
        recipe_for(scenario_from_dict(analog, "tinycascade.yml"), 1)
    short = {**tilted, "epochs": 2, "approx_epochs": 0, "polish_epochs": 0}
    runs = {}
    for tilt in ([0.0, 0.0], [0.6, 0.6]):
        scenario = scenario_from_dict({**TINY, "training": {**short, "target_tilt": tilt}}, "tiny.yml")
        runs[tilt[0]] = train(TrainRequest(scenario, run_dir=tmp_path / f"run{tilt[0]}", eval_every=1, log=_quiet))
    assert runs[0.6].weights.provenance["training"]["target_tilt"] == [0.6, 0.6]
    assert runs[0.6].history[0]["loss"] != runs[0.0].history[0]["loss"]  # the trainer passes the offsets


def test_hard_regions_repeat_every_sample_of_each_region_with_enough_wrong_decisions(tiny, tmp_path):
    from safetensors.torch import load_file

    from optinc_pdk.spec.scenario import scenario_from_dict
    from optinc_pdk.training.trainer import HardExamples

    regional = {**TINY["training"], "hard_example_repeats": 2, "hard_region_inputs": [1], "hard_region_min_wrong": 2}
    scenario = scenario_from_dict({**TINY, "training": regional}, "tiny.yml")
    data = exhaustive_dataset(scenario)
    second_input = data.numerators[:, 1]
    region_a, region_b = np.flatnonzero(second_input == second_input[0]), np.flatnonzero(second_input == second_input[-1])
    mask = np.ones(data.size, dtype=bool)
    mask[region_a[[0, 3]]] = False  # two wrong decisions in one region, one in another
    mask[region_b[1]] = False
    hard = HardExamples.of(recipe_for(scenario), data)
    hard.update(mask)
    assert hard.indices.tolist() == region_a.tolist()  # the whole region, right and wrong samples alike
    assert hard.summary() == ", repeating 7 samples in 1 regions"
    single = scenario_from_dict({**TINY, "training": {**regional, "hard_region_min_wrong": 1}}, "tiny.yml")
    hard = HardExamples.of(recipe_for(single), data)
    hard.update(mask)
    assert hard.indices.tolist() == sorted(region_a.tolist() + region_b.tolist())
    hard.update(np.ones(data.size, dtype=bool))
    assert len(hard.indices) == 0

    for bad, message in (({"hard_example_repeats": 0}, r"training\.hard_region_inputs: needs hard_example_repeats > 0"),
                         ({"hard_region_inputs": [2]},
                          r"training\.hard_region_inputs: input 2 does not exist \(inputs are 0\.\.1\)"),
                         ({"hard_region_inputs": [1, 1]}, r"training\.hard_region_inputs: list distinct input indices"),
                         ({"hard_region_min_wrong": 0}, r"training\.hard_region_min_wrong"),
                         ({"hard_region_inputs": None, "hard_region_min_wrong": 3},
                          r"training\.hard_region_min_wrong: only counts with hard_region_inputs")):
        with pytest.raises(OptincError, match=message):
            recipe_for(scenario_from_dict({**TINY, "training": {**regional, **bad}}, "tiny.yml"))

    torch.set_num_threads(1)
    start = train(TrainRequest(tiny, epochs=20, approx_epochs=0, eval_every=100, log=_quiet)).weights
    short = dict(init=start, continue_pretraining=True, epochs=3, approx_epochs=0, lr=0.002, eval_every=1,
                 checkpoint_every=1, log=_quiet)
    singly = scenario_from_dict({**TINY, "training": {**TINY["training"], "hard_example_repeats": 2}}, "tiny.yml")
    crowded = scenario_from_dict({**TINY, "training": {**regional, "hard_region_min_wrong": 6}}, "tiny.yml")
    lines = []
    by_region = train(TrainRequest(crowded, run_dir=tmp_path / "regions", **{**short, "log": lines.append}))
    assert "repeating" in lines[-2] and "regions" in lines[-2]  # the last evaluation says what it repeats
    by_sample = train(TrainRequest(singly, run_dir=tmp_path / "samples", **short))
    assert by_region.weights.digest() != by_sample.weights.digest()
    kept = load_file(str(tmp_path / "regions" / "checkpoint.safetensors"))["extra.hard_examples"].numpy()
    regions_kept = np.unique(second_input[kept])
    assert 0 < len(kept) < data.size  # whole regions: every sample whose region holds a wrong decision
    assert sorted(kept.tolist()) == np.flatnonzero(np.isin(second_input, regions_kept)).tolist()
    assert by_region.weights.provenance["training"]["hard_region_inputs"] == [1]


def test_freeze_output_layer_keeps_the_output_layer_and_trains_the_rest(tmp_path):
    """freeze_output_layer: the output layer leaves training exactly as it came in (float32), the hidden
    layers move; an approximated output layer cannot be frozen."""
    torch.set_num_threads(1)
    plain = scenario_from_dict(TINY, "tiny.yml")
    start = train(TrainRequest(plain, epochs=20, approx_epochs=0, eval_every=100, log=_quiet)).weights
    frozen = scenario_from_dict({**TINY, "training": {**TINY["training"], "freeze_output_layer": True}}, "tiny.yml")
    result = train(TrainRequest(frozen, init=start, continue_pretraining=True, epochs=6, approx_epochs=2,
                                lr=0.002, eval_every=100, log=_quiet)).weights
    as_float32 = [np.asarray(a, dtype=np.float32).astype(np.float64) for a in (start.weights[-1], start.biases[-1])]
    assert np.array_equal(result.weights[-1], as_float32[0]) and np.array_equal(result.biases[-1], as_float32[1])
    assert not np.allclose(result.biases[0], start.biases[0], atol=1e-4)
    assert result.provenance["training"]["freeze_output_layer"] is True
    with pytest.raises(OptincError, match="freeze_output_layer: layer 4 .* is approximated"):
        recipe_for(scenario_from_dict({**TINY, "approx_layers": [2, 3, 4],
                                       "training": {**TINY["training"], "freeze_output_layer": True}}, "tiny.yml"))


def test_the_recipe_is_read_from_the_scenario_file_and_checked_in_one_line(tmp_path, run_cli):
    """recipe_for reads training: (a cascade's level 2: level2_training:, default training:) from the
    scenario's file, checked against the chip; a typo is one line naming file and field when `optinc
    train` runs (loading checks only the blocks' shape: the chip layer does not import the recipe's)."""
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(TINY))
    tiny = load_scenario_file(path)
    recipe = recipe_for(tiny)
    assert isinstance(recipe, TrainingRecipe) and recipe.epochs == 1500 and recipe.lr == 0.01
    assert recipe_for(tiny.with_updates(approx_layers=[2])) == recipe  # the blocks travel with the copy
    cascade = scenario_from_dict({**TINY_CASCADE, "level2_training": {"epochs": 7, "noise_gain": 1.5}}, "c.yml")
    assert recipe_for(cascade, 1).epochs == 4 and recipe_for(cascade, 2).epochs == 7
    assert recipe_for(cascade, 2).noise_gain == 1.5 and recipe_for(cascade, 1).noise_gain == 1.0
    assert recipe_for(scenario_from_dict(TINY_CASCADE, "c.yml"), 2).epochs == 4  # default: training
    tilted = {**TINY_CASCADE, "level2_training": {"target_tilt": [0.3, 0.0], "clip_to_levels": True}}
    assert recipe_for(scenario_from_dict(tilted, "c.yml"), 2).target_tilt == [0.3, 0.0]  # level 2 may tilt
    with pytest.raises(OptincError, match=r"^c\.yml: level2_training\.importance: needs one weight per output"):
        check_recipes(scenario_from_dict({**TINY_CASCADE, "level2_training": {"importance": [1.0]}}, "c.yml"))
    with pytest.raises(OptincError, match=r"^c\.yml: cascade\.level2_training: moved"):
        scenario_from_dict({**TINY_CASCADE, "cascade": {**TINY_CASCADE["cascade"], "level2_training": {}}}, "c.yml")
    with pytest.raises(OptincError, match=r"^tiny\.yml: level2_training: only a cascade has a level 2"):
        scenario_from_dict({**TINY, "level2_training": {"epochs": 3}}, "tiny.yml")
    with pytest.raises(OptincError, match=r"^tiny\.yml: training: must be a mapping"):
        scenario_from_dict({**TINY, "training": 5}, "tiny.yml")
    typo = tmp_path / "typo.yml"
    typo.write_text(yaml.safe_dump({**TINY, "training": {**TINY["training"], "epoch": 5}}))
    with pytest.raises(OptincError) as raised:
        recipe_for(load_scenario_file(typo))
    assert str(raised.value) == f"{typo}: training.epoch: unknown field (not part of a training recipe; check the spelling)"
    code, out, err = run_cli(["train", typo, "-o", tmp_path / "never.npz"])
    assert (code, out) == (2, "") and err.strip() == f"optinc: error: {raised.value}"
    assert not (tmp_path / "never.npz").exists()
    # `optinc train` checks both levels' recipes of a cascade before training either
    level2_typo = tmp_path / "c.yml"
    level2_typo.write_text(yaml.safe_dump({**TINY_CASCADE, "level2_training": {"noise_gian": 2}}))
    code, out, err = run_cli(["train", level2_typo, "--level", "1", "-o", tmp_path / "never.npz"])
    assert code == 2 and err.strip() == (f"optinc: error: {level2_typo}: level2_training.noise_gian: unknown field "
                                         f"(not part of a training recipe; check the spelling)")


def test_a_scenario_built_in_memory_trains_with_an_explicit_recipe():
    """Scenario(...) has no recipe (the defaults); TrainRequest(recipe=...) gives one, checked against the chip."""
    from optinc_pdk.spec.scenario import Scenario

    torch.set_num_threads(1)
    chip = Scenario(**{key: value for key, value in TINY.items() if key != "training"})
    assert recipe_for(chip) == TrainingRecipe()
    recipe = TrainingRecipe(epochs=2, stage1_epochs=1, approx_epochs=1, polish_epochs=0, batch_size=49, lr=0.01)
    result = train(TrainRequest(chip, recipe=recipe, eval_every=1, log=_quiet))
    assert result.epochs_run == 3 and result.weights.provenance["training"] == recipe.model_dump()
    from_file = scenario_from_dict({**TINY, "training": recipe.model_dump()}, "tiny.yml")
    assert train(TrainRequest(from_file, eval_every=1, log=_quiet)).weights.digest() == result.weights.digest()
    with pytest.raises(OptincError, match=r"^training\.importance: needs one weight per output \(2\), got 3"):
        train(TrainRequest(chip, recipe=TrainingRecipe(importance=[1.0, 1.0, 1.0]), log=_quiet))


def test_one_provenance_writer_gives_every_record_the_same_common_fields():
    """Training, revival, output refit, construction and random weights all record through
    weights.provenance_record: the same shape fields and method; measured ones where measured."""
    from optinc_pdk.circuit.random_weights import random_weights
    from optinc_pdk.core.weights import scenario_record
    from optinc_pdk.training.construct import constructed_weights
    from optinc_pdk.training.refit_output import refit_output_layer
    from optinc_pdk.training.revive import revive_dead_units

    torch.set_num_threads(1)
    tiny = scenario_from_dict(TINY, "tiny.yml")
    data = exhaustive_dataset(tiny)
    built, _ = constructed_weights(tiny)
    trained = train(TrainRequest(tiny, epochs=1, approx_epochs=0, eval_every=1, log=_quiet)).weights
    records = {"construction": built.provenance, "training": trained.provenance,
               "revival": revive_dead_units(trained, tiny, data).weights.provenance,
               "output refit": refit_output_layer(built, tiny, data, log=_quiet).weights.provenance,
               "random": random_weights(tiny, 1).provenance}
    shape = scenario_record(tiny)
    for method, record in records.items():
        assert record["method"] == method and {key: record[key] for key in shape} == shape
    for record in (built.provenance, trained.provenance):
        assert {"accuracy", "dataset", "dataset_size", "wall_time_s", "machine", "python", "numpy"} <= set(record)
    assert "torch" in trained.provenance and "torch" not in built.provenance
    # derived weights keep their start's own fields, not its measured ones (that accuracy no longer holds)
    assert records["revival"]["training"] == trained.provenance["training"] and "accuracy" not in records["revival"]
    assert records["output refit"]["stages"] == built.provenance["stages"]
    assert set(records["random"]) == set(shape) | {"method", "random_seed"}  # a function of the seed alone
