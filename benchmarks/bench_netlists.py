"""Whole-design netlists: ours (from the layout plan, phases as settings) against gdsfactory's extraction, in one run.

    python benchmarks/bench_netlists.py                    # b8n4: ours and gdsfactory's
    python benchmarks/bench_netlists.py --scenario b8n16 --no-peer

Ours is ``design_netlists`` (every description block, placed by the plan, θ/φ as settings) then
``write_netlists`` (one .pic.yml per level). The alternative is what gdsfactory offers for a drawn
design: ``get_netlist(recursive=True)`` on the built layout component, which follows the GDS cell
hierarchy (shared, phase-free cells, so no phase reaches it) and is timed here with PyYAML
writing its result. Both start from the same description (shipped weights); the layout is drawn
once for the alternative, not timed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import machine


def _description(name: str):
    from optinc_pdk.circuit.builder import build_description
    from optinc_pdk.flows.build import load_design_weights
    from optinc_pdk.spec.scenario import load_scenario

    scenario = load_scenario(name)
    (weights,) = load_design_weights(scenario, None, None)
    return scenario, build_description(scenario, weights)


def ours(scenario, description, folder: Path) -> dict:
    from optinc_pdk.layout.netlists import design_netlists, write_netlists
    from optinc_pdk.layout.planner import Planner

    t0 = time.perf_counter()
    netlists = design_netlists(description.top, Planner(scenario.device), name=scenario.name)
    t1 = time.perf_counter()
    paths = write_netlists(netlists, folder)
    t2 = time.perf_counter()
    instances = sum(len(n["instances"]) for n in netlists.values())
    return {"build_s": t1 - t0, "write_s": t2 - t1, "files": len(paths), "instances": instances,
            "mb": sum(p.stat().st_size for p in paths) / 1e6}


def gdsfactory_extraction(scenario, description, folder: Path) -> dict:
    import yaml

    from optinc_pdk.layout import build_layout

    built = build_layout(description)
    try:
        t0 = time.perf_counter()
        netlists = built.component.get_netlist(recursive=True, on_dangling_port="ignore", on_multi_connect="ignore")
        t1 = time.perf_counter()
        text = yaml.dump(netlists, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))
        (folder / "recursive.yml").write_text(text)
        t2 = time.perf_counter()
    finally:
        built.close()
    instances = sum(len(n["instances"]) for n in netlists.values())
    return {"build_s": t1 - t0, "write_s": t2 - t1, "files": 1, "instances": instances, "mb": len(text) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="b8n4")
    parser.add_argument("--no-peer", action="store_true", help="skip gdsfactory's recursive get_netlist")
    args = parser.parse_args()
    print(machine())
    scenario, description = _description(args.scenario)
    with tempfile.TemporaryDirectory() as tmp:
        rows = {"ours (design_netlists + write_netlists)": ours(scenario, description, Path(tmp) / "ours")}
        if not args.no_peer:
            (Path(tmp) / "peer").mkdir()
            rows["gdsfactory get_netlist(recursive=True) + yaml"] = gdsfactory_extraction(scenario, description, Path(tmp) / "peer")
    print(f"| {args.scenario} | build (s) | write (s) | files | instances | MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows.items():
        print(f"| {name} | {r['build_s']:.2f} | {r['write_s']:.2f} | {r['files']} | {r['instances']} | {r['mb']:.1f} |")


if __name__ == "__main__":
    main()
