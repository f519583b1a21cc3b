"""The whole design's phase map v1 (docs/conventions.md, :mod:`optinc_pdk.decompose.phasemap`), and back.

Entries are named like the blocks that hold them (:mod:`optinc_pdk.circuit.naming`):
``averager/weights`` (G > 1), per layer ``L{l}/VH``, ``L{l}/S``, ``L{l}/U`` (full) or
``L{l}/B{b}/U``, ``L{l}/B{b}/D`` (blocks, one chain per block), and ``L{l}/bias/amplitude``.
The sidecar's ``layers`` list holds, in optical order, a record ``averager`` (G > 1), then per
layer ``L{l}`` (kind svd/blocks, scale s_l, orientation, k, padding, matrix_gain A_l,
input_gain α_{l−1}, output_gain α_l, hidden) and ``L{l}/bias`` (source_amplitude P_l; scale 1,
the bias amplitudes are absolute). ``design`` records the scenario's shape and the averager and
receiver gains, so a reader with numpy alone can rebuild every matrix and the whole chain.
Reading back checks every entry against the scenario and names the first mismatch.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from optinc_pdk.circuit import naming
from optinc_pdk.circuit.builder import LayerParameters, assemble, averager_block
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import AttenuatorColumn, Composite, MeshBlock
from optinc_pdk.core.weights import OnnWeights
from optinc_pdk.decompose import BlockPhases, DiagonalColumn, LayerMapping, MeshPhases
from optinc_pdk.decompose.phasemap import load_phase_map, phase_map_paths, save_phase_map
from optinc_pdk.errors import located
from optinc_pdk.spec.scenario import Scenario

AVERAGER_RECORD = "averager"


def _bias_record(index: int) -> str:
    return naming.layer_part(index, "bias")


def design_entries(description: CircuitDescription) -> tuple[dict, dict]:
    """(entries by name, sidecar) of the description's phase map."""
    entries: dict[str, MeshPhases | DiagonalColumn] = {}
    records = []
    names = description.blocks_by_name()
    if naming.AVERAGER_WEIGHTS in names:
        entries[naming.AVERAGER_WEIGHTS] = names[naming.AVERAGER_WEIGHTS].column
        records.append({"name": AVERAGER_RECORD, "kind": "averager", "scale": 1.0,
                        "optical_order": [[naming.AVERAGER_WEIGHTS]]})
    for info in description.layers:
        i = info.index
        mapping = info.mapping
        if mapping.kind == "svd":
            chain = [naming.layer_part(i, part) for part in ("VH", "S", "U")]
            entries[chain[0]], entries[chain[1]], entries[chain[2]] = mapping.v_mesh, mapping.sigma, mapping.u_mesh
            chains = [chain]
        else:
            chains = []
            for block in mapping.blocks:
                mesh, diagonal = naming.block_part(i, block.index, "U"), naming.block_part(i, block.index, "D")
                entries[mesh], entries[diagonal] = block.mesh, block.diagonal
                chains.append([mesh, diagonal])
        records.append({
            "name": info.name, "kind": mapping.kind, "scale": info.scale, "shape": [info.out_dim, info.in_dim],
            "orientation": info.orientation, "k": info.k, "blocks": info.blocks, "padding": info.padding,
            "matrix_gain": info.matrix_gain, "input_gain": info.input_gain, "output_gain": info.output_gain,
            "hidden": info.hidden, "optical_order": chains,
        })
        amplitude = naming.layer_part(i, "bias/amplitude")
        entries[amplitude] = names[amplitude].column
        records.append({"name": _bias_record(i), "kind": "bias", "scale": 1.0, "source_amplitude": info.bias_source,
                        "optical_order": [[amplitude]]})
    for name in entries:  # the blocks hold what the chip realises (a fixed-phase build: the drawn delays' phases);
        block = names[name]  # for any other build they are these very objects
        entries[name] = block.phases if isinstance(block, MeshBlock) else block.column
    scenario = description.scenario
    sidecar = {
        "layers": records,
        "design": {
            "scenario": scenario.name, "servers": description.servers, "bits": description.bits,
            "widths": list(description.widths), "approx_layers": sorted(scenario.approx_layers),
            "mesh": description.mesh_kind, "averager_gain": description.averager_gain,
            "broadcast_gain": description.broadcast_gain, "receiver_gain": description.receiver_gain,
            "weights_sha256": description.weights_digest,
            "naming": "optinc_pdk.circuit.naming; block layers chain Û mesh then diagonal",
        },
    }
    return entries, sidecar


def write_design_phase_map(description: CircuitDescription, path: str | Path) -> tuple[Path, Path]:
    entries, sidecar = design_entries(description)
    return save_phase_map(path, entries, sidecar)


# --- reading back ---------------------------------------------------------------------------


def _expect(entries: dict, name: str, kind: type, modes: int, where: Path):
    entry = entries.get(name)
    label = "mesh" if kind is MeshPhases else "diagonal column"
    if entry is None:
        raise located(where, name, f"missing: the scenario needs a {modes}-mode {label} here")
    if not isinstance(entry, kind):
        raise located(where, name, f"expected a {label}, found a {type(entry).__name__}")
    if entry.n_modes != modes:
        raise located(where, name, f"{label} has {entry.n_modes} modes, the scenario needs {modes}")
    return entry


