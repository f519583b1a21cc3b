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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from optinc_pdk.core.datasets import Dataset, exhaustive_dataset, with_level1_errors
from optinc_pdk.core.weights import OnnWeights, from_state_dict, load_npz, provenance_record, save_npz
from optinc_pdk.decompose.blockform import block_approximation
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import Scenario
from optinc_pdk.training.checkpoint import load_checkpoint, load_model_state, restore, save_checkpoint
from optinc_pdk.training.loss import DecisionGrid, default_importance, two_stage_loss
from optinc_pdk.training.model import OnnMLP, block_row_coupling
from optinc_pdk.training.recipe import TrainingRecipe, checked_recipe, recipe_for
from optinc_pdk.training.revive import revive_dead_units


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
    epochs: int | None = None  # overrides the recipe's epochs
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
    # the training recipe; default: the scenario file's (recipe_for); give it for scenarios built in memory
    recipe: TrainingRecipe | None = None


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
    def resumed(cls, run_dir: Path, record: dict) -> BestSoFar:
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
    def of(cls, opts: TrainingRecipe, data: Dataset) -> HardExamples:
        """The repeats the recipe asks for; regions keyed by ``hard_region_inputs``' values."""
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


def training_dataset(scenario: Scenario, level: int | None, level1: OnnWeights | None,
                     noise_gain: float = 1.0) -> Dataset:
    """The exhaustive dataset; for a cascade's level 2 with level 1's real output errors attached
    (scaled by ``noise_gain``)."""
    data = exhaustive_dataset(scenario, level)
    if level != 2 or scenario.cascade is None:
        return data
    if level1 is None:
        raise OptincError(f"{scenario.name}: level 2 trains against level 1's analog errors: level-1 weights needed "
                          f"(train level 1 first: `optinc train {scenario.name} --level 1`)")
    first = exhaustive_dataset(scenario, 1)
    return with_level1_errors(data, first, level1.forward(first.inputs(dtype=np.float64)),
                              scenario.cascade.servers_per_optinc, noise_gain)


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
    """Pretrain, switch to the block form, train in it, polish (module text); resumable at every checkpoint."""
    recipe = request_recipe(request)
    run = _Run(request, recipe)
    if run.phase == "pretrain":
        run.pretrain()
        if run.approx_epochs and run.stopped is None:
            run.switch_to_block_form()
    if run.phase == "approx" and run.accuracy < 1.0 and run.stopped is None:  # a lossless switch needs no more
        run.train_in_block_form(run.approx_start, run.approx_epochs, run.approx_lr)
    if run.phase == "approx" and run.accuracy < 1.0 and recipe.polish_epochs and run.stopped is None:
        run.start_polish()
    if run.phase == "polish" and run.stopped is None:
        run.train_in_block_form(run.polish_start, recipe.polish_epochs, recipe.lr / 20)
    run.checkpoint()
    return run.result()


def request_recipe(request: TrainRequest) -> TrainingRecipe:
    """The request's recipe (given, or the scenario file's) once the request itself is checked."""
    if request.continue_pretraining and request.init is None:
        raise OptincError("--continue-pretraining: give the weights to continue from with --init")
    if request.lr is not None and not request.lr > 0:
        raise OptincError(f"--lr: must be positive (got {request.lr})")
    if request.time_limit_s is not None and not request.time_limit_s > 0:
        raise OptincError(f"--time-limit: must be positive (got {request.time_limit_s})")
    if request.device == "cuda" and not torch.cuda.is_available():
        raise OptincError("--device cuda: no CUDA device is available to torch here")
    if request.recipe is not None:
        return checked_recipe(request.recipe, request.scenario, request.level)
    return recipe_for(request.scenario, request.level)


