"""Written layouts read back into gdsfactory: gf.import_gds, placement in a new design, written again.

The ports of the top cell name a kfactory cross-section (e.g. ``028523d7_500``); the file must carry
its definition (layout-level meta data) or ``gf.import_gds`` fails with a KeyError. Each PDK runs in
a fresh interpreter, so the activation state of this test process does not leak into the check.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from test_circuit_helpers import tiny_scenario

from optinc_pdk.circuit import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.layout import write_layout
from optinc_pdk.pdk import activate_pdk

CHECK = textwrap.dedent("""
    import json, sys
    import gdsfactory as gf
    from optinc_pdk.layout import count_instances, read_layout

    pdk, out, paths, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
    if pdk == "optinc":
        from optinc_pdk.pdk import activate_pdk
        activate_pdk()
    else:
        gf.gpdk.PDK.activate()
    report = {}
    for fmt, path in paths.items():
        component = gf.import_gds(path)
        design = gf.Component(f"design_{pdk}_{fmt}")
        ref = design.add_ref(component, name="onn")
        design.add_ports(ref.ports, prefix="onn_")
        ref.dmove((100.0, 50.0))
        written = {}
        for suffix in ("gds", "oas"):
            target = f"{out}/{pdk}_{fmt}_placed.{suffix}"
            design.write_gds(target) if suffix == "gds" else design.write(target)
            again = gf.import_gds(target)  # the placed design reads back too
            written[suffix] = [count_instances(read_layout(target), "mzi"), len(again.ports)]
        report[fmt] = {"name": component.name, "mzis_info": component.info["mzis"], "ports": len(component.ports),
                       "placed_ports": len(design.ports), "written": written}
    print("REPORT", json.dumps(report))
""")


@pytest.fixture(scope="module")
def tiny_layout(tmp_path_factory):
    activate_pdk()
    scenario = tiny_scenario()
    out = tmp_path_factory.mktemp("tiny_layout")
    return write_layout(build_description(scenario, random_weights(scenario, 1)), out, png=False)


@pytest.mark.parametrize("pdk", ["optinc", "generic"])
def test_written_gds_and_oas_import_place_and_write_again(tiny_layout, tmp_path, pdk):
    paths = {fmt: str(tiny_layout.paths[fmt]) for fmt in ("gds", "oas")}
    done = subprocess.run(
        [sys.executable, "-c", CHECK, pdk, str(tmp_path), json.dumps(paths), str(tiny_layout.mzis)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout.split("REPORT", 1)[1])
    for fmt in ("gds", "oas"):
        got = report[fmt]
        assert got["name"] == tiny_layout.name and got["mzis_info"] == tiny_layout.mzis
        assert got["ports"] > 0 and got["placed_ports"] == got["ports"]
        for suffix in ("gds", "oas"):
            mzis, ports = got["written"][suffix]
            assert mzis == tiny_layout.mzis, (fmt, suffix)
            assert ports == got["ports"], (fmt, suffix)
