"""Flip-chip signoff of one build (``--pads bumps:PITCH``): bump routing, bump nets and DRC, against KLayout's deep mode.

Run: ``python benchmarks/bench_bumps.py [SCENARIO] [--die reticle] [--pitch 50] [--deep-limit S]`` (default b8n4
on reticles at 50 µm; ``--deep-limit 0`` skips the alternative). Random phases (the layout does not depend on
them). Times: the layout with the bump routing (``bumps_s`` inside it), the net check through via/RDL/bump from
the GDS (``check_bump_nets``), the DRC of every rule (``run_drc``); the alternative is KLayout's deep mode on
the M2 spacing rule over the whole bump arrays, cut at ``--deep-limit`` seconds.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from common import machine, timed_in_process

from optinc_pdk.analysis.pads import heater_count
from optinc_pdk.layout import write_layout
from optinc_pdk.layout.drc import run_drc
from optinc_pdk.layout.floorplan import parse_die
from optinc_pdk.layout.nets import check_bump_nets
from optinc_pdk.layout.synthetic import random_phase_description
from optinc_pdk.pdk.rules import layer_map
from optinc_pdk.pdk.tech import LAYER
from optinc_pdk.spec.pads import parse_pads
from optinc_pdk.spec.scenario import load_scenario


def _deep_m2_space(path: str) -> None:
    """KLayout's hierarchical engine: M2 spacing over every top cell, arrays included."""
    import klayout.db as kdb

    layout = kdb.Layout()
    layout.read(path)
    store = kdb.DeepShapeStore()
    for top in layout.top_cells():
        kdb.Region(top.begin_shapes_rec(layout.find_layer(*LAYER.M2)), store).space_check(
            2000, False, kdb.Metrics.Euclidian, 80)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", nargs="?", default="b8n4")
    parser.add_argument("--die", default="reticle")
    parser.add_argument("--pitch", type=float, default=50.0)
    parser.add_argument("--deep-limit", type=float, default=300.0)
    args = parser.parse_args()
    print(machine())
    description = random_phase_description(load_scenario(args.scenario))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        result = write_layout(description, Path(folder), formats=("gds",), png=False, die=parse_die(args.die),
                              pads=parse_pads(f"bumps:{args.pitch:g}"))
        bumps = result.info["bumps"]
        print(f"layout with bumps: {time.perf_counter() - start:.1f} s (routing {result.timings['bumps_s']:.1f} s), "
              f"{bumps['sites']} sites, {bumps['bumps_used']} used, routed: {bumps['routed']}")
        gds = str(result.paths["gds"])
        nets = check_bump_nets(gds, heater_count(description.top), layer_map("optinc"), LAYER.TEXT)
        print(f"bump nets from the GDS: {nets.seconds:.1f} s, {nets.heaters_found} heaters, {nets.mismatches} mismatches")
        drc = run_drc(gds, "optinc")
        print(f"DRC (all rules, arrays by a window of members): {drc.seconds:.1f} s, {drc.total} violations")
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        if args.deep_limit > 0:
            timed_in_process(_deep_m2_space, (gds,), args.deep_limit, "deep mode, M2 space over the arrays")


if __name__ == "__main__":
    main()
