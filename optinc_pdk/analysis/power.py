"""Static heater power of a build, from the actual phases of its circuit description.

A thermo-optic heater only adds phase, and its power is proportional to the phase it adds
(about P_π = 25 mW per π for the silicon heaters of Harris et al., Opt. Express 22, 10487 (2014),
the paper's ref. [11]), so a phase p costs P_π·wrap(p)/π with wrap(p) ∈ [0, 2π): a phase just
below 2π is the most expensive setting, not a free one. Every phase of the description is a
heater: each MZI's internal θ and external φ (meshes and attenuator columns) and each mesh's
output phase screen. A heater on an MZI's lower arm (a ``--min-power`` build, ``MeshBlock.theta_lower``/
``phi_lower``) holds the phase it adds there, so the same sum is the power of the build as drawn. Powers are
static (the network never changes after it is built).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from optinc_pdk.circuit.arms import least_power_block
from optinc_pdk.circuit.model import Block, Composite, MeshBlock
from optinc_pdk.circuit.quantise import leaf_phases
from optinc_pdk.core.mzi import wrap_phase
from optinc_pdk.simulate.stages import mesh_matrix

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
    return np.concatenate([np.zeros(0), *(phases for leaf in block.walk() for phases in leaf_phases(leaf))])


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


def least_heater_power(top: Block, p_pi_mw: float = P_PI_MW) -> dict:
    """The same per-stage table with every mesh's heaters on their cheaper arms: :func:`heater_power` of the very
    block a ``--min-power`` build draws (:func:`optinc_pdk.circuit.arms.least_power_block`).

    Attenuator columns keep their heaters. Each mesh's arm configuration is checked against its plain
    matrix through the simulator's mesh → matrix path: ``max_matrix_error`` is the largest entry difference.
    """
    least = least_power_block(top)
    worst = max((float(np.abs(mesh_matrix(after) - mesh_matrix(before)).max())
                 for before, after in zip(top.walk(), least.walk(), strict=True) if isinstance(before, MeshBlock)),
                default=0.0)
    power = heater_power(least, p_pi_mw)
    return {"total_w": power["total_w"], "heaters": power["heaters"], "stages": power["stages"], "max_matrix_error": worst,
            "how": "each mesh MZI's two heaters on the arms that cost least, the phases this pushes ahead absorbed "
                   "by the next column and the output screen (decompose/heater_arms.py); same matrices"}
