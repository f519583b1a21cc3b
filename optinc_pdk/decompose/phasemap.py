"""Phase map v1: the MZI phases of a design in one .npz (no pickle) plus a JSON sidecar.

Format (docs/conventions.md, Phase map v1; full description with a rebuild example in docs/phase_map.md):

* ``<prefix>.npz`` holds, for every mesh or diagonal column named ``NAME`` (a name may contain
  ``/``, e.g. ``layer0/u_mesh``), arrays under the keys ``NAME/<field>``:
    mesh:     theta, phi (float64, one per MZI, propagation order), top_mode (int64), column (int64),
              output_phase (float64, one per mode), n_modes (int64 scalar)
    diagonal: theta, phi (float64), mode (int64), n_modes (int64 scalar)
    a mesh whose heaters do not all sit on the upper arm (``optinc build --min-power``) also holds
              theta_lower, phi_lower (bool, one per MZI: that heater adds its phase on the lower arm,
              T = e^{i(θ·θ_lower + φ·φ_lower)}·T(±θ, ±φ)); absent, every heater is on the upper arm
  All phases are radians in [0, 2π).
* ``<prefix>.json`` states the MZI formula, lists every entry (type, kind, sizes) under ``meshes``,
  and under ``layers`` gives each layer's name, scale factor s (the layer's weight matrix is s times
  the realised matrix) and ``optical_order``: a list of chains, each the entry names light crosses
  in order (one chain for a unitary or SVD layer; one chain per block, in block order, for a block
  layer, whose ``orientation`` says how the chains combine).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

from optinc_pdk.core.atomic import atomic_path, write_text_atomic
from optinc_pdk.decompose.mesh import DiagonalColumn, MeshPhases
from optinc_pdk.errors import OptincError, located

FORMAT_NAME = "optinc-phase-map"
FORMAT_VERSION = 1

MZI_CONVENTION = {
    "modes": "an MZI acts on modes (m, m+1) with m = top_mode",
    "coupler": "B = (1/sqrt(2)) [[1, i], [i, 1]]",
    "transfer": (
        "T(theta, phi) = B diag(e^{i theta}, 1) B diag(e^{i phi}, 1) = "
        "i e^{i theta/2} [[e^{i phi} sin(theta/2), cos(theta/2)], [e^{i phi} cos(theta/2), -sin(theta/2)]]"
    ),
    "mesh": "matrix = diag(e^{i output_phase}) T_K ... T_2 T_1, MZIs listed in propagation order (T_1 met first)",
    "attenuator": (
        "diagonal entry on waveguide `mode` = T_00 = i e^{i theta/2} e^{i phi} sin(theta/2) "
        "(upper input to upper output); waveguides without an attenuator pass light unchanged"
    ),
    "states": "theta = pi is the bar state, theta = 0 the cross state",
    "units": "radians, wrapped to [0, 2 pi)",
}

#: stated in the sidecar of a map whose meshes carry heater arms (``optinc build --min-power``)
ARMS_CONVENTION = (
    "a mesh entry with theta_lower/phi_lower: where True, that heater adds its phase on the MZI's lower arm "
    "(diag(1, e^{i theta}) between the couplers, diag(1, e^{i phi}) on the inputs), so "
    "T = e^{i(theta*theta_lower + phi*phi_lower)} T(+-theta, +-phi)"
)

MESH_FIELDS = {"theta": "f", "phi": "f", "top_mode": "i", "column": "i", "output_phase": "f", "n_modes": "i"}
ARM_FIELDS = {"theta_lower": "b", "phi_lower": "b"}  # optional mesh fields, written when a heater is lower
DIAGONAL_FIELDS = {"theta": "f", "phi": "f", "mode": "i", "n_modes": "i"}
PHASE_FIELDS = ("theta", "phi", "output_phase")
RESERVED_KEYS = ("format", "version", "npz", "mzi", "meshes")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


def phase_map_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(npz, json) for ``X.npz``, ``X.json`` or a bare prefix ``X``."""
    path = Path(path)
    if path.suffix in (".npz", ".json"):
        return path.with_suffix(".npz"), path.with_suffix(".json")
    return path.with_name(path.name + ".npz"), path.with_name(path.name + ".json")


def _entry_arrays(name: str, entry) -> tuple[dict[str, np.ndarray], dict]:
    if isinstance(entry, MeshPhases):
        arrays = {
            "theta": entry.theta, "phi": entry.phi, "top_mode": entry.top_mode, "column": entry.column,
            "output_phase": entry.output_phase, "n_modes": np.int64(entry.n_modes),
        }
        if entry.any_lower:
            arrays |= {"theta_lower": entry.theta_lower, "phi_lower": entry.phi_lower}
        info = {"type": "mesh", "kind": entry.kind, "n_modes": entry.n_modes, "n_mzi": entry.n_mzi}
    elif isinstance(entry, DiagonalColumn):
        arrays = {"theta": entry.theta, "phi": entry.phi, "mode": entry.mode, "n_modes": np.int64(entry.n_modes)}
        info = {"type": "diagonal", "n_modes": entry.n_modes, "n_mzi": entry.n_mzi}
    else:
        raise OptincError(f"phase map: {name}: expected MeshPhases or DiagonalColumn, got {type(entry).__name__}")
    for field in PHASE_FIELDS:
        if field in arrays and arrays[field].size and (arrays[field].min() < 0 or arrays[field].max() >= 2 * math.pi):
            raise OptincError(f"phase map: {name}/{field}: phases must be wrapped to [0, 2π)")
    return {f"{name}/{field}": np.asarray(value) for field, value in arrays.items()}, info


