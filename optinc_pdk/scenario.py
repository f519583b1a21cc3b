"""Scenario files (``circuits/*.yml``): one OptINC configuration each, validated by pydantic.

A scenario names the gradient width, the server count, the ONN widths, which layers are
block-approximated (1-based, as in the paper), an optional two-level cascade, the training seed
and hyper-parameters, and layout/device options. Every validation failure becomes one line that
names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from optinc_pdk.errors import OptincError, located
from optinc_pdk.geometry import DeviceGeometry
from optinc_pdk.paths import CIRCUITS_DIR


class TrainingOptions(BaseModel):
    """Hyper-parameters of the hardware-aware training (Sec. III-B, eq. 7)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(600, gt=0, description="pretraining epochs of the unconstrained network")
    approx_epochs: int = Field(400, ge=0, description="hardware-aware epochs with the approximated layers")
    polish_epochs: int = Field(200, ge=0, description="final epochs with every Û frozen: only d, biases and full layers train")
    stage1_epochs: int = Field(300, ge=0, description="E of eq. 7: epochs of weighted MSE on the raw outputs")
    batch_size: int = Field(256, gt=0)
    lr: float = Field(2e-3, gt=0)
    margin: float = Field(0.3, ge=0, lt=0.5, description="decision margin of the hinge term, in PAM4 levels")
    orthogonality_weight: float = Field(
        0.0, ge=0, description="pretraining: weight of the block row-coupling penalty (0 where the approximated "
        "layers are already block diag×orthogonal), ramped up linearly from 0 so that switching to the block form "
        "loses little; 0 turns it off"
    )
    approx_lr: float | None = Field(
        None, gt=0, description="peak learning rate of the hardware-aware phase (default lr/2); lower it when the "
        "switch to the block form keeps the accuracy (orthogonality_weight), so the phase polishes instead of re-learning"
    )
    approx_scale_rows: bool = Field(
        False, description="hardware-aware phase: train Û scaled row-wise by |d| so every weight entry moves at the "
        "pretraining's rate (unscaled, a row's steps grow with its |d|, which throws a near-perfect switch out of its "
        "minimum when |d| spans two decades)"
    )
    hard_example_repeats: int = Field(
        0, ge=0, description="every epoch also shows the samples that the last evaluation did not accept this many "
        "extra times (0: off); focuses the last epochs on the few decisions still wrong"
    )
    hard_region_inputs: list[int] | None = Field(
        None, description="with hard_example_repeats: ONN inputs (0-based, LSB-weight input first) whose values "
        "name a region; every sample of each region holding at least hard_region_min_wrong wrong decisions is "
        "repeated, not only the wrong ones, so a region's whole staircase is refitted instead of its errors moving "
        "to their neighbours; default: only the wrong samples"
    )
    hard_region_min_wrong: int = Field(
        1, gt=0, description="with hard_region_inputs: a region is repeated once it holds this many wrong decisions"
    )
    revive_every: int = Field(
        0, ge=0, description="pretraining: every this many epochs, re-aim the hidden units that are dead on the whole "
        "dataset (`optinc revive`, docs/training.md) so they get gradients again; 0: off; never in the last this many "
        "epochs, so the revived rows have time to settle before the projection"
    )
    revive_scale: float = Field(
        1e-4, gt=0, lt=1, description="with revive_every: a revived unit's largest output, as a share of the median "
        "largest output of its layer's live units"
    )
    freeze_output_layer: bool = Field(
        False, description="the output layer does not train (a free output layer only): with weights whose output "
        "layer `optinc refit-output` solved exactly, the hidden layers learn to serve that layer instead of the "
        "training moving it off the LP's solution"
    )
    clip_to_levels: bool = Field(
        False, description="the loss sees each output clipped to its level range, as the receiver decides: "
        "overshooting the lowest or highest level costs nothing, so a digit's wrap (3 to 0 at a carry) needs no "
        "sharp corners at the grid points; not for outputs that must be analog-accurate (cascade level 1)"
    )
    project_every: int = Field(10, gt=0, description="retract the approximated layers' Û onto orthogonal matrices every this many steps")
    importance: list[float] | None = Field(
        None, description="per-output importance weights of eq. 7, LSB first; default 2^k, mean 1"
    )
    hinge_weights: list[float] | None = Field(
        None, description="per-output weight of the decision-margin hinge, LSB first; default 1 each. Stage 2's "
        "gradient term weighs the LSB 1/4^(D-1), so the hinge alone keeps its decisions: raise the LSB's weight where "
        "its decisions are the ones still wrong"
    )
    fit_weight: float = Field(
        1.0, ge=0, description="weight of eq. 7's term (the exact fit) against the decision-margin hinge; below 1 "
        "it lets each output sit anywhere within the margin of its level, which is all the receiver's decision needs "
        "(a late fine-tune for the last decisions); 0: the hinge alone"
    )
    target_tilt: list[float] | None = Field(
        None, description="per output, LSB first: the loss's target rises by this many levels across each decision "
        "step, centred on the level (a staircase tilted towards a sawtooth), instead of a flat level; the decision "
        "is unchanged, and the points next to a step up then need a jump of 1 − tilt·(P−1)/P levels instead of 1. "
        "Each value must stay below 1 − 2·margin so that the hinge band stays inside the decision interval; "
        "default 0 each"
    )
    noise_gain: float = Field(
        1.0, ge=1.0, description="cascade level 2: level 1's analog errors are scaled by this in training and "
        "acceptance, a margin for error combinations that sampling misses"
    )


