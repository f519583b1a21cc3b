"""Signoff of one build: our hierarchical DRC against KLayout's deep mode on the waveguide layer, and the link budget.

Run: ``python benchmarks/bench_signoff.py [SCENARIO] [--deep-limit S]`` (default b8n4, deep mode cut at 300 s;
0 skips it). Times each part of the signoff: layout, connectivity (open ends; port to port), heater power, DRC,
link budget.
Writes the layout to a temporary folder first (``optinc_pdk.layout.write_layout``, GDS only).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import machine, timed_in_process

from optinc_pdk.analysis.link_budget import link_budget
from optinc_pdk.analysis.power import heater_power, least_heater_power
from optinc_pdk.circuit.builder import build_description
from optinc_pdk.core.weights import load_for_scenario
from optinc_pdk.layout import write_layout
from optinc_pdk.layout.connectivity import check_connectivity
from optinc_pdk.layout.drc import run_drc
from optinc_pdk.layout.planner import Planner
from optinc_pdk.layout.port_links import check_port_links
from optinc_pdk.spec.scenario import load_scenario


def _deep_waveguide(path: str) -> None:
    """KLayout's hierarchical engine on the waveguide layer: width and space, merged semantics."""
    import klayout.db as kdb

    layout = kdb.Layout()
    layout.read(path)
    store = kdb.DeepShapeStore()  # kept alive: the region's shapes live in it
    region = kdb.Region(layout.top_cell().begin_shapes_rec(layout.find_layer(1, 0)), store)
    region.width_check(200, False, kdb.Metrics.Euclidian, 80)
    region.space_check(200, False, kdb.Metrics.Euclidian, 80)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", nargs="?", default="b8n4")
    parser.add_argument("--deep-limit", type=float, default=300.0)
    args = parser.parse_args()
    print(machine())
    scenario = load_scenario(args.scenario)
    description = build_description(scenario, load_for_scenario(scenario, None))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        gds = str(write_layout(description, Path(folder), formats=("gds",), png=False).paths["gds"])
        print(f"layout (plan, draw, crossings, GDS written and read back): {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        ends = check_connectivity(gds, description.top, scenario.device.wg_width)
        print(f"connectivity from the GDS (open ends): {time.perf_counter() - start:.1f} s, {ends.count} drawn, "
              f"{ends.expected} meant")
        start = time.perf_counter()
        links = check_port_links(gds, description.top, Planner(scenario.device), scenario.device.wg_width)
        print(f"connectivity from the GDS (port to port, against the block netlists): {time.perf_counter() - start:.1f} s, "
              f"{links.connections} connections in {links.blocks} block cells, {links.mismatches} mismatches")
        start = time.perf_counter()
        power = least_heater_power(description.top)
        print(f"heater power, least (arm choice + matrix check): {time.perf_counter() - start:.1f} s, "
              f"{heater_power(description.top)['total_w']:.1f} W -> {power['total_w']:.1f} W")
        start = time.perf_counter()
        drc = run_drc(gds)
        print(f"ours (all rules, hierarchical WG + deep heater/metal): {time.perf_counter() - start:.1f} s, "
              f"{drc.total} violations")
        start = time.perf_counter()
        budget = link_budget(description, scenario.budget)
        print(f"link budget: {time.perf_counter() - start:.1f} s, worst {budget['worst_excess_db']:.1f} dB")
        if args.deep_limit <= 0:
            return
        timed_in_process(_deep_waveguide, (gds,), args.deep_limit, "KLayout deep mode, WG width + space")


if __name__ == "__main__":
    main()
