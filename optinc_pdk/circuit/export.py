"""Write a description's exports to a folder: phase map, compact netlist, summary, YAML netlists.

    <folder>/phases.npz, phases.json     phase map v1 of the whole design (circuit.phases)
    <folder>/circuit.json                compact netlist of every block (circuit.compact)
    <folder>/summary.json                element counts per block, checked against the area report
    <folder>/netlists/<block>.yml        gdsfactory-schema netlist of every block whose blocks all
                                         have at most ``yaml_max_channels`` channels (circuit.netlist)

Everything is computed before the first file is written, and each file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from optinc_pdk.circuit import naming
from optinc_pdk.circuit.compact import compact_netlist
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import Block, Source
from optinc_pdk.circuit.netlist import block_netlist
from optinc_pdk.circuit.phases import design_entries
from optinc_pdk.circuit.summary import summary
from optinc_pdk.core.atomic import write_text_atomic
from optinc_pdk.decompose.phasemap import save_phase_map

YAML_MAX_CHANNELS = 32


def yaml_blocks(description: CircuitDescription, max_channels: int = YAML_MAX_CHANNELS) -> list[Block]:
    """Blocks small enough for a per-instance YAML netlist (every block inside within the limit)."""
    small = []
    for block in description.walk():
        if isinstance(block, Source):  # a bare light input has no element to instantiate
            continue
        if all(max(inner.n_in, inner.n_out) <= max_channels for inner in block.walk()):
            small.append(block)
    return small


def write_exports(description: CircuitDescription, folder: str | Path, yaml_max_channels: int = YAML_MAX_CHANNELS) -> dict:
    folder = Path(folder)
    entries, sidecar = design_entries(description)
    texts = {
        folder / "circuit.json": json.dumps(compact_netlist(description), indent=1) + "\n",
        folder / "summary.json": json.dumps(summary(description), indent=1) + "\n",
    }
    netlists = {}
    for block in yaml_blocks(description, yaml_max_channels):
        path = folder / "netlists" / f"{naming.file_stem(block.name)}.yml"
        netlists[path] = yaml.safe_dump(block_netlist(block), sort_keys=False)
    phase_npz, phase_json = save_phase_map(folder / "phases", entries, sidecar)
    for path, text in {**texts, **netlists}.items():
        write_text_atomic(path, text)
    return {
        "phase_map": [str(phase_npz), str(phase_json)],
        "compact_netlist": str(folder / "circuit.json"),
        "summary": str(folder / "summary.json"),
        "yaml_netlists": sorted(str(p) for p in netlists),
    }


def write_cascade_exports(description, folder: str | Path, yaml_max_channels: int = YAML_MAX_CHANNELS) -> tuple[dict, dict]:
    """A cascade's exports: ``level1/`` and ``level2/`` (each level's files, as above; all level-1
    OptINCs share level 1's phases) and ``summary.json`` (counts per OptINC, checked against
    `optinc area`). Returns (written files, the counts)."""
    from optinc_pdk.circuit.summary import cascade_counts

    folder = Path(folder)
    counts = cascade_counts(description)
    written = {f"level{n}": write_exports(level, folder / f"level{n}", yaml_max_channels)
               for n, level in enumerate(description.levels, 1)}
    written["summary"] = str(write_text_atomic(folder / "summary.json", json.dumps(counts, indent=1) + "\n"))
    return written, counts

