"""Phase map v1: round trip, strict reader, atomic writes, and the plain-numpy example of the docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from optinc_pdk.decompose import decompose_unitary, map_layer_blocks, map_layer_svd
from optinc_pdk.decompose.phasemap import (
    MZI_CONVENTION,
    layer_entries,
    load_phase_map,
    phase_map_paths,
    save_phase_map,
    unitary_entries,
)
from optinc_pdk.errors import OptincError


def haar(n, seed):
    real, imag = np.random.default_rng(seed).normal(size=(n, n)), np.random.default_rng(seed + 1).normal(size=(n, n))
    q, r = np.linalg.qr(real + 1j * imag)
    return q * (np.diagonal(r) / np.abs(np.diagonal(r)))


def design(tmp_path, prefix="design"):
    """A three-layer design: unitary, SVD layer, tall block layer."""
    rng = np.random.default_rng(0)
    entries, layers = {}, []
    for _name, (more, layer) in {
        "u": unitary_entries("u", decompose_unitary(haar(5, 1))),
        "svd": layer_entries("svd", map_layer_svd(rng.normal(size=(4, 6)))),
        "blocks": layer_entries("blocks", map_layer_blocks(rng.normal(size=(10, 4)))),
    }.items():
        entries.update(more)
        layers.append(layer)
    paths = save_phase_map(tmp_path / prefix, entries, {"layers": layers, "source": "test"})
    return entries, layers, paths


def docs_example():
    text = (Path(__file__).resolve().parents[1] / "docs" / "phase_map.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(code) == 1
    namespace: dict = {}
    exec(compile(code[0], "docs/phase_map.md", "exec"), namespace)
    return namespace["rebuild"]


def test_round_trip_keeps_every_array(tmp_path):
    entries, layers, (npz, json_path) = design(tmp_path)
    assert (npz.name, json_path.name) == ("design.npz", "design.json")
    loaded, sidecar = load_phase_map(tmp_path / "design")
    assert set(loaded) == set(entries)
    for name, entry in entries.items():
        assert type(loaded[name]) is type(entry)
        for field in ("theta", "phi", "top_mode", "column", "output_phase", "mode", "n_modes"):
            if hasattr(entry, field):
                np.testing.assert_array_equal(getattr(loaded[name], field), getattr(entry, field))
    assert loaded["u/mesh"].kind == "clements"
    assert sidecar["format"] == "optinc-phase-map" and sidecar["version"] == 1
    assert sidecar["mzi"] == MZI_CONVENTION and "B diag(e^{i theta}, 1) B diag(e^{i phi}, 1)" in sidecar["mzi"]["transfer"]
    assert [layer["name"] for layer in sidecar["layers"]] == ["u", "svd", "blocks"]
    assert sidecar["layers"][1]["optical_order"] == [["svd/v_mesh", "svd/sigma", "svd/u_mesh"]]
    assert sidecar["source"] == "test"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["design.json", "design.npz"]  # no temp files left


def test_docs_example_rebuilds_every_layer(tmp_path):
    rng = np.random.default_rng(0)
    unitary = haar(5, 1)
    svd_weights = rng.normal(size=(4, 6))
    tall_weights = rng.normal(size=(10, 4))
    entries, layers = {}, []
    for more, layer in (
        unitary_entries("u", decompose_unitary(unitary)),
        layer_entries("svd", map_layer_svd(svd_weights)),
        layer_entries("tall", map_layer_blocks(tall_weights)),
        layer_entries("wide", map_layer_blocks(tall_weights.T)),
        layer_entries("tall_svd", map_layer_svd(tall_weights)),
    ):
        entries.update(more)
        layers.append(layer)
    save_phase_map(tmp_path / "d", entries, {"layers": layers})
    rebuilt = docs_example()(str(tmp_path / "d"))
    from optinc_pdk.decompose import block_approximation

    assert np.abs(rebuilt["u"] - unitary).max() < 1e-12
    assert np.abs(rebuilt["svd"] - svd_weights).max() < 1e-12
    assert np.abs(rebuilt["tall_svd"] - tall_weights).max() < 1e-12
    assert np.abs(rebuilt["tall"] - block_approximation(tall_weights)).max() < 1e-12
    assert np.abs(rebuilt["wide"] - block_approximation(tall_weights.T)).max() < 1e-12


@pytest.mark.parametrize("given", ["x", "x.npz", "x.json"])
def test_path_forms(tmp_path, given):
    assert phase_map_paths(tmp_path / given) == (tmp_path / "x.npz", tmp_path / "x.json")


def _rewrite_npz(npz: Path, change) -> None:
    with np.load(npz, allow_pickle=False) as archive:
        arrays = dict(archive)
    change(arrays)
    with open(npz, "wb") as handle:
        np.savez(handle, **arrays)


def _rewrite_json(json_path: Path, change) -> None:
    document = json.loads(json_path.read_text())
    change(document)
    json_path.write_text(json.dumps(document))


CORRUPTIONS = {
    "missing field": ("npz", lambda a: a.pop("u/mesh/column"), "missing field 'column'"),
    "extra field": ("npz", lambda a: a.update({"u/mesh/extra": np.zeros(1)}), "unexpected field"),
    "unlisted entry": ("npz", lambda a: a.update({"ghost/theta": np.zeros(1)}), "not listed"),
    "bad key": ("npz", lambda a: a.update({"theta": np.zeros(1)}), "<entry name>/<field>"),
    "wrong dtype": ("npz", lambda a: a.update({"u/mesh/top_mode": a["u/mesh/top_mode"].astype(float)}), "dtype"),
    "phase out of range": ("npz", lambda a: a.update({"u/mesh/theta": a["u/mesh/theta"] + 7.0}), r"\[0, 2π\)"),
    "mode out of range": ("npz", lambda a: a.update({"u/mesh/top_mode": a["u/mesh/top_mode"] + 4}), "top_mode"),
    "short output phase": ("npz", lambda a: a.update({"u/mesh/output_phase": np.zeros(2)}), "output_phase"),
    "n_modes not scalar": ("npz", lambda a: a.update({"u/mesh/n_modes": np.array([5])}), "scalar"),
    "wrong format": ("json", lambda d: d.update({"format": "other"}), "format"),
    "wrong version": ("json", lambda d: d.update({"version": 2}), "version"),
    "no layers": ("json", lambda d: d.pop("layers"), "layers"),
    "bad scale": ("json", lambda d: d["layers"][0].update({"scale": -1}), "scale"),
    "unknown name in chain": ("json", lambda d: d["layers"][0].update({"optical_order": [["nope"]]}), "names no entry"),
    "entry in no layer": ("json", lambda d: d["layers"].pop(0), "in no layer"),
    "listed without arrays": ("json", lambda d: d["meshes"].update({"ghost": {"type": "mesh"}}), "has no arrays"),
    "bad type": ("json", lambda d: d["meshes"]["u/mesh"].update({"type": "lens"}), "type"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_reader_rejects_files_off_the_format(tmp_path, case):
    _, _, (npz, json_path) = design(tmp_path)
    where, change, message = CORRUPTIONS[case]
    if where == "npz":
        _rewrite_npz(npz, change)
    else:
        _rewrite_json(json_path, change)
    with pytest.raises(OptincError, match=message) as caught:
        load_phase_map(npz)
    assert "\n" not in str(caught.value)


def test_reader_rejects_pickle_and_garbage(tmp_path):
    _, _, (npz, json_path) = design(tmp_path)
    np.savez(npz, **{"u/mesh/theta": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(OptincError, match="without pickle"):
        load_phase_map(npz)
    npz.write_bytes(b"not a zip")
    with pytest.raises(OptincError, match="not a readable"):
        load_phase_map(npz)
    json_path.write_text("{not json")
    with pytest.raises(OptincError, match="JSON"):
        load_phase_map(npz)
    with pytest.raises(OptincError, match="not found"):
        load_phase_map(tmp_path / "absent")


def test_writer_refuses_bad_content_and_writes_nothing(tmp_path):
    mesh = decompose_unitary(haar(3, 2))
    attempts = [
        ({"u/mesh": mesh}, {}, "layers"),
        ({"u/mesh": mesh}, {"layers": [{"name": "u", "scale": 1.0, "optical_order": [["other"]]}]}, "names no entry"),
        ({"bad name!": mesh}, {"layers": []}, "entry name"),
        ({"u/mesh": "not a mesh"}, {"layers": []}, "expected MeshPhases"),
        ({"u/mesh": mesh}, {"layers": [{"name": "u", "scale": 1.0, "optical_order": [["u/mesh"]]}], "format": "x"}, "reserved"),
        ({"u/mesh": mesh}, {"layers": [{"name": "u", "scale": float("nan"), "optical_order": [["u/mesh"]]}]}, "scale"),
        ({}, {"layers": []}, "no meshes"),
    ]
    for entries, sidecar, message in attempts:
        with pytest.raises(OptincError, match=message):
            save_phase_map(tmp_path / "out", entries, sidecar)
    assert list(tmp_path.iterdir()) == []
