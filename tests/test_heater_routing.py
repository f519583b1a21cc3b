"""Heater routing (issue 28 point 1) without a foundry PDK: which end is ground, pads needed, verdicts.

The routed CORNERSTONE demonstrator itself is tested in test_cornerstone.py (it needs the extra).
"""

from __future__ import annotations

import klayout.db as kdb
import pytest

from optinc_pdk.analysis.pads import heater_count, pads_for, signoff
from optinc_pdk.circuit.model import AttenuatorColumn, MeshBlock
from optinc_pdk.layout.floorplan import floorplan_of, parse_die
from optinc_pdk.layout.heaters import Heater, HeaterRoutingError, assign_nets
from optinc_pdk.layout.plan import plan_heaters
from optinc_pdk.layout.planner import Planner
from optinc_pdk.layout.synthetic import random_phase_description
from optinc_pdk.spec.scenario import load_scenario


def _heater(x0: float, x1: float, y: float = 0.0) -> Heater:
    return Heater(kdb.DPoint(x0, y), kdb.DPoint(x1, y), kdb.DPoint(x0 + 5, y + 20), kdb.DPoint(x1 - 5, y + 20))


def test_a_lone_heater_is_driven_from_its_west_pad_and_grounded_at_its_east_end():
    nets = assign_nets([_heater(0, 200), _heater(300, 500)])
    assert [(p.x, p.y) for p in nets.signals] == [(5, 20), (305, 20)]
    assert sorted((p.x, p.y) for p in nets.grounds) == [(200, 0), (500, 0)]


def test_two_heaters_end_to_end_share_their_middle_contact_as_ground():
    nets = assign_nets([_heater(0, 200), _heater(200, 400)])
    assert [(p.x, p.y) for p in nets.signals] == [(5, 20), (395, 20)]  # the outer pads, one per heater
    assert [(p.x, p.y) for p in nets.grounds] == [(200, 0)]


def test_a_chain_of_three_heaters_is_refused():
    with pytest.raises(HeaterRoutingError, match="chain of three"):
        assign_nets([_heater(0, 200), _heater(200, 400), _heater(400, 600)])


def test_the_demo_needs_seven_pads_by_hand_count():
    """Hand count from the demo's description (docs/demo.md): one 1x1 SVD layer has a Vᴴ output phase, a Σ
    attenuator MZI (θ, φ) and a U output phase; the bias attenuator another MZI: 1 + 2 + 1 + 2 = 6 heaters."""
    top = random_phase_description(load_scenario("demo")).top
    assert heater_count(top) == 6 and pads_for(6) == 7 and pads_for(0) == 0


def test_pads_per_die_from_the_plan_add_up_to_the_description():
    """b8n4 on reticles: the heaters each die's plan places add up to the description's phases, counted
    independently as 2 per MZI plus one output phase per mesh mode."""
    s = load_scenario("b8n4")
    top = random_phase_description(s).top
    fp = floorplan_of(top, s.name, parse_die("reticle"), s.device, Planner(s.device, packed_west=True))
    by_hand = sum(2 * b.n_mzis + (b.n_in if isinstance(b, MeshBlock) else 0)
                  for b in top.walk() if isinstance(b, (MeshBlock, AttenuatorColumn)))
    assert sum(plan_heaters(d.plan) for d in fp.dies) == heater_count(top) == by_hand
    per_die = [d.to_dict(fp.die_w_um, fp.die_h_um)["heaters"] for d in fp.dies]
    assert len(per_die) > 1 and all(n > 0 for n in per_die)


def test_a_build_without_a_die_or_bond_pads_is_not_tapeout_ready_and_says_why():
    top = random_phase_description(load_scenario("demo")).top
    clean = {"drc": {"violations": 0}, "connectivity": {"connected": True, "open_ends": 5, "expected_open_ends": 5}}
    no_die = signoff(top, {**clean, "layout": {"info": {}}})
    assert not no_die["tapeout_ready"]
    assert no_die["dies"][0]["blockers"] == ["needs 7 pads, the die offers 0", "heaters not routed (no die (--die) to "
                                                                               "route to)"]
    floorplanned = {"info": {}, "floorplan": {"per_die": [{"cell": "d0", "heaters": 4}, {"cell": "d1", "heaters": 0}]}}
    dies = signoff(top, {**clean, "layout": floorplanned})["dies"]
    assert [(d["pads_needed"], d["pads_available"], d["tapeout_ready"]) for d in dies] == [(5, 0, False), (0, 0, True)]
    mounted = {"info": {"die": {"die": "x", "bond_pads": 62, "heater_routing": {"routed": True}}}}
    ready = signoff(top, {**clean, "layout": mounted, "drc": {"violations": 3}})
    assert ready["dies"][0]["blockers"] == ["3 DRC violations"] and not ready["tapeout_ready"]


def test_the_router_refuses_a_die_without_enough_north_pads():
    import gdsfactory as gf

    from optinc_pdk.layout.heaters import HeaterRouter
    from optinc_pdk.spec.geometry import DeviceGeometry

    router = HeaterRouter(DeviceGeometry(), (41, 0), 10.0)
    with pytest.raises(HeaterRoutingError, match="2 signals need as many north bond pads"):
        router.route(gf.Component(), [_heater(0, 200), _heater(300, 500)], [], kdb.DBox(0, -10, 500, 30), "unused")


def test_the_optinc_rules_name_the_optinc_layers():
    from optinc_pdk.pdk.rules import LAYERS_BY_PDK
    from optinc_pdk.pdk.tech import LAYER

    assert {name: tuple(getattr(LAYER, name)) for name in LAYERS_BY_PDK["optinc"]} == LAYERS_BY_PDK["optinc"]


def test_heaters_above_one_another_are_refused_before_anything_is_drawn():
    """A mesh column stacks heaters at one x: a signal run north from the lower one would cross the upper."""
    import gdsfactory as gf

    from optinc_pdk.layout.heaters import HeaterRouter
    from optinc_pdk.spec.geometry import DeviceGeometry

    def pad(name: str, x: float, y: float, orientation: int) -> gf.Port:
        return gf.Port(name=name, center=(x, y), orientation=orientation, width=100, layer=gf.kcl.layer(41, 0),
                       port_type="electrical")

    from optinc_pdk.pdk import activate_pdk

    activate_pdk()
    pads = [pad("n0", -300, 2000, 270), pad("n1", 300, 2000, 270), pad("s0", 0, -2000, 90)]
    router = HeaterRouter(DeviceGeometry(), (41, 0), 10.0)
    top = gf.Component()
    with pytest.raises(HeaterRoutingError, match="within 10 µm of the heater at"):
        router.route(top, [_heater(0, 200, 0.0), _heater(0, 200, 75.0)], pads, kdb.DBox(-10, -10, 210, 100), "x")
    assert not list(top.insts)
    side_by_side = router.route(top, [_heater(0, 200), _heater(300, 500)], pads, kdb.DBox(-10, -10, 510, 30),
                                "heater_routes_test")
    assert side_by_side["pads_used"] == 3 and side_by_side["ground_pad"] == "s0"
