"""Eq. 7's two-stage loss plus a decision-margin hinge (docs/conventions.md, Training loss).

Stage 1 (epoch < E): importance-weighted MSE on the raw outputs. Stage 2: MSE of the
reconstructed gradient Σ_k 4^k o_k, normalised by the MSB weight so both stages are in level
units. The hinge punishes any output further than ``margin`` grid steps from its level: the
targets are step functions of the inputs, and the hinge keeps every decision safely inside its
interval, which plain MSE reaches only slowly. With ``offset`` given, outputs are fitted to the level plus
that offset (a tilted staircase, ``target_tilt``); the hinge band moves with it. With ``top`` given,
the loss judges the outputs as
the receiver's clipping decision does: an output beyond its lowest or highest level, where that
level is the target, is decided correctly and costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from optinc_pdk.core.datasets import Dataset
    from optinc_pdk.training.recipe import TrainingRecipe

HINGE_SHARE_OF_TOLERANCE = 0.75  # hinge starts at this share of the link tolerance


@dataclass(frozen=True)
class DecisionGrid:
    """Per-output tensors the loss needs: grid step, hinge threshold (None: margin·step), clip top (None: no clip),
    hinge weights (None: 1 each), target tilt in levels per step (None: flat levels)."""

    step: torch.Tensor
    threshold: torch.Tensor | None
    top: torch.Tensor | None
    hinge: torch.Tensor | None = None
    tilt: torch.Tensor | None = None

    @classmethod
    def of(cls, data: Dataset, opts: TrainingRecipe, dtype=torch.float32, device=None) -> DecisionGrid:
        def tensor(values) -> torch.Tensor:
            return torch.as_tensor(values, dtype=dtype, device=device)

        step = tensor(data.output_step)
        threshold = None
        if data.output_tolerance is not None:  # analog link: the hinge keeps outputs well inside the tolerance
            threshold = torch.minimum(opts.margin * step, HINGE_SHARE_OF_TOLERANCE * tensor(data.output_tolerance))
        top = tensor(data.output_top) if opts.clip_to_levels else None
        hinge = None if opts.hinge_weights is None else tensor(opts.hinge_weights)
        tilt = None if opts.target_tilt is None or not any(opts.target_tilt) else tensor(opts.target_tilt) * step
        return cls(step, threshold, top, hinge, tilt)

    def offsets(self, data: Dataset, index) -> torch.Tensor | None:
        """Per-sample target offsets of the tilted staircase (None when there is no tilt)."""
        if self.tilt is None:
            return None
        positions = torch.as_tensor(data.centered_step_positions(index), dtype=self.tilt.dtype, device=self.tilt.device)
        return positions * self.tilt


def default_importance(n_outputs: int) -> list[float]:
    """2^k, mean 1: more weight on the more significant digits without starving the LSB."""
    raw = [2.0**k for k in range(n_outputs)]
    mean = sum(raw) / n_outputs
    return [value / mean for value in raw]


def two_stage_loss(
    outputs: torch.Tensor,
    targets: torch.Tensor,
    step: torch.Tensor,
    importance: torch.Tensor,
    stage: int,
    margin: float,
    threshold: torch.Tensor | None = None,
    top: torch.Tensor | None = None,
    hinge_weights: torch.Tensor | None = None,
    fit_weight: float = 1.0,
    offset: torch.Tensor | None = None,
) -> torch.Tensor:
    """``threshold`` (levels, per output) replaces ``margin · step`` where outputs must be analog-accurate;
    ``top`` (levels, per output): overshoot beyond the target's extreme level costs nothing;
    ``hinge_weights`` (per output) scale each output's hinge term; ``fit_weight`` scales eq. 7's term;
    ``offset`` (per sample and output) moves the fitted target off the level, ``targets`` stay the levels."""
    error = outputs - targets if offset is None else outputs - (targets + offset)
    if top is not None:
        # forgive only harmless overshoot (below level 0 where 0 is the target, above the top where the top
        # is): clamping the output instead would also zero the gradient of an output stuck below 0 whose
        # target is above it, a trap an untrained network falls into
        harmless = ((targets <= 0) & (error < 0)) | ((targets >= top) & (error > 0))
        error = torch.where(harmless, torch.zeros_like(error), error)
    if stage == 1:
        base = (importance * error.square()).sum(dim=1).mean() / outputs.shape[1]
    else:
        place = 4.0 ** torch.arange(outputs.shape[1], dtype=outputs.dtype, device=outputs.device)
        base = ((error * place).sum(dim=1) / place[-1]).square().mean()
    limit = margin * step if threshold is None else threshold
    excess = torch.relu(error.abs() - limit) / step
    hinge = excess.square() if hinge_weights is None else hinge_weights * excess.square()
    return fit_weight * base + hinge.sum(dim=1).mean()
