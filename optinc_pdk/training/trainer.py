"""`optinc train`: pretrain the MLP, then train it in the hardware's block form, then enforce it.

Phase "pretrain": plain layers, eq. 7's two-stage loss (stage switch after E epochs) with the
margin hinge, until the whole exhaustive dataset is decided correctly (or the epoch budget ends).
Phase "approx": the selected layers become block diag×orthogonal (initialised at their
projection, eq. 4–6) and keep training in that form. At the end the float64 projection is
enforced and the accuracy of exactly the exported weights is measured.

Batches are index slices of the integer dataset, converted per batch, so 13.8M samples never
need a 13.8M-sample activation tensor. Shuffling and the learning-rate schedule are functions of
(seed, epoch, step): resuming from a checkpoint continues bit-for-bit on the CPU.
"""

from __future__ import annotations

import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from optinc_pdk.blockform import block_approximation
from optinc_pdk.datasets import Dataset, exhaustive_dataset, with_level1_errors
from optinc_pdk.errors import OptincError
from optinc_pdk.scenario import Scenario, TrainingOptions
from optinc_pdk.training.checkpoint import load_checkpoint, load_model_state, restore, save_checkpoint
from optinc_pdk.training.loss import DecisionGrid, default_importance, two_stage_loss
from optinc_pdk.training.model import OnnMLP, block_row_coupling
from optinc_pdk.training.revive import revive_dead_units
from optinc_pdk.weights import OnnWeights, from_state_dict, load_npz, save_npz, scenario_record


@dataclass(frozen=True)
class TrainProgress:
    """Where a run stands after each batch, for a progress bar."""

    phase: str  # pretrain, approx or polish
    epoch: float  # epochs done in this phase, fractional inside an epoch
    epochs: int  # the phase's budget
    loss: float  # mean batch loss of the epoch so far
    accuracy: float | None  # at the last whole-dataset evaluation (None before the first)


@dataclass
class TrainRequest:
    scenario: Scenario
    level: int | None = None
    device: str = "cpu"
    run_dir: Path | None = None
    resume: bool = False
    epochs: int | None = None  # overrides scenario.training.epochs
    approx_epochs: int | None = None
    batch_size: int | None = None
    eval_every: int = 5
    checkpoint_every: int = 5
    threads: int | None = None
    init: OnnWeights | None = None  # start from these weights in the hardware's block form (no pretraining)
    # with init: keep pretraining the plain layers first (stage-2 loss, coupling penalty at full weight)
    continue_pretraining: bool = False
    lr: float | None = None  # overrides the pretraining peak rate
    level1: OnnWeights | None = None  # cascade level 2: the level-1 weights whose analog errors it must absorb
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))
    progress: Callable[[TrainProgress], None] | None = None  # called after every batch
    # stop at the first epoch boundary after this many seconds of this call, checkpointed for --resume
    time_limit_s: float | None = None


@dataclass
class TrainResult:
    weights: OnnWeights
    accuracy: float
    epochs_run: int
    wall_s: float
    history: list[dict]


@dataclass
class BestSoFar:
    """The most accurate block-form weights evaluated so far (the switch and every hardware-aware
    evaluation), kept as ``best.npz`` in the run folder: a phase that drifts down never loses them."""

    run_dir: Path | None
    record: dict
    accuracy: float = -1.0
    weights: OnnWeights | None = None
    where: dict = field(default_factory=dict)

    @classmethod
    def resumed(cls, run_dir: Path, record: dict) -> "BestSoFar":
        path = run_dir / "best.npz"
        if not path.is_file():
            return cls(run_dir, record)
        kept = load_npz(path)
        where = {"phase": kept.provenance["phase"], "epoch": kept.provenance["epoch"]}
        return cls(run_dir, record, float(kept.provenance["accepted"]), kept, where)

    def offer(self, accuracy: float, weights: OnnWeights, phase: str, epoch: int) -> None:
        if accuracy <= self.accuracy:
            return
        self.accuracy, self.weights, self.where = accuracy, weights, {"phase": phase, "epoch": epoch}
        if self.run_dir is not None:
            save_npz(self.run_dir / "best.npz", weights, {**self.record, **self.where, "accepted": accuracy})


