"""Training recipes: the hyper-parameters of `optinc train`, a type of their own beside the chip.

A scenario file describes the chip (:mod:`optinc_pdk.spec.scenario`) and may carry the recipe that trains
its ONN in the same file, under two top-level keys:

- ``training:``, the recipe of the scenario's network (a cascade: of its level-1 network, and of
  level 2 unless the next key is given);
- ``level2_training:``, a cascade only: the recipe of the level-2 network (its dataset is larger).

The chip model keeps these blocks unread (``load_scenario`` checks only that they are mappings, and
that ``level2_training:`` belongs to a cascade: the chip layer does not import this one).
:func:`recipe_for` validates one into a :class:`TrainingRecipe` and checks it against the chip it
trains (one weight per output, inputs that exist, an output layer that can be frozen, a cascade's
analog level 1); every failure is one line that names the file and the field. `optinc train`
checks every recipe of the file (:func:`check_recipes`) before it starts. A recipe built in memory
is checked by :func:`checked_recipe` (``TrainRequest(recipe=...)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from optinc_pdk.errors import OptincError, located

if TYPE_CHECKING:
    from optinc_pdk.spec.scenario import Scenario

TRAINING, LEVEL2_TRAINING = "training", "level2_training"  # the scenario file's recipe keys


class TrainingRecipe(BaseModel):
    """Hyper-parameters of the hardware-aware training (Sec. III-B, eq. 7)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

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
        "dataset (`optinc lab revive`, docs/training.md) so they get gradients again; 0: off; never in the last this "
        "many epochs, so the revived rows have time to settle before the projection"
    )
    revive_scale: float = Field(
        1e-4, gt=0, lt=1, description="with revive_every: a revived unit's largest output, as a share of the median "
        "largest output of its layer's live units"
    )
    freeze_output_layer: bool = Field(
        False, description="the output layer does not train (a free output layer only): with weights whose output "
        "layer `optinc lab refit-output` solved exactly, the hidden layers learn to serve that layer instead of the "
        "training moving it off the LP's solution"
    )
    clip_to_levels: bool = Field(
        False, description="the loss sees each output clipped to its level range, as the receiver decides: "
        "overshooting the lowest or highest level costs nothing, so a digit's wrap (3 to 0 at a carry) needs no "
        "sharp corners at the grid points; not for outputs that must be analog-accurate (cascade level 1)"
    )
    project_every: int = Field(
        10, gt=0, description="retract the approximated layers' Û onto orthogonal matrices every this many steps"
    )
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

    @model_validator(mode="after")
    def _consistent(self) -> TrainingRecipe:
        """The checks that need no chip (those that do: :func:`checked_recipe`)."""
        for name in ("importance", "hinge_weights"):
            values = getattr(self, name)
            if values is not None and any(not value >= 0 for value in values):
                raise ValueError(f"{name}: weights must be non-negative (got {values})")
        regions = self.hard_region_inputs
        if regions is None and self.hard_region_min_wrong != 1:  # 1: the default
            raise ValueError("hard_region_min_wrong: only counts with hard_region_inputs (which regions to count "
                             "the wrong decisions in)")
        if regions is not None:
            if not self.hard_example_repeats:
                raise ValueError("hard_region_inputs: needs hard_example_repeats > 0 (the regions' samples are what "
                                 "it repeats)")
            if not regions or len(set(regions)) != len(regions):
                raise ValueError(f"hard_region_inputs: list distinct input indices (got {regions})")
        limit = 1 - 2 * self.margin
        for index, value in enumerate(self.target_tilt or []):
            if not 0 <= value < limit:
                raise ValueError(f"target_tilt[{index}]: must be in [0, 1 − 2·margin) = [0, {limit:g}) so the hinge "
                                 f"band stays inside the decision interval (got {value})")
        return self


def recipe_for(scenario: Scenario, level: int | None = None) -> TrainingRecipe:
    """The recipe that trains ``level`` of ``scenario`` (None or 1: ``training:``; a cascade's level 2:
    ``level2_training:`` where the file has it, else ``training:``), read from the scenario's file and
    checked against its chip. Raises one line naming the file and the field."""
    key = LEVEL2_TRAINING if level == 2 and scenario.cascade is not None \
        and scenario.recipe_blocks.get(LEVEL2_TRAINING) is not None else TRAINING
    recipe = _parse(scenario.recipe_blocks.get(key), scenario.source, key)
    return checked_recipe(recipe, scenario, level, where=key, source=scenario.source)


def checked_recipe(recipe: TrainingRecipe, scenario: Scenario, level: int | None = None, *,
                   where: str = TRAINING, source: str | None = None) -> TrainingRecipe:
    """``recipe`` if it fits the chip it trains (``level`` of ``scenario``); else one line naming
    ``source`` and the field ``where.FIELD``."""
    def fail(field: str, message: str) -> OptincError:
        return located(source, f"{where}.{field}", message)

    outputs, inputs = scenario.widths[-1], scenario.widths[0]
    for name in ("importance", "hinge_weights"):
        values = getattr(recipe, name)
        if values is not None and len(values) != outputs:
            raise fail(name, f"needs one weight per output ({outputs}), got {len(values)}")
    if recipe.target_tilt is not None and len(recipe.target_tilt) != outputs:
        raise fail("target_tilt", f"needs one value per output ({outputs}), got {len(recipe.target_tilt)}")
    if recipe.freeze_output_layer and scenario.n_layers in scenario.approx_layers:
        raise fail("freeze_output_layer", f"layer {scenario.n_layers} (the output layer) is approximated; only a "
                                          f"free output layer can be frozen")
    for value in recipe.hard_region_inputs or []:
        if not 0 <= value < inputs:
            raise fail("hard_region_inputs", f"input {value} does not exist (inputs are 0..{inputs - 1})")
    analog = scenario.cascade is not None and scenario.cascade.link_tolerance is not None and level != 2
    if analog and recipe.target_tilt is not None:
        raise fail("target_tilt", f"level 1 of a cascade with a link_tolerance must stay analog-accurate; tilt only "
                                  f"in {LEVEL2_TRAINING}")
    if analog and recipe.clip_to_levels:  # level 1's outputs are level 2's analog inputs
        raise fail("clip_to_levels", f"level 1 of a cascade with a link_tolerance must stay analog-accurate at every "
                                     f"level; clip only in {LEVEL2_TRAINING}")
    return recipe


def check_recipes(scenario: Scenario) -> None:
    """Every recipe the scenario's file carries, checked (`optinc train` does this before any work)."""
    for level in ((1, 2) if scenario.cascade is not None else (None,)):
        recipe_for(scenario, level)


def _parse(block: Any, source: str | None, key: str) -> TrainingRecipe:
    if block is None:  # absent, or an empty `training:` line
        return TrainingRecipe()
    if not isinstance(block, dict):
        raise located(source, key, f"must be a mapping of training settings (got {block!r})")
    try:
        return TrainingRecipe.model_validate(block)
    except ValidationError as error:
        field, message = _validation_message(error)
        raise located(source, f"{key}.{field}" if field else key, message) from None


def _validation_message(error: ValidationError) -> tuple[str, str]:
    """(field path inside the recipe, message) of pydantic's first error."""
    first = error.errors()[0]
    field = ""
    for item in first.get("loc", ()):
        field = f"{field}[{item}]" if isinstance(item, int) else (f"{field}.{item}" if field else str(item))
    message = first.get("msg", "invalid").removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = "unknown field (not part of a training recipe; check the spelling)"
    if ": " in message and not field:  # the model-level checks put the field name first
        field, message = message.split(": ", 1)
    return field, message
