"""A description whose every phase is rounded to a grid of 2π/levels: what a fixed-phase chip realises.

``optinc build --phases fixed`` draws each phase as a delay section of one of ``levels`` lengths
(:mod:`optinc_pdk.pdk.delay`). The quantised description is the one source of those phases: the
layout reads its levels, the verification simulates it, so both see the same chip.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import AttenuatorColumn, Block, Composite, MeshBlock
from optinc_pdk.core.mzi import TWO_PI, wrap_phase


def phase_levels(phases, levels: int) -> np.ndarray:
    """The nearest level k ∈ 0..levels−1 of each phase (k·2π/levels ≡ phase, rounded)."""
    return (np.rint(wrap_phase(phases) * (levels / TWO_PI)).astype(np.int64)) % levels


def quantised_block(block: Block, drawn: np.ndarray) -> Block:
    """``block`` with every θ, φ and output phase inside it replaced by the phase ``drawn[k]`` of its level k
    (``drawn`` has one entry per level; each within half a step of k·2π/len(drawn))."""
    levels = drawn.size
    if isinstance(block, Composite):
        return replace(block, children=tuple(quantised_block(child, drawn) for child in block.children))
    if isinstance(block, MeshBlock):
        p = block.phases
        return replace(block, phases=replace(p, theta=drawn[phase_levels(p.theta, levels)],
                                             phi=drawn[phase_levels(p.phi, levels)],
                                             output_phase=drawn[phase_levels(p.output_phase, levels)]))
    if isinstance(block, AttenuatorColumn):
        c = block.column
        return replace(block, column=replace(c, theta=drawn[phase_levels(c.theta, levels)],
                                             phi=drawn[phase_levels(c.phi, levels)]))
    return block


def quantised_description(description: CircuitDescription, levels: int,
                          drawn: np.ndarray | None = None) -> CircuitDescription:
    """``description`` with its phases on ``levels`` levels: k·2π/levels, or ``drawn[k]`` (the phase the layout
    really draws for level k, ``pdk.delay.DelayModel.level_phases``) when given."""
    drawn = np.arange(levels) * (TWO_PI / levels) if drawn is None else np.asarray(drawn, dtype=np.float64)
    if drawn.size != levels:
        raise ValueError(f"drawn: {drawn.size} phases for {levels} levels")
    return replace(description, top=quantised_block(description.top, drawn))


def leaf_phases(block: Block) -> list[np.ndarray]:
    """The heater phases a leaf holds: a mesh's θ, φ and output phases, an attenuator column's θ and φ."""
    if isinstance(block, MeshBlock):
        return [block.theta, block.phi, block.output_phase]
    if isinstance(block, AttenuatorColumn):
        return [block.column.theta, block.column.phi]
    return []


def largest_phase_error(exact: Block, quantised: Block) -> float:
    """The largest |quantised − exact| phase difference over both trees (same structure), wrapped to [−π, π)."""
    worst = 0.0
    for a, b in zip(exact.walk(), quantised.walk(), strict=True):
        for pa, pb in zip(leaf_phases(a), leaf_phases(b), strict=True):
            if pa.size:
                worst = max(worst, float(np.abs((pb - pa + np.pi) % TWO_PI - np.pi).max()))
    return worst
