"""Static heater power of a build, from the actual phases of its circuit description.

A thermo-optic heater only adds phase, and its power is proportional to the phase it adds
(about P_π = 25 mW per π for the silicon heaters of Harris et al., Opt. Express 22, 10487 (2014),
the paper's ref. [11]), so a phase p costs P_π·wrap(p)/π with wrap(p) ∈ [0, 2π): a phase just
below 2π is the most expensive setting, not a free one. Every phase of the description is a
heater: each MZI's internal θ and external φ (meshes and attenuator columns) and each mesh's
output phase screen. Powers are static (the network never changes after it is built).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from optinc_pdk.circuit.model import AttenuatorColumn, Block, Composite, MeshBlock
from optinc_pdk.core.mzi import wrap_phase

#: Heater power per π of phase (mW), Harris et al. 2014 (the paper's ref. [11]).
P_PI_MW = 25.0


@dataclass(frozen=True)
class StagePower:
    stage: str  # top-level block: "averager", "L1", ..., "broadcast"
    heaters: int
    power_w: float
    mean_phase_over_pi: float  # mean wrapped phase / π: 1.0 for uniformly spread phases


def stage_phases(block: Block) -> np.ndarray:
    """Every heater phase inside ``block`` (θ, φ of each MZI, output phases of each mesh), unwrapped."""
    parts = [np.zeros(0)]
    for leaf in block.walk():
        if isinstance(leaf, MeshBlock):
            parts += [leaf.theta, leaf.phi, leaf.output_phase]
        elif isinstance(leaf, AttenuatorColumn):
            parts += [leaf.theta, leaf.phi]
    return np.concatenate(parts)


def phase_power_w(phases: np.ndarray, p_pi_mw: float = P_PI_MW) -> float:
    """Total power (W) of heaters holding ``phases``: P_π·wrap(p)/π each."""
    return float(np.sum(wrap_phase(phases)) / np.pi * p_pi_mw / 1000.0)


def heater_power(top: Block, p_pi_mw: float = P_PI_MW) -> dict:
    """Per top-level stage and in total: heater count, static power (W), mean wrapped phase."""
    stages = top.children if isinstance(top, Composite) else (top,)
    rows = []
    for stage in stages:
        phases = stage_phases(stage)
        if phases.size:
            mean = float(np.mean(wrap_phase(phases)) / np.pi)
            rows.append(StagePower(stage.name, int(phases.size), phase_power_w(phases, p_pi_mw), mean))
    total = sum(r.power_w for r in rows)
    return {"p_pi_mw": p_pi_mw, "source": "Harris et al. 2014 (paper ref. [11]): 25 mW per pi, silicon TiN heater",
            "heaters": sum(r.heaters for r in rows), "total_w": total, "stages": [asdict(r) for r in rows]}