def _check_layers(layers, names: set[str], where) -> None:
    if not isinstance(layers, list) or not layers:
        raise located(where, "layers", "must be a non-empty list")
    used: list[str] = []
    for index, layer in enumerate(layers):
        field = f"layers[{index}]"
        if not isinstance(layer, dict):
            raise located(where, field, "must be an object")
        if not isinstance(layer.get("name"), str) or not layer["name"]:
            raise located(where, f"{field}.name", "must be a non-empty string")
        scale = layer.get("scale")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (math.isfinite(scale) and scale > 0):
            raise located(where, f"{field}.scale", f"must be a positive finite number, got {scale!r}")
        chains = layer.get("optical_order")
        if not isinstance(chains, list) or not chains:
            raise located(where, f"{field}.optical_order", "must be a non-empty list of chains")
        for chain_index, chain in enumerate(chains):
            if not isinstance(chain, list) or not chain or not all(isinstance(item, str) for item in chain):
                raise located(where, f"{field}.optical_order[{chain_index}]", "must be a non-empty list of entry names")
            unknown = [item for item in chain if item not in names]
            if unknown:
                raise located(where, f"{field}.optical_order[{chain_index}]", f"names no entry {unknown[0]!r}")
            used.extend(chain)
    missing = sorted(names - set(used))
    if missing:
        raise located(where, "layers", f"entry {missing[0]!r} is in no layer's optical_order")
    repeated = sorted({item for item in used if used.count(item) > 1}) if len(used) != len(set(used)) else []
    if repeated:
        raise located(where, "layers", f"entry {repeated[0]!r} appears more than once")