class _Run:
    """One call of :func:`train`: its fixed setup, the model and optimiser, where the run stands (phase,
    epoch, history, last accuracy) and the steps that move it on. The model is created right after
    the seed is set, so the same request starts from the same weights."""

    def __init__(self, request: TrainRequest, recipe: TrainingRecipe):
        scenario = request.scenario
        self.request, self.scenario, self.recipe = request, scenario, recipe
        self.tag = f"[{scenario.name}{_lvl(request.level)}]"
        self.device = torch.device(request.device)
        if request.threads:
            torch.set_num_threads(request.threads)
        torch.manual_seed(scenario.seed)
        self.data = data = training_dataset(scenario, request.level, request.level1, recipe.noise_gain)
        self.pre_epochs = request.epochs if request.epochs is not None else recipe.epochs
        self.approx_epochs = (request.approx_epochs if request.approx_epochs is not None else recipe.approx_epochs) \
            if scenario.approx_layers else 0
        self.batch_size = request.batch_size or recipe.batch_size
        self.approx_lr = recipe.approx_lr or recipe.lr / 2
        self.importance = torch.tensor(recipe.importance or default_importance(data.n_outputs), device=self.device)
        self.grid = DecisionGrid.of(data, recipe, device=self.device)
        self.noise = None if data.input_noise is None else torch.as_tensor(data.input_noise, dtype=torch.float32)
        self.run_dir = request.run_dir
        self.hard = HardExamples.of(recipe, data)
        self.record = provenance_record(scenario, request.level, method="training", environment=False)
        self.model = OnnMLP(scenario.widths).to(self.device)
        if recipe.freeze_output_layer:
            self.model.freeze_output()
        self.phase, self.epoch, self.history = "pretrain", 0, []
        self.approx_start, self.polish_start, self.accuracy = 0, 0, 0.0
        self.stopped: dict | None = None  # where the time limit stopped the run, if it did
        self.continued = request.init is not None and request.continue_pretraining
        self.pre_lr = request.lr or recipe.lr
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.pre_lr)
        self.init_record = None if request.init is None else {
            "source": request.init.source, "sha256": request.init.digest(), "continued_pretraining": self.continued}
        if request.resume:
            self._resume()
        elif request.init is not None:
            self._start_from(request.init)
        self.started = time.perf_counter() - (self.history[-1]["wall_s"] if self.history else 0.0)
        self.call_started = time.perf_counter()
        self.best = BestSoFar.resumed(self.run_dir, self.record) if request.resume else BestSoFar(self.run_dir, self.record)

    # -- starting points ------------------------------------------------------------------------
    def _resume(self) -> None:
        """Continue where the run folder's checkpoint stands."""
        run_dir, scenario, recipe = self.run_dir, self.scenario, self.recipe
        if run_dir is None or not (run_dir / "checkpoint.json").is_file():
            raise OptincError(f"--resume: no checkpoint in {run_dir}")
        meta, tensors = load_checkpoint(run_dir)
        if meta.get("scenario") != scenario.name or meta.get("level") != self.request.level:
            raise OptincError(f"{run_dir}/checkpoint.json: scenario: checkpoint is for {meta.get('scenario')} "
                              f"level {meta.get('level')}")
        self.phase, self.epoch, self.history = meta["phase"], meta["epoch"], meta["history"]
        self.approx_start = meta.get("approx_start", self.epoch)
        if meta.get("polish_start") is not None:
            self.polish_start = meta["polish_start"]
        self.continued, self.pre_lr = meta.get("continued_pretraining", False), meta.get("pretrain_lr", self.pre_lr)
        self.init_record = meta.get("initialised_from")
        if self.phase in ("approx", "polish"):
            self.model.approximate(scenario.approx_layers, recipe.approx_scale_rows)
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=recipe.lr)
        if self.phase == "polish":
            self.model.freeze_unitaries()
            self.optimizer = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=recipe.lr)
        restore(self.model, self.optimizer, tensors)
        self.hard.restore(tensors)
        self.request.log(f"resumed {scenario.name} at phase {self.phase}, epoch {self.epoch}")

    def _start_from(self, init: OnnWeights) -> None:
        """Given weights: straight into the block form, unless the pretraining continues first."""
        load_plain_weights(self.model, init)
        if self.scenario.approx_layers and not self.continued:
            self.phase, self.pre_epochs = "approx", 0
            self.model.approximate(self.scenario.approx_layers, self.recipe.approx_scale_rows)
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.approx_lr)
        self.request.log(f"{self.scenario.name}: starting from {init.source or 'the given weights'}")
        if self.hard.repeats:  # the starting weights' wrong samples repeat from the first epoch
            self.hard.update(accepted_by_model(self.model, self.data, self.device))

    # -- phases ---------------------------------------------------------------------------------
    def pretrain(self) -> None:
        """Plain layers until the whole dataset is decided correctly, the budget is spent or time is up."""
        recipe, request = self.recipe, self.request
        while self.epoch < self.pre_epochs:
            stage = 1 if self.epoch < recipe.stage1_epochs and not self.continued else 2
            loss = self.run_epoch(self.epoch, self.pre_epochs, self.pre_lr, stage)
            self.epoch += 1
            if self.epoch % request.eval_every == 0 or self.epoch == self.pre_epochs:
                self._evaluate_pretraining(loss)
                if self.accuracy == 1.0 and stage == 2:
                    break
            every = recipe.revive_every
            if every and self.epoch % every == 0 and self.epoch + every <= self.pre_epochs:
                self._revive()
            if self.epoch % request.checkpoint_every == 0:
                self.checkpoint()
            if self.epoch < self.pre_epochs and self._out_of_time():
                self._stop_here()
                break

    def switch_to_block_form(self) -> None:
        """Project the approximated layers onto the block form and measure what the switch cost."""
        layers = self.scenario.approx_layers
        self.phase = "approx"
        coupling = _worst_coupling(self.model, layers)
        self.model.approximate(layers, self.recipe.approx_scale_rows)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.approx_lr)
        projected = self._evaluate_enforced("projected")
        # what the switch to the block form cost: the row-coupling penalty exists to keep this small
        self._note(phase="projected", epoch=self.epoch, accuracy=self.accuracy, block_coupling=coupling)
        self.request.log(f"{self.tag} projected layers {layers}: accuracy {self.accuracy:.6f} (block coupling "
                         f"before {coupling:.2e})")
        if self.run_dir is not None:  # kept, to start other hardware-aware runs from it with --init
            save_npz(self.run_dir / "projected.npz", projected,
                     {**self.record, "phase": "projected", "epochs": self.epoch, "accepted": self.accuracy})
        self.approx_start = self.epoch
        self.checkpoint()

    def train_in_block_form(self, start: int, budget: int, peak: float) -> None:
        """Hardware-aware epochs (approx or polish phase) until 100%, the budget is spent or time is up."""
        while self.epoch - start < budget:
            loss = self.run_epoch(self.epoch - start, budget, peak, 2)
            self.epoch += 1
            if (self.epoch - start) % self.request.eval_every == 0 or self.epoch - start == budget:
                self._evaluate_enforced(self.phase)
                self._note(phase=self.phase, epoch=self.epoch, loss=loss, accuracy=self.accuracy)
                self.request.log(f"{self.tag} {self.phase} epoch {self.epoch - start}/{budget} loss {loss:.5f} "
                                 f"accuracy {self.accuracy:.6f}{self.hard.summary()}")
                if self.accuracy == 1.0:
                    break
            if self.epoch % self.request.checkpoint_every == 0:
                self.checkpoint()
            if self.epoch - start < budget and self._out_of_time():
                self._stop_here()
                break

    def start_polish(self) -> None:
        """Freeze every Û: only d, the biases and the free layers train on, at a twentieth of the rate."""
        self.phase, self.polish_start = "polish", self.epoch
        self.model.freeze_unitaries()
        self.optimizer = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad],
                                          lr=self.recipe.lr / 20)
        self.checkpoint()

    def result(self) -> TrainResult:
        """The enforced weights (or the best evaluated ones, if the last epochs drifted below them)."""
        weights = enforce(self.model, self.scenario)
        accuracy = exact_accuracy(weights, self.data)
        selected = None
        best = self.best
        if best.weights is not None and best.accuracy > accuracy:
            self.request.log(f"{self.tag} writing the best evaluated weights ({best.where['phase']} epoch "
                             f"{best.where['epoch']}: {best.accuracy:.6f}) instead of the last ({accuracy:.6f})")
            selected = {**best.where, "accepted": best.accuracy, "last_accepted": accuracy}
            weights, accuracy = best.weights, best.accuracy
        wall = time.perf_counter() - self.started
        provenance = self._provenance(weights, accuracy, wall, selected)
        return TrainResult(OnnWeights(weights.weights, weights.biases, provenance), accuracy, self.epoch, wall,
                           self.history)

    # -- one epoch ------------------------------------------------------------------------------
    def run_epoch(self, phase_epoch: int, phase_total: int, peak: float, stage: int) -> float:
        """One pass over the (shuffled, hard-example-extended) dataset; the mean batch loss."""
        generator = torch.Generator().manual_seed(self.scenario.seed * 1_000_003 + self.epoch)
        order = self.hard.epoch_order(self.data.size, generator)
        n_batches = math.ceil(len(order) / self.batch_size)
        total = 0.0
        for b in range(n_batches):
            index = order[b * self.batch_size : (b + 1) * self.batch_size]
            loss = self._batch_loss(index, generator, stage, self.epoch + b / n_batches)
            for group in self.optimizer.param_groups:
                group["lr"] = _lr_at((phase_epoch + b / n_batches) / phase_total, peak)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.phase == "approx" and (b + 1) % self.recipe.project_every == 0:  # not in polish: Û is frozen
                self.model.retract()
            total += loss.item()
            if self.request.progress is not None:
                self.request.progress(TrainProgress(self.phase, phase_epoch + (b + 1) / n_batches, phase_total,
                                                    total / (b + 1), last_accuracy(self.history)))
        if self.phase == "approx":
            self.model.retract()
        return total / n_batches

    def _batch_loss(self, index: np.ndarray, generator: torch.Generator, stage: int, progress: float) -> torch.Tensor:
        """Eq. 7's loss with the hinge on one batch; in pretraining plus the ramped row-coupling penalty."""
        data, recipe, grid = self.data, self.recipe, self.grid
        x = torch.as_tensor(data.inputs(index))
        if self.noise is not None:  # level 2: the mean of N real level-1 output errors, as the optics deliver
            picks = torch.randint(self.noise.shape[0], (len(index), data.noise_sources), generator=generator)
            x = x + self.noise[picks].mean(dim=1)
        x = x.to(self.device)
        y = torch.as_tensor(data.targets(index), device=self.device)
        loss = two_stage_loss(self.model(x), y, grid.step, self.importance, stage, recipe.margin, grid.threshold,
                              grid.top, grid.hinge, recipe.fit_weight, grid.offsets(data, index))
        layers = self.scenario.approx_layers
        if self.phase == "pretrain" and recipe.orthogonality_weight and layers:
            # a continued network is already near the block form: hold it there from the start
            ramp = 1.0 if self.continued else min(1.0, progress / max(self.pre_epochs, 1))
            coupling = sum(block_row_coupling(self.model.layers[n - 1].weight) for n in layers)
            loss = loss + recipe.orthogonality_weight * ramp * coupling
        return loss

    # -- evaluation, revival, checkpoints -------------------------------------------------------
    def _evaluate_pretraining(self, loss: float) -> None:
        mask = accepted_by_model(self.model, self.data, self.device)
        self.hard.update(mask)
        self.accuracy = float(mask.mean())
        self._note(phase=self.phase, epoch=self.epoch, loss=loss, accuracy=self.accuracy)
        coupling = ""
        if self.recipe.orthogonality_weight and self.scenario.approx_layers:
            coupling = f" block coupling {_worst_coupling(self.model, self.scenario.approx_layers):.2e}"
        self.request.log(f"{self.tag} pretrain epoch {self.epoch}/{self.pre_epochs} loss {loss:.5f} "
                         f"accuracy {self.accuracy:.6f}{coupling}{self.hard.summary()}")

    def _evaluate_enforced(self, label: str) -> OnnWeights:
        """The exported float64 weights as they stand, measured and offered as the best so far."""
        weights = enforce(self.model, self.scenario)
        mask = accepted(weights.forward, self.data, np.float64)
        self.hard.update(mask)
        self.accuracy = float(mask.mean())
        self.best.offer(self.accuracy, weights, label, self.epoch)
        return weights

    def _revive(self) -> None:
        revived = revive_in_place(self.model, self.scenario, self.data, self.recipe.revive_scale, self.epoch)
        self._note(phase="revived", epoch=self.epoch, revived=revived)
        self.request.log(f"{self.tag} epoch {self.epoch}: revived {sum(revived.values())} dead units {revived}")

    def _note(self, **entry) -> None:
        self.history.append({**entry, "wall_s": time.perf_counter() - self.started})

    def checkpoint(self) -> None:
        if self.run_dir is None:
            return
        save_checkpoint(self.run_dir, self.model, self.optimizer, extra=self.hard.tensors(), meta={
            "scenario": self.scenario.name, "level": self.request.level, "phase": self.phase, "epoch": self.epoch,
            "history": self.history, "approx_start": self.approx_start,
            "polish_start": self.polish_start if self.phase == "polish" else None,
            "continued_pretraining": self.continued, "pretrain_lr": self.pre_lr, "initialised_from": self.init_record,
        })

    def _out_of_time(self) -> bool:
        limit = self.request.time_limit_s
        return limit is not None and time.perf_counter() - self.call_started >= limit

    def _stop_here(self) -> None:
        self.request.log(f"{self.tag} time limit of {self.request.time_limit_s:g} s reached at {self.phase} epoch "
                         f"{self.epoch}: checkpoint written, continue with --resume")
        self.stopped = {"reason": "time limit", "time_limit_s": self.request.time_limit_s, "phase": self.phase,
                        "epoch": self.epoch}

    def _provenance(self, weights: OnnWeights, accepted_share: float, wall: float, selected: dict | None) -> dict:
        scenario, request, data, recipe = self.scenario, self.request, self.data, self.recipe
        optional = {
            "selected": selected,
            "stopped": self.stopped,
            "initialised_from": self.init_record,
            "pretrain_lr": self.pre_lr if self.pre_lr != recipe.lr else None,
            "link_tolerance": None if data.output_tolerance is None else list(map(float, scenario.cascade.link_tolerance)),
            "trained_against_level1": None if request.level1 is None else {
                "source": request.level1.source, "sha256": request.level1.digest()},
        }
        return provenance_record(
            scenario, request.level, method="training",
            accuracy=decision_accuracy(weights, data),  # as `optinc evaluate` reports it
            data=data, wall_s=wall, torch_used=True, seed=scenario.seed, epochs=self.epoch,
            batch_size=self.batch_size, training=recipe.model_dump(),
            accepted=accepted_share,  # what training stopped on (adds the link tolerance / level-1 noise variants)
            device=str(self.device), **{key: value for key, value in optional.items() if value is not None})


