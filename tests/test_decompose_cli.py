"""`optinc decompose`: unitary and SVD paths, the printed summary, and one-line refusals that write nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optinc_pdk.decompose.phasemap import load_phase_map


def haar(n, seed):
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
    return q * (np.diagonal(r) / np.abs(np.diagonal(r)))


def rebuilt(prefix):
    entries, sidecar = load_phase_map(prefix)
    (layer,) = sidecar["layers"]
    if layer["kind"] == "unitary":
        return entries["matrix/mesh"].matrix(), layer
    rank = entries["matrix/sigma"].n_modes
    u = entries["matrix/u_mesh"].matrix()[:, :rank]
    vh = entries["matrix/v_mesh"].matrix()[:rank]
    return layer["scale"] * (u * entries["matrix/sigma"].values()) @ vh, layer


def test_unitary_goes_the_unitary_path(tmp_path, run_cli):
    unitary = haar(6, 1)
    np.save(tmp_path / "u.npy", unitary)
    code, out, err = run_cli(["decompose", tmp_path / "u.npy", "-o", tmp_path / "out"])
    assert code == 0, err
    assert "unitary path" in out and "15" in out and "reconstruction" in out
    matrix, layer = rebuilt(tmp_path / "out")
    assert layer["kind"] == "unitary" and np.abs(matrix - unitary).max() < 1e-12


@pytest.mark.parametrize("shape", [(5, 3), (3, 7), (4, 4)])
def test_other_matrices_go_the_svd_path(tmp_path, run_cli, shape):
    weights = np.random.default_rng(2).normal(size=shape)
    np.save(tmp_path / "w.npy", weights)
    code, out, err = run_cli(["decompose", tmp_path / "w.npy", "-o", tmp_path / "w", "--mesh", "reck", "--json"])
    assert code == 0, err
    summary = json.loads(out)
    out_dim, in_dim = shape
    assert summary["path"] == "svd" and summary["mesh"] == "reck"
    assert summary["n_mzi"] == out_dim * (out_dim - 1) // 2 + in_dim * (in_dim - 1) // 2 + min(shape)
    assert summary["max_abs_error"] < 1e-12
    matrix, layer = rebuilt(tmp_path / "w")
    assert layer["kind"] == "svd" and np.abs(matrix - weights).max() < 1e-12


def test_forced_unitary_path(tmp_path, run_cli):
    np.save(tmp_path / "u.npy", np.eye(4)[::-1])  # a real permutation
    code, out, err = run_cli(["decompose", tmp_path / "u.npy", "-o", tmp_path / "u", "--unitary", "--json"])
    assert code == 0, err
    assert json.loads(out)["path"] == "unitary"


def _write_bad(tmp_path, kind):
    path = tmp_path / "bad.npy"
    if kind == "non-unitary with --unitary":
        np.save(path, np.ones((3, 3)))
    elif kind == "non-square with --unitary":
        np.save(path, np.ones((3, 2)))
    elif kind == "1-D":
        np.save(path, np.ones(3))
    elif kind == "3-D":
        np.save(path, np.ones((2, 2, 2)))
    elif kind == "NaN":
        np.save(path, np.array([[1.0, np.nan]]))
    elif kind == "inf":
        np.save(path, np.array([[1.0], [-np.inf]]))
    elif kind == "pickled objects":
        np.save(path, np.array([None, 1], dtype=object), allow_pickle=True)
    elif kind == "garbage":
        path.write_bytes(b"\x93NUMPY garbage")
    elif kind == "text":
        path.write_text("1 2\n3 4\n")
    elif kind == "npz":
        with open(path, "wb") as handle:
            np.savez(handle, a=np.eye(2))
    elif kind == "missing":
        pass
    elif kind == "strings":
        np.save(path, np.array([["a", "b"]]))
    return path


@pytest.mark.parametrize(
    "kind, extra, message",
    [
        ("non-unitary with --unitary", ["--unitary"], "not a unitary"),
        ("non-square with --unitary", ["--unitary"], "not square"),
        ("1-D", [], "2-D"),
        ("3-D", [], "2-D"),
        ("NaN", [], "NaN"),
        ("inf", [], "infinite"),
        ("pickled objects", [], "without pickle"),
        ("garbage", [], "not a readable"),
        ("text", [], "not a readable"),
        ("npz", [], "npz"),
        ("missing", [], "not found"),
        ("strings", [], "numbers"),
        ("1-D", ["--mesh", "butterfly"], "--mesh"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(tmp_path, run_cli, kind, extra, message):
    path = _write_bad(tmp_path, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_cli(["decompose", path, "-o", tmp_path / "out", *extra])
    assert code != 0
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
