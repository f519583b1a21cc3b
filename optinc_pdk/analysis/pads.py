"""Bond pads a design needs, pads its dies offer, and each die's tapeout verdict.

Pads needed come from the circuit description: one per heater (every phase of the description is a
heater, ``analysis.power.stage_phases``) plus one shared ground. Pads available are the bond pads of
the die frame the build drew (CORNERSTONE's ``die_with_pads``: 62 on the full cell); the optinc PDK's
floorplanned dies draw edge couplers and no bond pads, and a build without ``--die`` has no die at all.
With flip-chip bumps (``--pads bumps:PITCH``) a die offers its bump sites, and needs one bump per heater
(its signal) and one per ground end (heaters drawn end to end share theirs); the ground bumps are joined by
the package's ground plane, not on the die. Those counts come from the routing of the written layout
(``layout/bumps.py``: the ground ends are a property of the drawing), per die.
A die is tapeout-ready when it offers the pads its heaters need, its heaters are routed, and the
written layout has no DRC violation (with a rules table for its PDK), no optical and no electrical
connectivity mismatch.
"""

from __future__ import annotations

from optinc_pdk.analysis.power import stage_phases
from optinc_pdk.circuit.model import Block


def pads_for(heaters: int) -> int:
    """One pad per heater and one shared ground (none without heaters)."""
    return heaters + (1 if heaters else 0)


def heater_count(top: Block) -> int:
    return int(stage_phases(top).size)


def _shared_blockers(report: dict) -> list[str]:
    """What stops every die of the build: DRC, optical and electrical connectivity."""
    out = []
    drc = report.get("drc") or {}
    if "skipped" in drc or not drc:
        out.append("no DRC (no rules table for its PDK)")
    elif drc["violations"]:
        out.append(f"{drc['violations']} DRC violations")
    optical = report.get("connectivity")
    if optical is None:
        out.append("connectivity not checked (--no-verify)")
    elif not optical["connected"]:
        out.append(f"{optical['open_ends']} open waveguide ends drawn, {optical['expected_open_ends']} meant")
    ports = (optical or {}).get("ports") or {}
    if ports.get("covered") and not ports["ok"]:
        out.append(f"optical connectivity: {ports['mismatches']} mismatches in {ports['connections']} connections checked, "
                   f"{ports['wiring_mismatches']} of the description's {ports['wiring']} channel pairs wrong")
    electrical = report.get("electrical") or {}
    if electrical.get("mismatches"):
        out.append(f"{electrical['mismatches']} electrical net mismatches")
    return out


def _dies(report: dict, heaters: int) -> list[dict]:
    """Per die: its name, pads needed and available, whether its heaters are routed (and why not)."""
    layout = report["layout"]
    bumps = layout["info"].get("bumps")
    if bumps is not None:
        return [_bump_die(d) for d in bumps["per_die"]]
    mounted = layout["info"].get("die")
    if isinstance(mounted, dict):  # one foundry die frame with bond pads
        routing = mounted.get("heater_routing") or {}
        return [{"die": mounted["die"], "heaters": heaters, "pads_needed": pads_for(heaters),
                 "pads_available": mounted["bond_pads"], "routed": bool(routing.get("routed")),
                 "why_not_routed": routing.get("why")}]
    floorplan = layout.get("floorplan")
    if floorplan is not None:  # floorplanned dies (either PDK): edge couplers, no bond pads drawn
        return [{"die": d["cell"], "heaters": d["heaters"], "pads_needed": pads_for(d["heaters"]), "pads_available": 0,
                 "routed": d["heaters"] == 0, "why_not_routed": "a floorplanned die draws edge couplers and no bond pads: "
                 "--pads bumps:PITCH puts a bump array on it (optinc PDK)"}
                for d in floorplan["per_die"]]
    return [{"die": None, "heaters": heaters, "pads_needed": pads_for(heaters), "pads_available": 0,
             "routed": heaters == 0, "why_not_routed": "no die (--die) to route to"}]


def _bump_die(routing: dict) -> dict:
    """One die of a flip-chip build: its bump sites against the bumps its heaters need, from its routing record."""
    return {"die": routing["cell"], "heaters": routing["heaters"], "pads_needed": routing["bumps_needed"],
            "pads_available": routing["sites"], "pads_used": routing["bumps_used"],
            "ground_bumps": routing["ground_bumps"], "routed": routing["routed"], "why_not_routed": routing.get("why")}


def signoff(top: Block, report: dict, fixed_phases: bool = False) -> dict:
    """Pads needed/available, routing and verdict per die, and the counts the verdicts rest on; with
    ``fixed_phases`` every phase is a delay section (``--phases fixed``): no heater, no pad."""
    heaters = 0 if fixed_phases else heater_count(top)
    shared = _shared_blockers(report)
    dies = _dies(report, heaters)
    for die in dies:
        blockers = []
        if die["pads_available"] < die["pads_needed"]:
            blockers.append(f"needs {die['pads_needed']} pads, the die offers {die['pads_available']}")
        if not die["routed"]:
            blockers.append(f"heaters not routed ({die['why_not_routed']})")
        die["blockers"] = blockers + shared
        die["tapeout_ready"] = not die["blockers"]
    drc, optical = report.get("drc") or {}, report.get("connectivity") or {}
    bumps = report["layout"]["info"].get("bumps")
    pads = {"mode": "perimeter"} if bumps is None else {"mode": "bumps", "pitch_um": bumps["pitch_um"]}
    needed = pads_for(heaters) if bumps is None else sum(d["pads_needed"] for d in dies)
    return {"heaters": heaters, "pads": pads, "pads_needed": needed, "dies": dies,
            "drc_violations": drc.get("violations"),
            "optical_mismatches": abs(optical["open_ends"] - optical["expected_open_ends"]) if optical else None,
            "optical_connections": (optical.get("ports") or {}).get("connections") if optical else None,
            "optical_connection_mismatches": (optical.get("ports") or {}).get("mismatches") if optical else None,
            "electrical_mismatches": (report.get("electrical") or {}).get("mismatches"),
            "tapeout_ready": all(d["tapeout_ready"] for d in dies)}


def system_verdict(budget: dict | None) -> dict | None:
    """Whether the chip works as a system, from its link budget (``analysis.link_budget``): the dies' verdicts say
    whether the layout can be taped out, this one whether light reaches every receiver from a laser a server can
    launch, passively (no optical gain or O-E-O regeneration between the stages)."""
    if not budget:
        return None
    laser, limit = budget["laser_dbm_per_server"], budget["max_launch_dbm"]
    works = bool(budget["passive_ok"])
    why = ("" if works else f"needs {laser:.1f} dBm of laser per server, more than the {limit:g} dBm a server launches: "
           f"optical gain or O-E-O regeneration between stages ({len(budget['regeneration'])} places in the link budget)")
    return {"works_passively": works, "laser_dbm_per_server": laser, "max_launch_dbm": limit,
            "worst_excess_db": budget["worst_excess_db"], "why_not": why}