def checkpoint_weights(scenario: Scenario, level: int | None, run_dir: Path,
                       recipe: TrainingRecipe | None = None) -> OnnWeights:
    """The weights a checkpoint holds, enforced into block form as a finished run would write them
    (``recipe``: the one the run trained with, default the scenario file's)."""
    if not (run_dir / "checkpoint.json").is_file():
        raise OptincError(f"{run_dir}: no checkpoint.json here")
    meta, tensors = load_checkpoint(run_dir)
    if meta.get("scenario") != scenario.name or meta.get("level") != level:
        raise OptincError(f"{run_dir}/checkpoint.json: scenario: checkpoint is for {meta.get('scenario')} "
                          f"level {meta.get('level')}")
    model = OnnMLP(scenario.widths)
    if meta["phase"] in ("approx", "polish"):
        model.approximate(scenario.approx_layers, (recipe or recipe_for(scenario, level)).approx_scale_rows)
    load_model_state(model, {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    weights = enforce(model, scenario)
    # no environment fields: the export runs anywhere, the training ran where its own record says
    provenance = provenance_record(scenario, level, method="training", environment=False,
                                   from_checkpoint=str(run_dir), phase=meta["phase"], epochs=meta["epoch"],
                                   accepted_at_last_evaluation=last_accuracy(meta.get("history") or []))
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
