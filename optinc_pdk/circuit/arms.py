"""A description whose every mesh heater sits on its cheaper arm: what a ``--min-power`` build draws.

Each mesh's MZIs keep their matrices; which arm each of their two heaters heats, the phases those heaters
add, and the output phase screen come from :func:`optinc_pdk.decompose.heater_arms.least_power_arms` (the one
algorithm; docs/heater_power.md). Attenuator columns keep their heaters (their φ sets the sign of a
diagonal entry on one waveguide, with no neighbour to absorb a pushed phase). The returned description is
the one source of the drawn build: the layout reads its arms, the verification simulates it, the heater
power is computed from its phases.
"""

from __future__ import annotations

from dataclasses import replace

from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import Block, Composite, MeshBlock
from optinc_pdk.decompose.heater_arms import least_power_mesh


def least_power_block(block: Block) -> Block:
    """``block`` with every mesh inside it on its least-power heater arms (same structure, same matrices)."""
    if isinstance(block, Composite):
        return replace(block, children=tuple(least_power_block(child) for child in block.children))
    if isinstance(block, MeshBlock):
        return replace(block, phases=least_power_mesh(block.phases))
    return block


def least_power_description(description: CircuitDescription) -> CircuitDescription:
    return replace(description, top=least_power_block(description.top))


def lower_heaters(block: Block) -> int:
    """Heaters on a lower arm inside ``block``."""
    return sum(int(leaf.theta_lower.sum() + leaf.phi_lower.sum()) for leaf in block.walk() if isinstance(leaf, MeshBlock))