@dataclass
class HardExamples:
    """Samples not accepted at the last evaluation, shown ``repeats`` extra times in every epoch.

    Near 100% the few wrong samples are a sliver of each epoch and their gradient drowns in the
    hinge terms of the many correct ones; repeating them focuses the steps where the decisions
    fail. The set is a function of the evaluated weights and travels with the checkpoint, so a
    resumed run shuffles exactly as an uninterrupted one.
    """

    repeats: int = 0
    indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # per sample, the region it belongs to (None: each wrong sample is repeated alone)
    regions: np.ndarray | None = None
    min_wrong: int = 1

    @classmethod
    def of(cls, opts: TrainingOptions, data: Dataset) -> "HardExamples":
        """The repeats the training options ask for; regions keyed by ``hard_region_inputs``' values."""
        if not opts.hard_example_repeats or opts.hard_region_inputs is None:
            return cls(opts.hard_example_repeats)
        _, regions = np.unique(data.numerators[:, opts.hard_region_inputs], axis=0, return_inverse=True)
        return cls(opts.hard_example_repeats, regions=regions.reshape(-1).astype(np.int64),
                   min_wrong=opts.hard_region_min_wrong)

    def update(self, accepted_mask: np.ndarray) -> None:
        if not self.repeats:
            return
        if self.regions is None:
            self.indices = np.flatnonzero(~accepted_mask).astype(np.int64)
            return
        wrong = np.bincount(self.regions[~accepted_mask], minlength=int(self.regions.max()) + 1)
        self.indices = np.flatnonzero(wrong[self.regions] >= self.min_wrong).astype(np.int64)

    def summary(self) -> str:
        """For the evaluation's log line: how many samples the next epochs repeat."""
        if not self.repeats:
            return ""
        where = "" if self.regions is None else f" in {len(np.unique(self.regions[self.indices]))} regions"
        return f", repeating {len(self.indices)} samples{where}"

    def epoch_order(self, size: int, generator: torch.Generator) -> np.ndarray:
        order = torch.randperm(size, generator=generator).numpy()
        if not self.repeats or not len(self.indices):
            return order
        extra = np.tile(self.indices, self.repeats)
        merged = np.concatenate([order, extra])
        return merged[torch.randperm(len(merged), generator=generator).numpy()]

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"hard_examples": torch.as_tensor(self.indices)} if self.repeats else {}

    def restore(self, tensors: dict[str, torch.Tensor]) -> None:
        if self.repeats and "extra.hard_examples" in tensors:
            self.indices = tensors["extra.hard_examples"].numpy().astype(np.int64)


