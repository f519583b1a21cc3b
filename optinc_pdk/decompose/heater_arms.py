"""Least heater power for a decomposed mesh: which arm of each MZI carries its two heaters.

A heater adds phase in one direction only, so a phase p costs wrap(p) ∈ [0, 2π) (analysis/power.py),
and the external phases φ of a Clements mesh are spread over [0, 2π): they cost π on average and hold
most of a build's heater power. Where a heater sits is a free choice of the build (the network never
changes after it is built). A heater on the lower arm adding v is the pinned MZI at −v times a common
phase e^{iv} (:func:`optinc_pdk.core.mzi.mzi_transfer_arms`), and moving the internal heater to the lower
arm turns T(θ, φ) into diag(1, −1)·T(θ, φ − π). So every MZI can realise its T(θ, φ) four ways, up to
phases on its two outputs that are pushed into the next column and finally into the output phase screen:

    internal heater   external heater   external phase     pushed onto (upper, lower) outputs
    upper             upper             φ − Δ              (e_l, e_l)
    upper             lower             Δ − φ              (e_l + ψ, e_l + ψ)
    lower             upper             φ + π − Δ          (e_l, e_l + π)
    lower             lower             Δ − φ − π          (e_l + ψ, e_l + ψ + π)

with (e_u, e_l) the phases pushed onto the MZI's inputs, Δ = e_u − e_l and ψ the external heater's
phase. The internal heater keeps θ. Column by column, in propagation order, each MZI takes the cheapest
external phase (greedy); the mesh's output screen absorbs what is pushed out of the last column. The
four phases are ±(φ − Δ) and ±(φ − Δ) + π, so the cheapest wraps to at most π/2: the external phases
cost π/4 on average instead of π.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optinc_pdk.core.mzi import wrap_phase
from optinc_pdk.decompose.mesh import MeshPhases
from optinc_pdk.decompose.transfer import mesh_transfer


@dataclass(frozen=True)
class HeaterArms:
    """One mesh's heaters, MZIs in the order given: each heater's phase and whether it sits on the lower arm."""

    theta: np.ndarray  # (K,) internal heater phase
    phi: np.ndarray  # (K,) external heater phase
    theta_lower: np.ndarray  # (K,) bool
    phi_lower: np.ndarray  # (K,) bool
    output_phase: np.ndarray  # (n,) output screen

    def phases(self) -> np.ndarray:
        return np.concatenate([self.theta, self.phi, self.output_phase])

    def matrix(self, n_modes: int, top_mode: np.ndarray, column: np.ndarray) -> np.ndarray:
        """The mesh these heaters realise, through the simulator's mesh → matrix path."""
        return mesh_transfer(n_modes, self.theta, self.phi, top_mode, column, self.output_phase,
                             theta_lower=self.theta_lower, phi_lower=self.phi_lower)

    def mesh(self, plain: MeshPhases) -> MeshPhases:
        """``plain`` (the mesh these arms were chosen for) with its heaters on these arms: the same matrix."""
        return replace(plain, theta=self.theta, phi=self.phi, output_phase=self.output_phase,
                       theta_lower=self.theta_lower, phi_lower=self.phi_lower)


def least_power_mesh(plain: MeshPhases) -> MeshPhases:
    """``plain`` with every heater on its cheaper arm (:func:`least_power_arms`); ``plain`` must be all upper."""
    if plain.any_lower:
        raise ValueError("least_power_mesh: the mesh already has heaters on lower arms")
    arms = least_power_arms(plain.n_modes, plain.theta, plain.phi, plain.top_mode, plain.column, plain.output_phase)
    return arms.mesh(plain)


def least_power_arms(n_modes: int, theta: np.ndarray, phi: np.ndarray, top_mode: np.ndarray, column: np.ndarray,
                     output_phase: np.ndarray) -> HeaterArms:
    """The heater arms and phases of the table above, chosen greedily column by column (see the module doc)."""
    theta, phi = np.asarray(theta, dtype=np.float64), np.asarray(phi, dtype=np.float64)
    top, column = np.asarray(top_mode, dtype=np.int64), np.asarray(column, dtype=np.int64)
    pushed = np.zeros(int(n_modes))
    heater_phi = np.zeros(phi.size)
    choice = np.zeros(phi.size, dtype=np.int64)
    order = np.argsort(column, kind="stable")
    starts = np.flatnonzero(np.diff(column[order], prepend=-1))
    for members in np.split(order, starts[1:]):  # one column: MZIs on disjoint mode pairs
        upper, lower = top[members], top[members] + 1
        delta = pushed[upper] - pushed[lower]
        options = wrap_phase(np.stack([phi[members] - delta, delta - phi[members],
                                       phi[members] + np.pi - delta, delta - phi[members] - np.pi]))
        picked = np.argmin(options, axis=0)
        psi = options[picked, np.arange(members.size)]
        base = pushed[lower] + np.where(picked % 2 == 1, psi, 0.0)
        pushed[upper], pushed[lower] = base, base + np.where(picked >= 2, np.pi, 0.0)
        heater_phi[members], choice[members] = psi, picked
    return HeaterArms(wrap_phase(theta), heater_phi, choice >= 2, choice % 2 == 1,
                      wrap_phase(np.asarray(output_phase, dtype=np.float64) - pushed))
