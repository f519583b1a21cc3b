"""Footprint without GDS: the layout plan's bounding box, from the cell dimensions alone.

The plan is exactly what the layout draws (``plan.py``), so this equals the built layout's
``dbbox()`` to the nanometre (tests check it on two scenarios), and costs under a second even for
a million-MZI design: nothing is drawn, nothing imports gdsfactory.
"""

from __future__ import annotations

from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import Block
from optinc_pdk.layout.planner import Planner
from optinc_pdk.spec.fixed_phases import FixedPhaseSpec
from optinc_pdk.spec.geometry import DeviceGeometry
from optinc_pdk.spec.scenario import Scenario


def analytic_footprint(description: CircuitDescription | Block | Scenario,
                       geometry: DeviceGeometry | None = None, fixed: FixedPhaseSpec | None = None) -> tuple[float, float]:
    """(width, height) in µm of the layout ``write_layout`` would draw (with ``fixed``: its fixed-phase layout).

    A :class:`Scenario` stands for its structure (any weights give the same layout: phases are
    not geometry); its description is assembled with random phases for the purpose.
    """
    if isinstance(description, Scenario):
        from optinc_pdk.layout.synthetic import random_phase_description

        description = random_phase_description(description)
    if isinstance(description, CircuitDescription):
        top, geometry = description.top, geometry or description.scenario.device
    else:
        top = description
    box = Planner(geometry, fixed=fixed).plan(top).bbox
    return (0.0, 0.0) if box is None else (box.width, box.height)


def analytic_floorplan(scenario: Scenario, die: tuple[str, float, float], pdk: str | None = None):
    """The die plan ``optinc build SCENARIO --die [--pdk]`` draws (``floorplan.Floorplan``), without GDS.

    ``pdk``: the geometry that PDK's cells have (a foundry PDK's adapter reads it from its cells, which
    imports gdsfactory and the PDK; the default optinc PDK takes the scenario's geometry as given).
    """
    from optinc_pdk.layout.floorplan import floorplan_of
    from optinc_pdk.layout.synthetic import random_phase_top
    from optinc_pdk.pdk.adapters import DEFAULT_PDK

    geometry = scenario.device
    if (pdk or DEFAULT_PDK) != DEFAULT_PDK:
        from optinc_pdk.pdk.adapters import get_adapter

        geometry = get_adapter(pdk).geometry(geometry)
    return floorplan_of(random_phase_top(scenario), scenario.name, die, geometry)
