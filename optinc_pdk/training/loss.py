"""Eq. 7's two-stage loss plus a decision-margin hinge (DESIGN.md §6).

Stage 1 (epoch < E): importance-weighted MSE on the raw outputs. Stage 2: MSE of the
reconstructed gradient Σ_k 4^k o_k, normalised by the MSB weight so both stages are in level
units. The hinge punishes any output further than ``margin`` grid steps from its level: the
targets are step functions of the inputs, and the hinge keeps every decision safely inside its
interval, which plain MSE reaches only slowly.
"""

from __future__ import annotations

import torch


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
) -> torch.Tensor:
    """``threshold`` (levels, per output) replaces ``margin · step`` where outputs must be analog-accurate."""
    error = outputs - targets
    if stage == 1:
        base = (importance * error.square()).sum(dim=1).mean() / outputs.shape[1]
    else:
        place = 4.0 ** torch.arange(outputs.shape[1], dtype=outputs.dtype, device=outputs.device)
        base = ((error * place).sum(dim=1) / place[-1]).square().mean()
    limit = margin * step if threshold is None else threshold
    excess = torch.relu(error.abs() - limit) / step
    return base + excess.square().sum(dim=1).mean()
