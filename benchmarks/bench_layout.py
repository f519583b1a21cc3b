"""Layout speed and size, side by side: our hierarchical layout vs one reference per MZI.

    python benchmarks/bench_layout.py                       # b8n16_full (1 746 840 MZIs), both ways
    python benchmarks/bench_layout.py --scenario b8n4 --json out.json

Each way runs in its own process (so each peak memory is its own) on the same description: the
scenario's structure with random phases (``optinc_pdk.layout.synthetic``, assembled by the
circuit builder). Assembling the description is not layout work and is reported apart.

* **ours** — ``write_layout``: plan, draw (meshes as arrays of column arrays, shared cells),
  write GDS and OASIS, each read back by KLayout and its MZIs counted before the rename.
* **naive** — one gdsfactory cell, one ``add_ref`` + ``dmove`` per MZI (``mzi2x2`` or
  ``mzi_attenuator``) at the position our layout gives it, written as GDS and OASIS, then read
  back and counted the same way. MZIs only: no waveguides, trees or heaters between them, so it
  is a lower bound on the naive way's cost.

Timed: everything after the description exists (gdsfactory import and PDK activation excluded
from both). Peak memory: the process's peak RSS (description included), sampled every 10 ms and
checked against ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakMemory:
    def __init__(self) -> None:
        self.peak = _rss_mb()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.01)

    def stop(self) -> float:
        self._stop = True
        self._thread.join()
        return max(self.peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _describe(scenario_name: str):
    from optinc_pdk.layout.synthetic import random_phase_description
    from optinc_pdk.spec.scenario import load_scenario

    t0 = time.perf_counter()
    description = random_phase_description(load_scenario(scenario_name))
    return description, time.perf_counter() - t0


def run_ours(scenario_name: str, out: Path) -> dict:
    memory = PeakMemory()
    description, describe_s = _describe(scenario_name)
    from optinc_pdk.layout import write_layout
    from optinc_pdk.pdk import activate_pdk

    activate_pdk()
    t0 = time.perf_counter()
    result = write_layout(description, out, formats=("gds", "oas"), png=False)
    layout_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    from optinc_pdk.layout.render import render_png

    render_png(result.paths["oas"], out / f"{result.name}.png")
    png_s = time.perf_counter() - t0
    return {
        "method": "ours", "describe_s": describe_s, "seconds": layout_s, "png_s": png_s, "peak_mb": memory.stop(),
        "mzis_read_back": result.mzis, "gds_bytes": result.paths["gds"].stat().st_size,
        "oas_bytes": result.paths["oas"].stat().st_size, "steps": result.timings,
        "width_mm": result.footprint.total.width_mm, "height_mm": result.footprint.total.height_mm,
    }


def run_naive(scenario_name: str, out: Path) -> dict:
    memory = PeakMemory()
    description, describe_s = _describe(scenario_name)
    import gdsfactory as gf
    import numpy as np

    from optinc_pdk.circuit.model import AttenuatorColumn, MeshBlock
    from optinc_pdk.layout.labels import leaf_origins, mzi_origins
    from optinc_pdk.layout.planner import Planner
    from optinc_pdk.layout.readback import count_instances, read_layout
    from optinc_pdk.pdk import activate_pdk
    from optinc_pdk.pdk.cells import mzi2x2, mzi_attenuator

    activate_pdk()
    g = description.scenario.device
    cells = {MeshBlock: mzi2x2(geometry=g), AttenuatorColumn: mzi_attenuator(geometry=g)}
    t0 = time.perf_counter()
    planner = Planner(g)
    planner.plan(description.top)
    top = gf.Component(name=f"{description.scenario.name}_naive")
    placed = 0
    for block, x, y in leaf_origins(description.top, planner):
        if type(block) not in cells:
            continue
        cell = cells[type(block)]
        for px, py in (mzi_origins(block, g) + (x, y)).tolist():
            top.add_ref(cell).dmove((px, py))
            placed += 1
    place_s = time.perf_counter() - t0
    sizes, steps = {}, {"place_s": place_s}
    for fmt in ("gds", "oas"):
        path = out / f"{top.name}.{fmt}"
        t1 = time.perf_counter()
        top.write(path, set_meta_data=False)
        steps[f"{fmt}_s"] = time.perf_counter() - t1
        sizes[fmt] = path.stat().st_size
    seconds = time.perf_counter() - t0
    found = count_instances(read_layout(out / f"{top.name}.gds"), "mzi")
    return {
        "method": "naive", "describe_s": describe_s, "seconds": seconds, "peak_mb": memory.stop(),
        "mzis_placed": placed, "mzis_read_back": found, "gds_bytes": sizes["gds"], "oas_bytes": sizes["oas"],
        "steps": steps, "positions_from": "our plan (so both layouts put every MZI at the same place)",
        "numpy": np.__version__,
    }


def _child(method: str, scenario: str, out: str) -> None:
    result = (run_ours if method == "ours" else run_naive)(scenario, Path(out))
    print("RESULT " + json.dumps(result))


def _machine() -> dict:
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "load_average": os.getloadavg(), "date": time.strftime("%Y-%m-%d")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="b8n16_full")
    parser.add_argument("--out", default=None, help="folder for the written files (default: a temporary one)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "SCENARIO", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.out or scratch)
        out.mkdir(parents=True, exist_ok=True)
        rows = []
        for method in ("ours", "naive")[: 1 if args.skip_naive else 2]:
            proc = subprocess.run([sys.executable, __file__, "--child", method, args.scenario, str(out)],
                                  capture_output=True, text=True)
            lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
            if proc.returncode or not lines:
                sys.exit(f"{method} failed:\n{proc.stderr[-3000:]}")
            rows.append(json.loads(lines[-1][len("RESULT "):]))
    report = {"scenario": args.scenario, "machine": _machine(), "results": rows}
    print(f"# layout of {args.scenario} on {report['machine']['nproc']} x {report['machine']['cpu']}"
          f" (load {report['machine']['load_average'][0]:.1f}), {report['machine']['date']}")
    print("| method | MZIs read back | seconds | peak RSS MB | GDS MB | OASIS MB | (description, s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['method']} | {r['mzis_read_back']:,} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | "
              f"{r['gds_bytes'] / 1e6:.2f} | {r['oas_bytes'] / 1e6:.3f} | {r['describe_s']:.0f} |")
    for r in rows:
        print(f"{r['method']} steps: " + ", ".join(f"{k} {v:.2f}" for k, v in r["steps"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
