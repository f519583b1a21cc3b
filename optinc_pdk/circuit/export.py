"""Write a description's exports to a folder: phase map, compact netlist, summary.

    <folder>/phases.npz, phases.json     phase map v1 of the whole design (circuit.phases)
    <folder>/circuit.json                compact netlist of every block (circuit.compact)
    <folder>/summary.json                element counts per block, checked against the area report

The gdsfactory-schema netlists of every level, placed as drawn, come from the layout's plan
(:mod:`optinc_pdk.layout.netlists`), so they are written by ``optinc build`` and ``optinc describe``.

Everything is computed before the first file is written, and each file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from optinc_pdk.circuit.compact import compact_netlist
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.phases import design_entries
from optinc_pdk.circuit.summary import summary
from optinc_pdk.core.atomic import write_text_atomic
from optinc_pdk.decompose.phasemap import save_phase_map


def write_exports(description: CircuitDescription, folder: str | Path) -> dict:
    folder = Path(folder)
    entries, sidecar = design_entries(description)
    texts = {
        folder / "circuit.json": json.dumps(compact_netlist(description), indent=1) + "\n",
        folder / "summary.json": json.dumps(summary(description), indent=1) + "\n",
    }
    phase_npz, phase_json = save_phase_map(folder / "phases", entries, sidecar)
    for path, text in texts.items():
        write_text_atomic(path, text)
    return {
        "phase_map": [str(phase_npz), str(phase_json)],
        "compact_netlist": str(folder / "circuit.json"),
        "summary": str(folder / "summary.json"),
    }


def write_cascade_exports(description, folder: str | Path) -> tuple[dict, dict]:
    """A cascade's exports: ``level1/`` and ``level2/`` (each level's files, as above; all level-1
    OptINCs share level 1's phases) and ``summary.json`` (counts per OptINC, checked against
    `optinc area`). Returns (written files, the counts)."""
    from optinc_pdk.circuit.summary import cascade_counts

    folder = Path(folder)
    counts = cascade_counts(description)
    written = {f"level{n}": write_exports(level, folder / f"level{n}")
               for n, level in enumerate(description.levels, 1)}
    written["summary"] = str(write_text_atomic(folder / "summary.json", json.dumps(counts, indent=1) + "\n"))
    return written, counts

