"""Area of a cascade from its circuit description: MZI counts per OptINC, checked against `optinc area`.

The paper's overhead (about 10.5%) compares one expanded OptINC (4-64-64-128-256-128-64-64-4) with
one basic ``b8n4`` OptINC; we report that, the cascade against five basic OptINCs, and the whole
cascade against one flat ``b8n16`` OptINC serving the same 16 servers. Footprints (mm², bounding
boxes from the cells' geometry) are added by the build from the written layout.
"""

from __future__ import annotations

from optinc_pdk.circuit.summary import CASCADE_BASE as BASE
from optinc_pdk.circuit.summary import CASCADE_FLAT as FLAT
from optinc_pdk.core import area
from optinc_pdk.spec.scenario import Scenario, load_scenario


def cascade_area(scenario: Scenario, footprints_mm2: dict[str, float] | None = None) -> dict:
    """Overheads by MZI count (and by footprint when ``footprints_mm2`` has the cascade, base and flat)."""
    base, flat = load_scenario(BASE), load_scenario(FLAT)
    overhead = area.cascade_overhead(scenario, base, flat)
    optincs = scenario.cascade.servers_per_optinc + 1
    five_base = optincs * overhead.base_optinc_mzis
    out = {
        "optincs": optincs,
        "expanded_optinc_mzis": overhead.optinc_mzis,
        "base_optinc": BASE,
        "base_optinc_mzis": overhead.base_optinc_mzis,
        "overhead_per_optinc": overhead.overhead,
        "paper_overhead": overhead.paper_overhead,
        "cascade_mzis": overhead.cascade_mzis,
        f"{optincs}x_{BASE}_mzis": five_base,
        f"overhead_vs_{optincs}x_{BASE}": overhead.cascade_mzis / five_base - 1.0,
        "flat_optinc": FLAT,
        "flat_mzis": overhead.flat_mzis,
        "overhead_vs_flat": overhead.overhead_vs_flat,
    }
    if footprints_mm2:
        mine, one_base, one_flat = (footprints_mm2.get(k) for k in (scenario.name, BASE, FLAT))
        if mine and one_base:
            out[f"footprint_vs_{optincs}x_{BASE}"] = mine / (optincs * one_base) - 1.0
        if mine and one_flat:
            out["footprint_vs_flat"] = mine / one_flat - 1.0
        cell = footprints_mm2.get("optinc_cell")
        if cell and one_base:
            out[f"optinc_cell_vs_{BASE}"] = cell / one_base - 1.0
        out["footprints_mm2"] = dict(footprints_mm2)
    return out
