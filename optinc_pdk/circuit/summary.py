"""Element counts per block of a description, and the same totals as the analytic area report.

Every block (leaf or composite) gets its MZIs (mesh MZIs and attenuator MZIs), 2-port splitters
and combiners, phase shifters (mesh output screens), nonlinear units and light sources;
a composite's counts are its children's sums. :func:`area_view` regroups them like
:class:`optinc_pdk.core.area.OnnArea` (weight-matrix MZIs per layer, periphery by kind), so a test can
assert that the description and the analytic report agree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict

from optinc_pdk.circuit import naming
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import (
    AttenuatorColumn,
    Block,
    Composite,
    MeshBlock,
    NonlinearArray,
    Source,
    TreeArray,
)
from optinc_pdk.core import area
from optinc_pdk.spec.scenario import load_scenario

COUNT_KEYS = ("mzis", "mesh_mzis", "attenuator_mzis", "splitters", "combiners", "phase_shifters", "nonlinear_units", "sources")


def leaf_counts(block: Block) -> Counter:
    counts: Counter = Counter({key: 0 for key in COUNT_KEYS})
    if isinstance(block, MeshBlock):
        counts["mesh_mzis"] = block.n_mzis
        counts["phase_shifters"] = block.n_modes
    elif isinstance(block, AttenuatorColumn):
        counts["attenuator_mzis"] = block.n_mzis
    elif isinstance(block, TreeArray):
        counts["splitters" if block.splitting else "combiners"] = block.n_elements
    elif isinstance(block, NonlinearArray):
        counts["nonlinear_units"] = block.n_in
    elif isinstance(block, Source):
        counts["sources"] = 1
    counts["mzis"] = counts["mesh_mzis"] + counts["attenuator_mzis"]
    return counts


def block_counts(block: Block, into: dict[str, Counter] | None = None) -> dict[str, Counter]:
    """Counts of ``block`` and of every block inside it, by name."""
    into = {} if into is None else into
    if isinstance(block, Composite):
        total: Counter = Counter({key: 0 for key in COUNT_KEYS})
        for child in block.children:
            block_counts(child, into)
            total.update(into[child.name])
        into[block.name] = total
    else:
        into[block.name] = leaf_counts(block)
    return into


def area_view(description: CircuitDescription, counts: dict[str, Counter] | None = None) -> dict:
    """The description's counts in the shape of ``area.onn_area(...).to_dict()``'s layers and periphery."""
    counts = counts if counts is not None else block_counts(description.top)

    def get(name: str, key: str) -> int:
        return int(counts[name][key]) if name in counts else 0

    layers = []
    for info in description.layers:
        matrix = naming.layer_part(info.index, "matrix")
        layers.append({
            "layer": info.index,
            "approx_mzis": get(matrix, "mzis"),
            "mesh_mzis": get(matrix, "mesh_mzis"),
            "sigma_mzis": get(matrix, "attenuator_mzis"),
            "tree_splitters": get(matrix, "splitters"),
            "tree_combiners": get(matrix, "combiners"),
            "blocks": info.blocks,
            "k": info.k,
        })
    indices = [info.index for info in description.layers]
    periphery = {
        "averager_combiners": get(naming.AVERAGER, "combiners"),
        "averager_attenuators": get(naming.AVERAGER, "attenuator_mzis"),
        "bias_splitters": sum(get(naming.layer_part(i, "bias"), "splitters") for i in indices),
        "bias_attenuators": sum(get(naming.layer_part(i, "bias"), "attenuator_mzis") for i in indices),
        "bias_combiners": sum(get(naming.layer_part(i, "bias"), "combiners") for i in indices),
        "nonlinear_units": get(naming.TOP, "nonlinear_units"),
        "broadcast_splitters": get(naming.BROADCAST, "splitters"),
        "tree_splitters": sum(row["tree_splitters"] for row in layers),
        "tree_combiners": sum(row["tree_combiners"] for row in layers),
    }
    return {"approx_mzis": sum(row["approx_mzis"] for row in layers), "layers": layers, "periphery": periphery}


def area_mismatches(description: CircuitDescription) -> list[str]:
    """Where the description's counts differ from ``area.onn_area`` of its scenario (empty: they agree)."""
    analytic = area.onn_area(description.scenario)
    view = area_view(description)
    problems = []
    for row, layer in zip(view["layers"], analytic.layers):
        for key in ("approx_mzis", "mesh_mzis", "sigma_mzis", "tree_splitters", "tree_combiners", "blocks", "k"):
            if row[key] != getattr(layer, key):
                problems.append(f"L{layer.layer}.{key}: description {row[key]}, area {getattr(layer, key)}")
    for key, value in asdict(analytic.periphery).items():
        if view["periphery"][key] != value:
            problems.append(f"periphery.{key}: description {view['periphery'][key]}, area {value}")
    return problems


def summary(description: CircuitDescription) -> dict:
    """The JSON summary: totals, the area-report view, the comparison, and every block's counts."""
    counts = block_counts(description.top)
    blocks = []
    for block in description.walk():
        blocks.append({"name": block.name, "kind": block.kind, "role": getattr(block, "role", ""),
                       "n_in": block.n_in, "n_out": block.n_out, **{k: int(v) for k, v in counts[block.name].items()}})
    view = area_view(description, counts)
    problems = area_mismatches(description)
    return {
        "scenario": description.scenario.name,
        "weights_sha256": description.weights_digest,
        "mesh": description.mesh_kind,
        "totals": {k: int(v) for k, v in counts[naming.TOP].items()},
        "weight_matrix_mzis": view["approx_mzis"],
        "area_view": view,
        "matches_area_report": not problems,
        "area_mismatches": problems,
        "blocks": blocks,
    }


# the scenarios a cascade is compared against: one basic OptINC of its level, one flat OptINC of its size
CASCADE_BASE, CASCADE_FLAT = "b8n4", "b8n16"


def cascade_counts(description) -> dict:
    """Totals of the whole cascade, weight-matrix MZIs per OptINC, and the check against the analytic area."""
    counts = block_counts(description.top)
    top = description.top
    matrix_mzis = {name: int(area_view(level)["approx_mzis"])  # once per level, not per OptINC
                   for name, level in (("level1", description.level1), ("level2", description.level2))}
    per_optinc = {}
    for child in top.children:
        if getattr(child, "role", "") == "optinc":
            per_optinc[child.name] = {"mzis": int(counts[child.name]["mzis"]),
                                      "weight_matrix_mzis": matrix_mzis[child.name.split(".")[0]]}
    weight_mzis = sum(row["weight_matrix_mzis"] for row in per_optinc.values())
    base, flat = load_scenario(CASCADE_BASE), load_scenario(CASCADE_FLAT)
    expected = area.cascade_overhead(description.scenario, base, flat).cascade_mzis
    return {
        "totals": {k: int(v) for k, v in counts[top.name].items()},
        "optincs": per_optinc,
        "weight_matrix_mzis": weight_mzis,
        "analytic_weight_matrix_mzis": expected,
        "matches_area_report": weight_mzis == expected,
    }