def _check_design(sidecar: dict, scenario: Scenario, where: Path) -> dict:
    design = sidecar.get("design")
    if not isinstance(design, dict):
        raise located(where, "design", "missing: not a whole-design phase map (write one with `optinc describe`)")
    expected = {"servers": scenario.servers, "bits": scenario.bits, "widths": list(scenario.widths),
                "approx_layers": sorted(scenario.approx_layers)}
    for key, value in expected.items():
        if design.get(key) != value:
            raise located(where, f"design.{key}", f"phase map has {design.get(key)!r}, scenario {scenario.name} has {value!r}")
    return design


def _records(sidecar: dict) -> dict[str, dict]:
    return {record["name"]: record for record in sidecar["layers"]}


def _layer_mapping(index: int, record: dict | None, entries: dict, shape: tuple[int, int], approximated: bool,
                   where: Path) -> LayerMapping:
    out_dim, in_dim = shape
    name = naming.layer(index)
    if record is None:
        raise located(where, f"layers[{name}]", "missing layer record")
    kind = "blocks" if approximated else "svd"
    if record.get("kind") != kind:
        raise located(where, f"layers[{name}].kind", f"is {record.get('kind')!r}, scenario needs {kind!r}")
    scale = float(record["scale"])
    if not approximated:
        return LayerMapping(
            "svd", out_dim, in_dim, scale,
            v_mesh=_expect(entries, naming.layer_part(index, "VH"), MeshPhases, in_dim, where),
            sigma=_expect(entries, naming.layer_part(index, "S"), DiagonalColumn, min(out_dim, in_dim), where),
            u_mesh=_expect(entries, naming.layer_part(index, "U"), MeshPhases, out_dim, where),
        )
    from optinc_pdk.core.area import block_partition

    part = block_partition(out_dim, in_dim)
    blocks = []
    for b in range(part.blocks):  # in optical order: the Û mesh, then its diagonal
        mesh = _expect(entries, naming.block_part(index, b, "U"), MeshPhases, part.k, where)
        diagonal = _expect(entries, naming.block_part(index, b, "D"), DiagonalColumn, part.k, where)
        blocks.append(BlockPhases(b, diagonal, mesh))
    extra = naming.block_part(index, part.blocks, "U")
    if extra in entries:
        raise located(where, extra, f"the scenario's layer {index} has {part.blocks} blocks only")
    return LayerMapping("blocks", out_dim, in_dim, scale, k=part.k, orientation=part.orientation,
                        padding=part.padding, blocks=tuple(blocks))


def _bias(index: int, record: dict | None, entries: dict, width: int, where: Path) -> tuple[float, DiagonalColumn]:
    name = _bias_record(index)
    if record is None:
        raise located(where, f"layers[{name}]", "missing bias record")
    source = record.get("source_amplitude")
    if isinstance(source, bool) or not isinstance(source, (int, float)) or not (math.isfinite(source) and source >= 0):
        raise located(where, f"layers[{name}].source_amplitude", f"must be a finite number >= 0, got {source!r}")
    column = _expect(entries, naming.layer_part(index, "bias/amplitude"), DiagonalColumn, width, where)
    return float(source), column


def description_from_phase_map(scenario: Scenario, path: str | Path, weights: OnnWeights | None = None) -> CircuitDescription:
    """Rebuild a description from a whole-design phase map, checked against the scenario."""
    npz_path, json_path = phase_map_paths(path)
    entries, sidecar = load_phase_map(path)
    design = _check_design(sidecar, scenario, json_path)
    records = _records(sidecar)
    expected = {AVERAGER_RECORD} if scenario.group > 1 else set()
    expected |= {name for i in range(1, scenario.n_layers + 1) for name in (naming.layer(i), _bias_record(i))}
    unknown = sorted(set(records) - expected)
    if unknown:
        raise located(json_path, f"layers[{unknown[0]}]", f"not part of scenario {scenario.name}")
    approx = set(scenario.approx_layers)
    params = []
    for index, shape in enumerate(scenario.layer_shapes(), start=1):
        mapping = _layer_mapping(index, records.get(naming.layer(index)), entries, shape, index in approx, npz_path)
        source, column = _bias(index, records.get(_bias_record(index)), entries, shape[0], npz_path)
        params.append(LayerParameters(mapping, source, column))
    averager = averager_block(scenario.servers, scenario.digits, scenario.onn_inputs)
    if scenario.group > 1:  # use the file's digit weights, in the structure the scenario fixes
        stored = averager.child(naming.AVERAGER_WEIGHTS)
        column = _expect(entries, naming.AVERAGER_WEIGHTS, DiagonalColumn, stored.column.n_modes, npz_path)
        if not np.array_equal(column.mode, stored.column.mode):
            raise located(npz_path, f"{naming.AVERAGER_WEIGHTS}/mode", "attenuators sit on other channels than the scenario's")
        weights_block = AttenuatorColumn(stored.name, stored.n_in, stored.n_out, column=column, role=stored.role)
        averager = Composite(averager.name, averager.n_in, averager.n_out, children=(weights_block, *averager.children[1:]),
                             inputs=averager.inputs, links=averager.links, outputs=averager.outputs, role=averager.role)
    if weights is not None and design.get("weights_sha256") not in ("", None, weights.digest()):
        raise located(json_path, "design.weights_sha256", f"phase map was built from other weights than {weights.source}")
    return assemble(scenario, params, weights, str(design.get("mesh", "clements")), averager,
                    weights_digest=str(design.get("weights_sha256", "")), weights_source=str(npz_path))