def _lr_at(progress: float, peak: float, warmup: float = 0.1) -> float:
    """One-cycle: linear warm-up to ``peak`` then cosine down to peak/100."""
    if progress < warmup:
        return peak * (0.04 + 0.96 * progress / warmup)
    t = (progress - warmup) / (1 - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def accepted_by_model(model: torch.nn.Module, data: Dataset, device: torch.device, batch: int = 65536) -> np.ndarray:
    """Per sample: accepted (see :func:`accepted`) by the torch model."""
    def forward(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.as_tensor(x, device=device)).cpu().numpy()

    model.eval()
    try:
        return accepted(forward, data, np.float32, batch)
    finally:
        model.train()


def accepted(forward: Callable[[np.ndarray], np.ndarray], data: Dataset, dtype, batch: int = 65536) -> np.ndarray:
    """Per sample: decided correctly on the exact input and on every noisy variant (level 2: level 1's real
    errors added), with every raw output within the link tolerance (level 1)."""
    ok = np.ones(data.size, dtype=bool)
    for start in range(0, data.size, batch):
        window = slice(start, start + batch)
        for variant in data.variants():
            out = forward(data.variant_inputs(variant, window, dtype))
            ok[window] &= data.correct(out, window)
            if variant == 0:
                ok[window] &= data.within_tolerance(out, window)
    return ok


def training_dataset(scenario: Scenario, level: int | None, level1: OnnWeights | None) -> Dataset:
    """The exhaustive dataset; for a cascade's level 2 with level 1's real output errors attached."""
    data = exhaustive_dataset(scenario, level)
    if level != 2 or scenario.cascade is None:
        return data
    if level1 is None:
        raise OptincError(f"{scenario.name}: level 2 trains against level 1's analog errors: level-1 weights needed "
                          f"(train level 1 first: `optinc train {scenario.name} --level 1`)")
    first = exhaustive_dataset(scenario, 1)
    return with_level1_errors(data, first, level1.forward(first.inputs(dtype=np.float64)),
                              scenario.cascade.servers_per_optinc, scenario.training_for(level).noise_gain)


def enforce(model: OnnMLP, scenario: Scenario) -> OnnWeights:
    """The exported float64 weights: approximated layers projected exactly onto the block form."""
    state = model.plain_state()
    for number in scenario.approx_layers:
        key = f"layers.{number - 1}.weight"
        state[key] = block_approximation(state[key])
    return from_state_dict(state)


def decision_accuracy(weights: OnnWeights, data: Dataset) -> float:
    """Fraction of exact inputs whose every output is decided correctly (the paper's accuracy)."""
    ok = [data.correct(weights.forward(data.inputs(slice(i, i + 65536), dtype=np.float64)), slice(i, i + 65536))
          for i in range(0, data.size, 65536)]
    return float(np.concatenate(ok).mean()) if ok else 1.0


def exact_accuracy(weights: OnnWeights, data: Dataset) -> float:
    """Fraction of samples accepted by the exported float64 weights."""
    return float(accepted(weights.forward, data, np.float64).mean())


def train(request: TrainRequest) -> TrainResult:
    scenario = request.scenario
    opts = scenario.training_for(request.level)
    if request.continue_pretraining and request.init is None:
        raise OptincError("--continue-pretraining: give the weights to continue from with --init")
    if request.lr is not None and not request.lr > 0:
        raise OptincError(f"--lr: must be positive (got {request.lr})")
    if request.time_limit_s is not None and not request.time_limit_s > 0:
        raise OptincError(f"--time-limit: must be positive (got {request.time_limit_s})")
    if request.device == "cuda" and not torch.cuda.is_available():
        raise OptincError("--device cuda: no CUDA device is available to torch here")
    device = torch.device(request.device)
    if request.threads:
        torch.set_num_threads(request.threads)
    torch.manual_seed(scenario.seed)
    data = training_dataset(scenario, request.level, request.level1)
    pre_epochs = request.epochs if request.epochs is not None else opts.epochs
    approx_epochs = (request.approx_epochs if request.approx_epochs is not None else opts.approx_epochs) \
        if scenario.approx_layers else 0
    batch_size = request.batch_size or opts.batch_size
    approx_lr = opts.approx_lr or opts.lr / 2
    importance = torch.tensor(opts.importance or default_importance(data.n_outputs), device=device)
    grid = DecisionGrid.of(data, opts, device=device)
    noise = None if data.input_noise is None else torch.as_tensor(data.input_noise, dtype=torch.float32)
    run_dir = request.run_dir
    hard = HardExamples.of(opts, data)

    record = scenario_record(scenario, request.level)
    model = OnnMLP(scenario.widths).to(device)
    if opts.freeze_output_layer:
        model.freeze_output()
    phase, epoch, history, approx_start, polish_start, meta_polish_start = "pretrain", 0, [], 0, 0, None
    continued, pre_lr = request.init is not None and request.continue_pretraining, request.lr or opts.lr
    optimizer = torch.optim.Adam(model.parameters(), lr=pre_lr)
    init_record = None if request.init is None else {
        "source": request.init.source, "sha256": request.init.digest(), "continued_pretraining": continued}
    if request.resume:
        if run_dir is None or not (run_dir / "checkpoint.json").is_file():
            raise OptincError(f"--resume: no checkpoint in {run_dir}")
        meta, tensors = load_checkpoint(run_dir)
        if meta.get("scenario") != scenario.name or meta.get("level") != request.level:
            raise OptincError(f"{run_dir}/checkpoint.json: scenario: checkpoint is for {meta.get('scenario')} level {meta.get('level')}")
        phase, epoch, history = meta["phase"], meta["epoch"], meta["history"]
        approx_start = meta.get("approx_start", epoch)
        meta_polish_start = meta.get("polish_start")
        continued, pre_lr = meta.get("continued_pretraining", False), meta.get("pretrain_lr", pre_lr)
        init_record = meta.get("initialised_from")
        if phase in ("approx", "polish"):
            model.approximate(scenario.approx_layers, opts.approx_scale_rows)
            optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr)
        if phase == "polish":
            model.freeze_unitaries()
            optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=opts.lr)
        restore(model, optimizer, tensors)
        hard.restore(tensors)
        request.log(f"resumed {scenario.name} at phase {phase}, epoch {epoch}")
    elif request.init is not None:
        load_plain_weights(model, request.init)
        if scenario.approx_layers and not continued:
            phase, pre_epochs = "approx", 0
            model.approximate(scenario.approx_layers, opts.approx_scale_rows)
            optimizer = torch.optim.Adam(model.parameters(), lr=approx_lr)
        request.log(f"{scenario.name}: starting from {request.init.source or 'the given weights'}")
        if hard.repeats:  # the starting weights' wrong samples repeat from the first epoch
            hard.update(accepted_by_model(model, data, device))

    started = time.perf_counter() - (history[-1]["wall_s"] if history else 0.0)
    call_started = time.perf_counter()
    stopped = None  # where the time limit stopped the run, if it did

    def out_of_time() -> bool:
        return request.time_limit_s is not None and time.perf_counter() - call_started >= request.time_limit_s

    def stop_here() -> dict:
        request.log(f"[{scenario.name}{_lvl(request.level)}] time limit of {request.time_limit_s:g} s reached at "
                    f"{phase} epoch {epoch}: checkpoint written, continue with --resume")
        return {"reason": "time limit", "time_limit_s": request.time_limit_s, "phase": phase, "epoch": epoch}
    best = BestSoFar.resumed(run_dir, record) if request.resume else BestSoFar(run_dir, record)

    def checkpoint() -> None:
        if run_dir is not None:
            save_checkpoint(run_dir, model, optimizer, extra=hard.tensors(), meta={
                "scenario": scenario.name, "level": request.level, "phase": phase, "epoch": epoch, "history": history,
                "approx_start": approx_start, "polish_start": polish_start if phase == "polish" else None,
                "continued_pretraining": continued, "pretrain_lr": pre_lr, "initialised_from": init_record,
            })

    def run_epoch(phase_epoch: int, phase_total: int, peak: float, stage: int) -> float:
        generator = torch.Generator().manual_seed(scenario.seed * 1_000_003 + epoch)
        order = hard.epoch_order(data.size, generator)
        n_batches = math.ceil(len(order) / batch_size)
        total = 0.0
        for b in range(n_batches):
            index = order[b * batch_size : (b + 1) * batch_size]
            x = torch.as_tensor(data.inputs(index))
            if noise is not None:  # level 2: the mean of N real level-1 output errors, as the optics deliver
                picks = torch.randint(noise.shape[0], (len(index), data.noise_sources), generator=generator)
                x = x + noise[picks].mean(dim=1)
            x = x.to(device)
            y = torch.as_tensor(data.targets(index), device=device)
            for group in optimizer.param_groups:
                group["lr"] = _lr_at((phase_epoch + b / n_batches) / phase_total, peak)
            loss = two_stage_loss(model(x), y, grid.step, importance, stage, opts.margin,
                                  grid.threshold, grid.top, grid.hinge, opts.fit_weight, grid.offsets(data, index))
            if phase == "pretrain" and opts.orthogonality_weight and scenario.approx_layers:
                # a continued network is already near the block form: hold it there from the start
                ramp = 1.0 if continued else min(1.0, (epoch + b / n_batches) / max(pre_epochs, 1))
                coupling = sum(block_row_coupling(model.layers[n - 1].weight) for n in scenario.approx_layers)
                loss = loss + opts.orthogonality_weight * ramp * coupling
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if phase == "approx" and (b + 1) % opts.project_every == 0:  # not in polish: Û is frozen
                model.retract()
            total += loss.item()
            if request.progress is not None:
                request.progress(TrainProgress(phase, phase_epoch + (b + 1) / n_batches, phase_total, total / (b + 1),
                                               last_accuracy(history)))
        if phase == "approx":
            model.retract()
        return total / n_batches

    accuracy = 0.0
    if phase == "pretrain":
        while epoch < pre_epochs:
            stage = 1 if epoch < opts.stage1_epochs and not continued else 2
            loss = run_epoch(epoch, pre_epochs, pre_lr, stage)
            epoch += 1
            if epoch % request.eval_every == 0 or epoch == pre_epochs:
                mask = accepted_by_model(model, data, device)
                hard.update(mask)
                accuracy = float(mask.mean())
                history.append({"phase": phase, "epoch": epoch, "loss": loss, "accuracy": accuracy,
                                "wall_s": time.perf_counter() - started})
                coupling = ""
                if opts.orthogonality_weight and scenario.approx_layers:
                    coupling = f" block coupling {_worst_coupling(model, scenario.approx_layers):.2e}"
                request.log(f"[{scenario.name}{_lvl(request.level)}] pretrain epoch {epoch}/{pre_epochs} "
                            f"loss {loss:.5f} accuracy {accuracy:.6f}{coupling}{hard.summary()}")
                if accuracy == 1.0 and stage == 2:
                    break
            if opts.revive_every and epoch % opts.revive_every == 0 and epoch + opts.revive_every <= pre_epochs:
                revived = revive_in_place(model, scenario, data, opts.revive_scale, epoch)
                history.append({"phase": "revived", "epoch": epoch, "revived": revived,
                                "wall_s": time.perf_counter() - started})
                request.log(f"[{scenario.name}{_lvl(request.level)}] epoch {epoch}: revived "
                            f"{sum(revived.values())} dead units {revived}")
            if epoch % request.checkpoint_every == 0:
                checkpoint()
            if epoch < pre_epochs and out_of_time():
                stopped = stop_here()
                break
        if approx_epochs and stopped is None:
            phase = "approx"
            coupling = _worst_coupling(model, scenario.approx_layers)
            model.approximate(scenario.approx_layers, opts.approx_scale_rows)
            optimizer = torch.optim.Adam(model.parameters(), lr=approx_lr)
            projected = enforce(model, scenario)
            mask = accepted(projected.forward, data, np.float64)
            hard.update(mask)
            accuracy = float(mask.mean())
            best.offer(accuracy, projected, "projected", epoch)
            # what the switch to the block form cost: the row-coupling penalty exists to keep this small
            history.append({"phase": "projected", "epoch": epoch, "accuracy": float(accuracy), "block_coupling": coupling,
                            "wall_s": time.perf_counter() - started})
            request.log(f"[{scenario.name}{_lvl(request.level)}] projected layers {scenario.approx_layers}: "
                        f"accuracy {accuracy:.6f} (block coupling before {coupling:.2e})")
            if run_dir is not None:  # kept, to start other hardware-aware runs from it with --init
                save_npz(run_dir / "projected.npz", projected,
                         {**record, "phase": "projected", "epochs": epoch,
                          "accepted": float(accuracy)})
            approx_start = epoch
            checkpoint()
    def train_in_block_form(start: int, budget: int, peak: float) -> None:
        """Hardware-aware epochs (approx or polish phase) until 100%, the budget is spent or time is up."""
        nonlocal epoch, accuracy, stopped
        while epoch - start < budget:
            loss = run_epoch(epoch - start, budget, peak, 2)
            epoch += 1
            if (epoch - start) % request.eval_every == 0 or epoch - start == budget:
                evaluated = enforce(model, scenario)
                mask = accepted(evaluated.forward, data, np.float64)
                hard.update(mask)
                accuracy = float(mask.mean())
                best.offer(accuracy, evaluated, phase, epoch)
                history.append({"phase": phase, "epoch": epoch, "loss": loss, "accuracy": accuracy,
                                "wall_s": time.perf_counter() - started})
                request.log(f"[{scenario.name}{_lvl(request.level)}] {phase} epoch {epoch - start}/{budget} "
                            f"loss {loss:.5f} accuracy {accuracy:.6f}{hard.summary()}")
                if accuracy == 1.0:
                    break
            if epoch % request.checkpoint_every == 0:
                checkpoint()
            if epoch - start < budget and out_of_time():
                stopped = stop_here()
                break

    if phase == "approx" and accuracy < 1.0 and stopped is None:  # a lossless switch needs no hardware-aware epochs
        train_in_block_form(approx_start, approx_epochs, approx_lr)
    if phase == "approx" and accuracy < 1.0 and opts.polish_epochs and stopped is None:
        phase = "polish"
        polish_start = epoch
        model.freeze_unitaries()
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=opts.lr / 20)
        checkpoint()
    if phase == "polish" and stopped is None:
        if request.resume and meta_polish_start is not None:
            polish_start = meta_polish_start
        train_in_block_form(polish_start, opts.polish_epochs, opts.lr / 20)
    checkpoint()
    weights = enforce(model, scenario)
    accuracy = exact_accuracy(weights, data)
    selected = None
    if best.weights is not None and best.accuracy > accuracy:  # the last epochs drifted below an earlier state
        request.log(f"[{scenario.name}{_lvl(request.level)}] writing the best evaluated weights "
                    f"({best.where['phase']} epoch {best.where['epoch']}: {best.accuracy:.6f}) "
                    f"instead of the last ({accuracy:.6f})")
        selected = {**best.where, "accepted": best.accuracy, "last_accepted": accuracy}
        weights, accuracy = best.weights, best.accuracy
    wall = time.perf_counter() - started
    provenance = {
        **record,
        "seed": scenario.seed,
        "epochs": epoch,
        "batch_size": batch_size,
        "training": opts.model_dump(),
        "dataset": data.name,
        "dataset_size": data.size,
        "accuracy": decision_accuracy(weights, data),  # as `optinc evaluate` reports it
        "accepted": accuracy,  # what training stopped on (adds the link tolerance / level-1 noise variants)
        "wall_time_s": round(wall, 1),
        "device": str(device),
        "machine": f"{platform.node() or 'unknown'} {platform.machine()} {cpu_name()} ({torch.get_num_threads()} threads)",
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    if selected is not None:
        provenance["selected"] = selected
    if stopped is not None:
        provenance["stopped"] = stopped
    if init_record is not None:
        provenance["initialised_from"] = init_record
    if pre_lr != opts.lr:
        provenance["pretrain_lr"] = pre_lr
    if data.output_tolerance is not None:
        provenance["link_tolerance"] = list(map(float, scenario.cascade.link_tolerance))
    if request.level1 is not None:
        provenance["trained_against_level1"] = {"source": request.level1.source, "sha256": request.level1.digest()}
    return TrainResult(OnnWeights(weights.weights, weights.biases, provenance), accuracy, epoch, wall, history)


def checkpoint_weights(scenario: Scenario, level: int | None, run_dir: Path) -> OnnWeights:
    """The weights a checkpoint holds, enforced into block form as a finished run would write them."""
    if not (run_dir / "checkpoint.json").is_file():
        raise OptincError(f"{run_dir}: no checkpoint.json here")
    meta, tensors = load_checkpoint(run_dir)
    if meta.get("scenario") != scenario.name or meta.get("level") != level:
        raise OptincError(f"{run_dir}/checkpoint.json: scenario: checkpoint is for {meta.get('scenario')} "
                          f"level {meta.get('level')}")
    model = OnnMLP(scenario.widths)
    if meta["phase"] in ("approx", "polish"):
        model.approximate(scenario.approx_layers, scenario.training_for(level).approx_scale_rows)
    load_model_state(model, {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    weights = enforce(model, scenario)
    provenance = {**scenario_record(scenario, level), "from_checkpoint": str(run_dir), "phase": meta["phase"],
                  "epochs": meta["epoch"], "accepted_at_last_evaluation": last_accuracy(meta.get("history") or [])}
    return OnnWeights(weights.weights, weights.biases, provenance)


def last_accuracy(history: list[dict]) -> float | None:
    """The latest evaluated accuracy (revival entries carry none)."""
    return next((entry["accuracy"] for entry in reversed(history) if "accuracy" in entry), None)


def revive_in_place(model: OnnMLP, scenario: Scenario, data: Dataset, scale: float, epoch: int) -> dict[str, int]:
    """Re-aim the model's dead units (``revive_every``); seeded by the epoch, so a resumed run revives the same."""
    result = revive_dead_units(from_state_dict(model.plain_state()), scenario, data, scale=scale,
                               seed=scenario.seed * 1_000_003 + epoch)
    if result.revived:
        load_plain_weights(model, result.weights)
    return {str(k): v for k, v in result.revived.items()}


def load_plain_weights(model: OnnMLP, weights: OnnWeights) -> None:
    with torch.no_grad():
        for layer, w, b in zip(model.layers, weights.weights, weights.biases):
            layer.weight.copy_(torch.as_tensor(w))
            layer.bias.copy_(torch.as_tensor(b))


@torch.no_grad()
def _worst_coupling(model: OnnMLP, layers_1based: list[int]) -> float:
    return max(float(block_row_coupling(model.layers[n - 1].weight)) for n in layers_1based)


def _lvl(level: int | None) -> str:
    return f" level {level}" if level else ""


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"