class CascadeOptions(BaseModel):
    """Two-level cascade of Sec. III-C: ``groups`` level-1 OptINCs feed one level-2 OptINC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: Literal[2] = 2
    servers_per_optinc: int = Field(gt=1, description="servers (inputs) of every basic OptINC")
    link_tolerance: list[float] | None = Field(
        None,
        description="level-1 analog outputs reach level 2 unquantised: level 1 trains to keep every output within "
        "this many PAM4 levels of its grid value (LSB first); level 2 trains against level 1's actual errors",
    )
    level2_training: TrainingOptions | None = Field(
        None, description="hyper-parameters for the level-2 network (its dataset is larger); default: training"
    )


class LayoutOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    labels: bool = Field(False, description="write per-MZI phase labels (small designs only)")
    formats: list[Literal["gds", "oas"]] = Field(default_factory=lambda: ["gds", "oas"])


class PaperRow(BaseModel):
    """What the paper publishes for this configuration (Table I / II), for side-by-side reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    area_ratio: float | None = Field(None, description="published normalised area, as a fraction")
    accuracy: float | None = Field(None, description="published ONN accuracy, as a fraction")
    overhead: float | None = Field(None, description="published hardware overhead (cascade), as a fraction")


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    bits: int = Field(gt=0, description="gradient width b")
    servers: int = Field(gt=0, description="servers N")
    group_size: int | None = Field(None, gt=0, description="PAM4 digits per ONN input, G = b/(2M)")
    widths: list[int] = Field(min_length=2, description="ONN widths, input first")
    approx_layers: list[int] = Field(default_factory=list, description="1-based layers to block-approximate")
    cascade: CascadeOptions | None = None
    seed: int = 0
    training: TrainingOptions = Field(default_factory=TrainingOptions)
    layout: LayoutOptions = Field(default_factory=LayoutOptions)
    device: DeviceGeometry = Field(default_factory=DeviceGeometry)
    paper: PaperRow | None = None
    weights: str | None = Field(None, description="shipped weights name under weights/, default: the scenario name")

    @field_validator("widths")
    @classmethod
    def _positive_widths(cls, widths: list[int]) -> list[int]:
        for index, width in enumerate(widths):
            if width <= 0:
                raise ValueError(f"must be positive: widths[{index}] = {width}")
        return widths

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        inputs = self.widths[0]
        if self.bits % 2:
            raise ValueError(f"bits: must be even, PAM4 carries 2 bits per symbol (got {self.bits})")
        if self.bits % (2 * inputs):
            raise ValueError(
                f"bits: must be a multiple of 2M = {2 * inputs} (M = widths[0] ONN inputs), got {self.bits}"
            )
        derived = self.bits // (2 * inputs)
        if self.group_size is not None and self.group_size != derived:
            raise ValueError(f"group_size: must be b/(2M) = {derived} (got {self.group_size})")
        if self.widths[-1] != self.bits // 2:
            raise ValueError(
                f"widths: the last width must be the {self.bits // 2} PAM4 output digits of a {self.bits}-bit gradient "
                f"(got {self.widths[-1]})"
            )
        n_layers = len(self.widths) - 1
        for layer in self.approx_layers:
            if not 1 <= layer <= n_layers:
                raise ValueError(f"approx_layers: layer {layer} does not exist (layers are 1..{n_layers})")
        if len(set(self.approx_layers)) != len(self.approx_layers):
            raise ValueError("approx_layers: a layer is listed twice")
        if self.cascade is not None:
            per = self.cascade.servers_per_optinc
            if self.servers != per**2:
                raise ValueError(
                    f"servers: a two-level cascade of {per}-server OptINCs serves {per ** 2} servers (got {self.servers})"
                )
            tolerance = self.cascade.link_tolerance
            if tolerance is not None:
                if len(tolerance) != self.bits // 2:
                    raise ValueError(f"cascade.link_tolerance: needs one value per output digit ({self.bits // 2})")
                # level-2 input j is the mean of N level-1 outputs: LSB on a 1/N² grid, the others on 1/N
                limits = [0.5 / per**2] + [0.5 / per] * (self.bits // 2 - 1)
                for index, (value, limit) in enumerate(zip(tolerance, limits)):
                    if not 0 < value < limit:
                        raise ValueError(
                            f"cascade.link_tolerance[{index}]: must be in (0, {limit:g}), half the level-2 input grid "
                            f"(got {value})"
                        )
                if self.training.target_tilt is not None:
                    raise ValueError("training.target_tilt: level 1 of a cascade with a link_tolerance must stay "
                                     "analog-accurate; tilt only in cascade.level2_training")
                if self.training.clip_to_levels:  # level 1's outputs are level 2's analog inputs
                    raise ValueError("training.clip_to_levels: level 1 of a cascade with a link_tolerance must stay "
                                     "analog-accurate at every level; clip only in cascade.level2_training")
        elif self.servers < 1:
            raise ValueError("servers: must be at least 1")
        for name in ("importance", "hinge_weights"):
            values = getattr(self.training, name)
            if values is not None and len(values) != self.widths[-1]:
                raise ValueError(f"training.{name}: needs one weight per output ({self.widths[-1]}), got {len(values)}")
            if values is not None and any(not value >= 0 for value in values):
                raise ValueError(f"training.{name}: weights must be non-negative (got {values})")
        for options, where in ((self.training, "training"),
                               (self.cascade.level2_training if self.cascade else None, "cascade.level2_training")):
            if options is not None and options.freeze_output_layer and n_layers in self.approx_layers:
                raise ValueError(f"{where}.freeze_output_layer: layer {n_layers} (the output layer) is approximated; "
                                 f"only a free output layer can be frozen")
            regions = None if options is None else options.hard_region_inputs
            if regions is None and options is not None and options.hard_region_min_wrong != 1:  # 1: the default
                raise ValueError(f"{where}.hard_region_min_wrong: only counts with hard_region_inputs (which "
                                 f"regions to count the wrong decisions in)")
            if regions is not None:
                if not options.hard_example_repeats:
                    raise ValueError(f"{where}.hard_region_inputs: needs hard_example_repeats > 0 (the regions' "
                                     f"samples are what it repeats)")
                if not regions or len(set(regions)) != len(regions):
                    raise ValueError(f"{where}.hard_region_inputs: list distinct input indices (got {regions})")
                for value in regions:
                    if not 0 <= value < self.widths[0]:
                        raise ValueError(f"{where}.hard_region_inputs: input {value} does not exist (inputs are "
                                         f"0..{self.widths[0] - 1})")
            tilt = None if options is None else options.target_tilt
            if tilt is None:
                continue
            if len(tilt) != self.widths[-1]:
                raise ValueError(f"{where}.target_tilt: needs one value per output ({self.widths[-1]}), got {len(tilt)}")
            limit = 1 - 2 * options.margin
            for index, value in enumerate(tilt):
                if not 0 <= value < limit:
                    raise ValueError(f"{where}.target_tilt[{index}]: must be in [0, 1 − 2·margin) = [0, {limit:g}) "
                                     f"so the hinge band stays inside the decision interval (got {value})")
        return self

    # Derived quantities used everywhere -------------------------------------------------
    @property
    def onn_inputs(self) -> int:
        return self.widths[0]

    @property
    def digits(self) -> int:
        """PAM4 digits per gradient, b/2."""
        return self.bits // 2

    @property
    def group(self) -> int:
        return self.bits // (2 * self.onn_inputs)

    @property
    def n_layers(self) -> int:
        return len(self.widths) - 1

    @property
    def optinc_servers(self) -> int:
        """Servers seen by one basic OptINC (all of them unless cascaded)."""
        return self.cascade.servers_per_optinc if self.cascade else self.servers

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of every weight matrix, layer 1 first."""
        return [(self.widths[i + 1], self.widths[i]) for i in range(self.n_layers)]

    @property
    def weights_name(self) -> str:
        return self.weights or self.name

    def level_scenario(self, level: int) -> "Scenario":
        """The basic OptINC of one cascade level as a plain scenario (its servers: the level's inputs)."""
        if self.cascade is None:
            raise OptincError(f"{self.name}: level {level}: the scenario is not a cascade")
        if level not in (1, 2):
            raise OptincError(f"{self.name}: a cascade has levels 1 and 2 (got {level})")
        data = self.model_dump()
        data.update(name=f"{self.name}-level{level}", servers=self.cascade.servers_per_optinc, cascade=None,
                    weights=None, paper=None, training=self.training_for(level).model_dump())
        return scenario_from_dict(data, f"{self.name} (level {level})")

    def training_for(self, level: int | None) -> TrainingOptions:
        """Training hyper-parameters of the network trained for ``level`` (None/1: ``training``)."""
        if level == 2 and self.cascade is not None and self.cascade.level2_training is not None:
            return self.cascade.level2_training
        return self.training

    def with_updates(self, **changes: Any) -> "Scenario":
        """A validated copy with some fields replaced (used by area sweeps)."""
        data = self.model_dump()
        data.update(changes)
        return scenario_from_dict(data, f"{self.name} (with {', '.join(sorted(changes))} changed)")


def _field_path(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts)


def _validation_message(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    field = _field_path(tuple(first.get("loc", ())))
    message = first.get("msg", "invalid")
    message = message.removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":  # pydantic says "Extra inputs are not permitted"
        message = "unknown field (not part of a scenario; check the spelling)"
    if ": " in message and not field:
        # model-level errors put the field name first in the message
        field, message = message.split(": ", 1)
    return field, message


def scenario_from_dict(data: Any, source: str | Path = "<dict>") -> Scenario:
    if not isinstance(data, dict):
        raise located(source, "", "a scenario must be a YAML mapping")
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        field, message = _validation_message(error)
        raise located(source, field, message) from None


def load_scenario_file(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise located(path, "", f"cannot read scenario file ({error.strerror or error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise located(path, "", f"malformed YAML: {where}{problem}") from None
    return scenario_from_dict(data, path)


def scenario_names() -> list[str]:
    return sorted(p.stem for p in CIRCUITS_DIR.glob("*.yml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name (``b8n4``) or any YAML file by path."""
    text = str(name_or_path)
    candidate = Path(text)
    if text.endswith((".yml", ".yaml")) or candidate.is_file():
        return load_scenario_file(candidate)
    shipped = CIRCUITS_DIR / f"{text}.yml"
    if shipped.is_file():
        return load_scenario_file(shipped)
    known = ", ".join(scenario_names())
    raise OptincError(f"unknown scenario '{text}' (shipped: {known}; or give a path to a .yml file)")


def all_scenarios() -> list[Scenario]:
    return [load_scenario(name) for name in scenario_names()]