def save_phase_map(
    path: str | os.PathLike, meshes: dict[str, MeshPhases | DiagonalColumn], sidecar: dict
) -> tuple[Path, Path]:
    """Write ``meshes`` and the sidecar (which must hold ``layers``; see the module doc) atomically.

    Returns the (npz, json) paths. Nothing is written when the content is invalid.
    """
    npz_path, json_path = phase_map_paths(path)
    if not meshes:
        raise OptincError(f"{npz_path}: no meshes to write")
    arrays: dict[str, np.ndarray] = {}
    inventory: dict[str, dict] = {}
    for name, entry in meshes.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise OptincError(f"{npz_path}: entry name {name!r}: use letters, digits, '_', '.', '-' and '/' separators")
        entry_arrays, inventory[name] = _entry_arrays(name, entry)
        arrays.update(entry_arrays)
    sidecar = dict(sidecar)
    clash = [key for key in RESERVED_KEYS if key in sidecar]
    if clash:
        raise OptincError(f"{json_path}: {clash[0]}: reserved key, written by save_phase_map")
    _check_layers(sidecar.get("layers"), set(meshes), json_path)
    arms = any(isinstance(entry, MeshPhases) and entry.any_lower for entry in meshes.values())
    document = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "npz": npz_path.name,
        "mzi": MZI_CONVENTION | ({"arms": ARMS_CONVENTION} if arms else {}), "meshes": inventory, **sidecar,
    }
    try:
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as error:
        raise OptincError(f"{json_path}: sidecar is not plain JSON: {error}") from None
    with atomic_path(npz_path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    write_text_atomic(json_path, text)
    return npz_path, json_path


def _read_sidecar(json_path: Path) -> dict:
    try:
        document = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise OptincError(f"{json_path}: phase map sidecar not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OptincError(f"{json_path}: not readable as JSON: {error}") from None
    if not isinstance(document, dict):
        raise located(json_path, "", "must be a JSON object")
    if document.get("format") != FORMAT_NAME:
        raise located(json_path, "format", f"expected {FORMAT_NAME!r}, got {document.get('format')!r}")
    if document.get("version") != FORMAT_VERSION:
        raise located(json_path, "version", f"this reader knows version {FORMAT_VERSION}, got {document.get('version')!r}")
    if not isinstance(document.get("meshes"), dict) or not document["meshes"]:
        raise located(json_path, "meshes", "must be a non-empty object")
    return document


def _read_arrays(npz_path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(npz_path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise OptincError(f"{npz_path}: expected an .npz archive")
            return {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise OptincError(f"{npz_path}: phase map not found") from None
    except OptincError:
        raise
    except Exception as error:  # zipfile/pickle/format errors all mean "not a phase map"
        raise OptincError(f"{npz_path}: not a readable .npz without pickle: {error}") from None


def _build_entry(npz_path: Path, name: str, info, fields: dict[str, np.ndarray]):
    if not isinstance(info, dict) or info.get("type") not in ("mesh", "diagonal"):
        raise located(npz_path.with_suffix(".json"), f"meshes.{name}.type", "must be 'mesh' or 'diagonal'")
    expected = MESH_FIELDS if info["type"] == "mesh" else DIAGONAL_FIELDS
    if info["type"] == "mesh" and set(ARM_FIELDS) <= set(fields):
        expected = expected | ARM_FIELDS
    if set(fields) != set(expected):
        missing = sorted(set(expected) - set(fields))
        extra = sorted(set(fields) - set(expected))
        what = f"missing field {missing[0]!r}" if missing else f"unexpected field {extra[0]!r}"
        raise located(npz_path, name, f"{info['type']} entry has {what}")
    for field, kind in expected.items():
        value = fields[field]
        if value.dtype.kind not in (kind + "u" if kind == "i" else kind):
            raise located(npz_path, f"{name}/{field}", f"wrong dtype {value.dtype}")
        if field == "n_modes" and value.shape != ():
            raise located(npz_path, f"{name}/{field}", "must be a scalar")
        if field in PHASE_FIELDS and value.size and not (np.all(value >= 0) and np.all(value < 2 * math.pi)):
            raise located(npz_path, f"{name}/{field}", "phases must lie in [0, 2π)")
    try:
        if info["type"] == "mesh":
            return MeshPhases(
                int(fields["n_modes"]), fields["theta"], fields["phi"], fields["top_mode"], fields["column"],
                fields["output_phase"], str(info.get("kind", "custom")),
                fields.get("theta_lower"), fields.get("phi_lower"),
            )
        return DiagonalColumn(fields["theta"], fields["phi"], fields["mode"], int(fields["n_modes"]))
    except OptincError as error:
        raise OptincError(f"{npz_path}: {name}/{error}") from None


def load_phase_map(path: str | os.PathLike) -> tuple[dict[str, MeshPhases | DiagonalColumn], dict]:
    """Read a phase map written by save_phase_map: (entries by name, sidecar). Rejects anything else."""
    npz_path, json_path = phase_map_paths(path)
    document = _read_sidecar(json_path)
    arrays = _read_arrays(npz_path)
    grouped: dict[str, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        name, _, field = key.rpartition("/")
        if not name:
            raise located(npz_path, key, "keys must look like <entry name>/<field>")
        grouped.setdefault(name, {})[field] = value
    listed = document["meshes"]
    if set(grouped) != set(listed):
        only_npz = sorted(set(grouped) - set(listed))
        only_json = sorted(set(listed) - set(grouped))
        detail = f"{only_npz[0]!r} is not listed in the sidecar" if only_npz else f"{only_json[0]!r} has no arrays"
        raise located(npz_path, "", f"entries differ from the sidecar's: {detail}")
    entries = {name: _build_entry(npz_path, name, listed[name], grouped[name]) for name in listed}
    _check_layers(document.get("layers"), set(entries), json_path)
    return entries, document


def layer_entries(name: str, mapping) -> tuple[dict[str, MeshPhases | DiagonalColumn], dict]:
    """Entries and the sidecar layer record for a LayerMapping, under names ``<name>/...``.

    SVD: ``<name>/v_mesh``, ``<name>/sigma``, ``<name>/u_mesh`` (one chain). Blocks:
    ``<name>/block<b>/mesh`` then ``<name>/block<b>/diagonal``, one chain per block b.
    """
    layer = {"name": name, "kind": mapping.kind, "scale": float(mapping.scale), "shape": [mapping.out_dim, mapping.in_dim]}
    if mapping.kind == "svd":
        entries = {f"{name}/v_mesh": mapping.v_mesh, f"{name}/sigma": mapping.sigma, f"{name}/u_mesh": mapping.u_mesh}
        layer["optical_order"] = [list(entries)]
        return entries, layer
    entries = {}
    chains = []
    for block in mapping.blocks:
        mesh_name, diagonal_name = f"{name}/block{block.index}/mesh", f"{name}/block{block.index}/diagonal"
        entries[mesh_name], entries[diagonal_name] = block.mesh, block.diagonal
        chains.append([mesh_name, diagonal_name])
    layer.update(
        {"orientation": mapping.orientation, "k": mapping.k, "padding": mapping.padding, "optical_order": chains}
    )
    return entries, layer


def unitary_entries(name: str, mesh: MeshPhases) -> tuple[dict[str, MeshPhases], dict]:
    """One bare unitary mesh as a layer of scale 1 named ``name`` (entry ``<name>/mesh``)."""
    entry = f"{name}/mesh"
    return {entry: mesh}, {"name": name, "kind": "unitary", "scale": 1.0, "optical_order": [[entry]]}
