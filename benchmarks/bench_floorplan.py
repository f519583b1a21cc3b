"""Floorplanning onto dies: the analytic answer for every shipped scenario, and a big design drawn on dies.

    python benchmarks/bench_floorplan.py                          # both parts
    python benchmarks/bench_floorplan.py --skip-layout            # the analytic part only
    python benchmarks/bench_floorplan.py --scenario b8n16_full --die 100x140 --json out.json

1. **analytic** — ``optinc area <every circuits/*.yml> --die reticle --json`` as one command (a fresh
   process: interpreter start and imports included, as a user waits for it), then each scenario
   in process (``layout.footprint.analytic_floorplan``): dies and utilisation, or the one line
   saying why the design does not fit.
2. **layout** — the scenario (random phases, ``layout.synthetic``) written as GDS and OASIS and read
   back, side by side in one run: unfolded (``write_layout``) and on dies (``write_layout(die=)``),
   each in its own process (each peak RSS its own, sampled every 10 ms and checked against
   ``ru_maxrss``). Timed: everything after the description exists. The die build's time includes
   the floorplan search and drawing every die (fan-outs, couplers, frames).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_layout import PeakMemory, _describe
from common import machine

ROOT = Path(__file__).resolve().parents[1]


def run_area(names: list[str], die: str, source: Path) -> tuple[float, float, str]:
    """One fresh ``optinc area <names> --die DIE --json`` process importing optinc_pdk from ``source`` (its
    working folder too: ``python -m`` puts that first on the path): (wall s, CPU s of the process, stdout)."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    t0, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-m", "optinc_pdk.cli.main", "area", *names, "--die", die, "--json"],
                          capture_output=True, text=True, cwd=source, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"optinc area ({source}) failed:\n{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def analytic(die: str, against: Path | None = None, repeats: int = 3) -> dict:
    """The command ``repeats`` times (interleaved with the same command from the ``against`` checkout, whose
    answers must be equal), then each scenario in process."""
    from optinc_pdk.errors import OptincError
    from optinc_pdk.layout.floorplan import parse_die
    from optinc_pdk.layout.footprint import analytic_floorplan
    from optinc_pdk.spec.scenario import load_scenario

    names = sorted(p.stem for p in (ROOT / "circuits").glob("*.yml"))
    sources = {"this tree": ROOT, **({f"against {against}": against} if against else {})}
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in sources}
    answers = {}
    for _ in range(repeats):
        for label, source in sources.items():
            wall, cpu, answers[label] = run_area(names, die, source)
            runs[label].append((wall, cpu))
    if against and len(set(answers.values())) != 1:
        sys.exit(f"optinc area answers differ between this tree and {against}")
    rows = []
    for name in names:
        t0 = time.perf_counter()
        try:
            plan = analytic_floorplan(load_scenario(name), parse_die(die)).to_dict()
            answer = f"{plan['dies']} dies, utilisation {100 * plan['utilisation']:.1f}%, " \
                     f"{len(plan['inter_die_links'])} links"
        except OptincError as error:
            answer = "does not fit: " + str(error).split("does not fit: ", 1)[-1]
        rows.append({"scenario": name, "seconds": time.perf_counter() - t0, "answer": answer})
    return {"die": die, "scenarios": len(names), "runs": runs, "rows": rows,
            "in_process_s": sum(r["seconds"] for r in rows), "load": os.getloadavg()}


def run_layout(scenario: str, die: str | None, out: Path) -> dict:
    memory = PeakMemory()
    description, describe_s = _describe(scenario)
    from optinc_pdk.layout import write_layout
    from optinc_pdk.layout.floorplan import parse_die
    from optinc_pdk.pdk import activate_pdk

    activate_pdk()
    t0 = time.perf_counter()
    result = write_layout(description, out / (die or "unfolded"), formats=("gds", "oas"), png=False,
                          die=parse_die(die) if die else None)
    seconds = time.perf_counter() - t0
    plan = result.floorplan
    return {"way": f"on {die} dies" if die else "unfolded", "describe_s": describe_s, "seconds": seconds,
            "peak_mb": memory.stop(), "mzis_read_back": result.mzis, "expected_mzis": result.expected_mzis,
            "gds_bytes": result.paths["gds"].stat().st_size, "oas_bytes": result.paths["oas"].stat().st_size,
            "steps": result.timings, "dies": plan["dies"] if plan else 1,
            "utilisation": plan["utilisation"] if plan else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="b8n16_full")
    parser.add_argument("--die", default="100x140", help="die of the layout part (the analytic part uses reticle)")
    parser.add_argument("--skip-layout", action="store_true")
    parser.add_argument("--json", default=None)
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout (e.g. `git archive` of an older commit): the analytic command from it, "
                             "interleaved with this tree's, side by side")
    parser.add_argument("--child", nargs=3, metavar=("SCENARIO", "DIE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        scenario, die, out = args.child
        print("RESULT " + json.dumps(run_layout(scenario, None if die == "-" else die, Path(out))))
        return
    print(f"# {machine()}")
    report = {"machine": machine(), "analytic": analytic("reticle", args.against)}
    a = report["analytic"]
    print(f"optinc area ({a['scenarios']} shipped scenarios) --die reticle, one fresh process each run "
          f"(load {', '.join(f'{v:.1f}' for v in a['load'])}):")
    for label, runs in a["runs"].items():
        print(f"  {label}: " + "; ".join(f"{wall:.2f} s wall, {cpu:.2f} s CPU" for wall, cpu in runs))
    print(f"in process (this tree): {a['in_process_s']:.2f} s")
    print("| scenario | seconds | answer |\n| --- | ---: | --- |")
    for r in a["rows"]:
        print(f"| {r['scenario']} | {r['seconds']:.2f} | {r['answer']} |")
    if not args.skip_layout:
        rows = []
        with tempfile.TemporaryDirectory() as scratch:
            for die in ("-", args.die):
                proc = subprocess.run([sys.executable, __file__, "--child", args.scenario, die, scratch],
                                      capture_output=True, text=True)
                lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
                if proc.returncode or not lines:
                    sys.exit(f"{die} failed:\n{proc.stderr[-3000:]}")
                rows.append(json.loads(lines[-1][len("RESULT "):]))
        report["layout"] = {"scenario": args.scenario, "rows": rows}
        print(f"\n{args.scenario}: | way | dies | MZIs read back | seconds | peak RSS MB | GDS MB | OASIS MB |")
        for r in rows:
            print(f"| {r['way']} | {r['dies']} | {r['mzis_read_back']:,} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | "
                  f"{r['gds_bytes'] / 1e6:.2f} | {r['oas_bytes'] / 1e6:.3f} |")
        for r in rows:
            print(f"{r['way']} steps: " + ", ".join(f"{k} {v:.2f}" for k, v in r["steps"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
