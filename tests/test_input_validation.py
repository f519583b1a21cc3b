"""Regression tests of input validation at the boundary: every case below once converted silently, let a
path escape its folder, or ended in a traceback; now each is one line naming the file and the field."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import yaml

from optinc_pdk.errors import OptincError, one_line
from optinc_pdk.paths import CIRCUITS_DIR
from optinc_pdk.spec import limits
from optinc_pdk.spec.scenario import load_scenario, load_scenario_file, scenario_from_dict

BASE = yaml.safe_load((CIRCUITS_DIR / "b8n4.yml").read_text())


def refused(call, *args, match: str | None = None) -> str:
    """The one-line message ``call`` fails with (no warning on the way)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(OptincError) as info:
            call(*args)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    if match is not None:
        assert match in message, message
    return message


def scenario_file(tmp_path, **changes):
    path = tmp_path / "s.yml"
    path.write_text(yaml.safe_dump({**BASE, **changes}))
    return path


def state(weight, bias=None):
    weight = np.asarray(weight)
    return {"layers.0.weight": weight, "layers.0.bias": np.zeros(weight.shape[0]) if bias is None else bias}


# --- errors are one line -----------------------------------------------------------------------------

def test_messages_are_one_line_whatever_they_quote():
    error = OptincError("a\nb\r\nc\u2028d")
    assert len(str(error).splitlines()) == 1 and str(error) == one_line("a\nb\r\nc\u2028d") == "a\\nb\\r\\nc\\u2028d"


def test_a_yaml_key_with_a_line_break_is_named_on_one_line(tmp_path):
    message = refused(load_scenario_file, scenario_file(tmp_path, **{"bad\nkey": 1}))
    assert "bad\\nkey" in message


# --- scenario files: encoding --------------------------------------------------------------------------

@pytest.mark.parametrize("raw, phrase", [
    (b"\x00\xff\xfe binary \x89PNG", "not UTF-8 text"),
    ("name: x\nbits: 8\n".encode("utf-16"), "UTF-16"),
    (b"", "is empty"),
    (b"  \n", "is empty"),
])
def test_scenario_files_that_are_not_utf8_yaml(tmp_path, raw, phrase):
    path = tmp_path / "s.yml"
    path.write_bytes(raw)
    assert refused(load_scenario_file, path, match=phrase).startswith(str(path))


def test_a_utf8_bom_is_fine(tmp_path):
    path = tmp_path / "s.yml"
    path.write_bytes(b"\xef\xbb\xbf" + yaml.safe_dump(BASE).encode())
    assert load_scenario_file(path).name == "b8n4"


def test_a_huge_scenario_file_is_refused_unread(tmp_path):
    path = tmp_path / "s.yml"
    path.write_bytes(b"#" * (limits.SCENARIO_FILE_MAX_BYTES + 1))
    refused(load_scenario_file, path, match="larger than")


# --- names and paths stay in their folders -------------------------------------------------------------

@pytest.mark.parametrize("field", ["name", "weights"])
@pytest.mark.parametrize("value", ["..", ".", "../../../../tmp/evil", "a/b", "/tmp/x", ".hidden", "-o", "a\\b", ""])
def test_names_cannot_leave_their_folder(tmp_path, field, value):
    message = refused(load_scenario_file, scenario_file(tmp_path, **{field: value}), match=f"{field}: must be a plain")
    assert message.startswith(str(tmp_path / "s.yml"))


def test_shipped_weights_path_never_leaves_weights(tmp_path):
    from optinc_pdk.core.weights import shipped_weights_path
    from optinc_pdk.paths import WEIGHTS_DIR

    s = load_scenario("b8n4")
    assert shipped_weights_path(s).resolve().is_relative_to(WEIGHTS_DIR)
    forged = s.model_copy(update={"weights": "../../../../tmp/evil"})  # skips validation, as a bug elsewhere might
    refused(shipped_weights_path, forged, match="leads out of")


def test_a_shipped_name_is_never_a_path_out_of_circuits():
    refused(load_scenario, "../circuits/b8n4", match="unknown scenario")


# --- supported ranges --------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, phrase", [
    ({"bits": 64, "widths": [4, 8, 32], "approx_layers": []}, "bits: must be even and 2..32"),
    ({"bits": 0}, "bits: must be even and 2..32"),
    ({"bits": 7}, "bits: must be even and 2..32"),
    ({"servers": 1}, "servers: must be 2..1024"),
    ({"servers": 0}, "servers: must be 2..1024"),
    ({"servers": 4096}, "servers: must be 2..1024"),
    ({"seed": -1}, "seed"),
    ({"device": {"wg_width": float("inf")}}, "device.wg_width"),
])
def test_values_outside_the_supported_ranges(tmp_path, changes, phrase):
    refused(load_scenario_file, scenario_file(tmp_path, **changes), match=phrase)


def test_the_range_ends_are_accepted():
    for bits, widths in ((2, [1, 4, 1]), (32, [4, 8, 16])):
        for servers in (2, 1024):
            s = scenario_from_dict({"name": "edge", "bits": bits, "servers": servers, "widths": widths})
            assert (s.bits, s.servers) == (bits, servers)


def test_a_one_server_optinc_is_refused_on_the_command_line(tmp_path, run_cli):
    code, _, err = run_cli(["build", scenario_file(tmp_path, servers=1), "--random-weights", "0",
                            "-o", tmp_path / "out", "--no-png", "--no-verify"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "servers: must be 2..1024" in err


# --- memory guard -------------------------------------------------------------------------------------

@pytest.mark.parametrize("width", [10**9, 10**7])
def test_huge_widths_are_refused_before_allocating(tmp_path, width, monkeypatch):
    monkeypatch.delenv(limits.MEMORY_ENV, raising=False)
    path = scenario_file(tmp_path, widths=[4, width, 4], approx_layers=[1])
    message = refused(load_scenario_file, path, match="widths: building this chip needs about")
    assert limits.MEMORY_ENV in message and "12 GB" in message


def test_the_memory_limit_is_overridable(tmp_path, monkeypatch):
    path = scenario_file(tmp_path, widths=[4, 10**5, 4], approx_layers=[1])
    monkeypatch.setenv(limits.MEMORY_ENV, "inf")
    assert load_scenario_file(path).widths[1] == 10**5
    monkeypatch.setenv(limits.MEMORY_ENV, "0.1")
    refused(load_scenario_file, scenario_file(tmp_path), match="above the limit of 0.1 GB")
    monkeypatch.setenv(limits.MEMORY_ENV, "lots")
    refused(load_scenario_file, path, match=f"{limits.MEMORY_ENV}: must be a positive number")


def test_every_shipped_scenario_fits_the_default_limit_with_a_margin():
    for path in sorted(CIRCUITS_DIR.glob("*.yml")):
        s = load_scenario_file(path)
        assert limits.scenario_memory_bytes(s.widths) < limits.DEFAULT_MAX_MEMORY_GB * limits.GB / 4, s.name


def test_a_dataset_beyond_the_limit_is_refused_before_it_is_built(monkeypatch):
    from optinc_pdk.core.datasets import exhaustive_dataset

    s = scenario_from_dict({"name": "wide", "bits": 32, "servers": 1024, "widths": [2, 8, 16]}, "wide.yml")
    refused(exhaustive_dataset, s, match="wide.yml: the exhaustive dataset of")


# --- weights: dtypes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype, phrase", [
    (np.complex64, "complex"), (np.complex128, "complex"), (np.int8, "integer"), (np.bool_, "boolean"),
    (np.uint64, "unsigned integer"), ("datetime64[s]", "datetime"), ("U3", "text"), ("S3", "bytes"),
    ([("a", "f8"), ("b", "i4")], "structured"), (np.longdouble, "extended precision"),
])
def test_npz_weights_of_other_dtypes_are_refused(tmp_path, dtype, phrase):
    from optinc_pdk.core.weights import load_npz

    if np.dtype(dtype) == np.float64:  # platforms whose long double is a double
        pytest.skip("long double is float64 here")
    path = tmp_path / "w.npz"
    np.savez(path, **state(np.zeros((2, 2), dtype=dtype)))
    message = refused(load_npz, path, match="layers.0.weight: dtype")
    assert message.startswith(str(path)) and phrase in message


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_npz_weights_of_real_floats_widen_exactly(tmp_path, dtype):
    from optinc_pdk.core.weights import load_npz

    path = tmp_path / "w.npz"
    weight = np.array([[0.1, -2.5], [3.0, 1e-3]], dtype=dtype)
    np.savez(path, **state(weight))
    loaded = load_npz(path)
    assert loaded.weights[0].dtype == np.float64 and np.array_equal(loaded.weights[0], weight.astype(np.float64))


def test_a_single_npy_given_as_weights_is_refused(tmp_path):
    from optinc_pdk.core.weights import load_npz

    path = tmp_path / "w.npz"
    with path.open("wb") as handle:
        np.save(handle, np.zeros(3))
    refused(load_npz, path, match="not an .npz archive")


def test_provenance_that_is_not_an_object_is_refused(tmp_path):
    from optinc_pdk.core.weights import load_npz

    path = tmp_path / "w.npz"
    np.savez(path, **state(np.zeros((2, 2))))
    path.with_suffix(".json").write_text(json.dumps([1, 2]))
    refused(load_npz, path, match="w.json: provenance must be a JSON object")


# --- weights: torch and safetensors -----------------------------------------------------------------------

def _pt(tmp_path, weight):
    torch = pytest.importorskip("torch")
    path = tmp_path / "w.pt"
    torch.save({"layers.0.weight": weight, "layers.0.bias": torch.zeros(weight.shape[0])}, path)
    return path


@pytest.mark.parametrize("make, phrase", [
    (lambda torch: torch.ones(2, 2, dtype=torch.complex64), "complex"),
    (lambda torch: torch.ones(2, 2, dtype=torch.int8), "not floating point"),
    (lambda torch: torch.ones(2, 2).to_sparse(), "sparse"),
    (lambda torch: torch.empty(2, 2, device="meta"), "meta tensor"),
])
def test_odd_torch_tensors_are_refused(tmp_path, make, phrase):
    torch = pytest.importorskip("torch")
    from optinc_pdk.core.weights_import import read_foreign_state

    message = refused(read_foreign_state, _pt(tmp_path, make(torch)), match="w.pt: layers.0.weight: ")
    assert phrase in message


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
def test_a_quantised_torch_tensor_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    from optinc_pdk.core.weights_import import read_foreign_state

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates creating quantised tensors
        weight = torch.quantize_per_tensor(torch.ones(2, 2), 0.1, 0, torch.qint8)
        path = _pt(tmp_path, weight)
    with pytest.raises(OptincError, match="quantised tensor"):
        read_foreign_state(path)


def test_a_text_file_named_pt_is_refused(tmp_path):
    pytest.importorskip("torch")
    from optinc_pdk.core.weights_import import read_foreign_state

    path = tmp_path / "w.pt"
    path.write_text("layers.0.weight: [[1, 2]]\n")
    refused(read_foreign_state, path, match="not a plain torch state_dict")


def test_bf16_torch_weights_widen_exactly(tmp_path):
    torch = pytest.importorskip("torch")
    from optinc_pdk.core.weights_import import read_foreign_state

    weight = torch.tensor([[0.1, -2.5], [3.0, 1e-3]]).bfloat16()
    loaded = read_foreign_state(_pt(tmp_path, weight))
    assert np.array_equal(loaded.weights[0], weight.double().numpy())


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn", "float8_e5m2", "float16", "float32"])
def test_reduced_precision_safetensors_widen_exactly(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    from optinc_pdk.core.weights_import import read_foreign_state

    weight = torch.tensor([[0.1, -2.5], [3.0, 0.375]]).to(getattr(torch, dtype))
    path = tmp_path / "w.safetensors"
    save_file({"layers.0.weight": weight, "layers.0.bias": torch.zeros(2).to(weight.dtype)}, str(path))
    loaded = read_foreign_state(path)
    assert np.array_equal(loaded.weights[0], weight.double().numpy())


@pytest.mark.parametrize("dtype, phrase", [(np.complex64, "C64 (complex"), (np.int8, "I8"), (np.bool_, "BOOL"),
                                           (np.uint64, "U64")])
def test_safetensors_of_other_dtypes_are_refused(tmp_path, dtype, phrase):
    from safetensors.numpy import save_file

    from optinc_pdk.core.weights_import import read_foreign_state

    path = tmp_path / "w.safetensors"
    save_file(state(np.zeros((2, 2), dtype=dtype)), str(path))
    refused(read_foreign_state, path, match=f"layers.0.weight: dtype {phrase}")


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_empty_foreign_weights_are_named(tmp_path, suffix):
    from optinc_pdk.core.weights_import import read_foreign_state

    path = tmp_path / f"w{suffix}"
    path.write_bytes(b"")
    assert refused(read_foreign_state, path, match="is empty").startswith(str(path))


# --- empty and odd input files on the command line ---------------------------------------------------------

def test_an_empty_gradients_file_is_named_not_aborted(tmp_path, run_cli):
    empty = tmp_path / "g.npy"
    empty.write_bytes(b"")
    code, _, err = run_cli(["allreduce", "b8n4", "--input", empty, "--output", tmp_path / "o.npy",
                            "--random-weights", "0"])
    assert code == 2 and "aborted" not in err and f"{empty}: is empty" in err and len(err.strip().splitlines()) == 1


def test_an_empty_weights_file_is_named_not_aborted(tmp_path, run_cli):
    empty = tmp_path / "w.npz"
    empty.write_bytes(b"")
    code, _, err = run_cli(["simulate", "b8n4", "--weights", empty])
    assert code == 2 and f"{empty}: is empty" in err and len(err.strip().splitlines()) == 1


def test_an_empty_matrix_file_is_named(tmp_path, run_cli):
    empty = tmp_path / "m.npy"
    empty.write_bytes(b"")
    code, _, err = run_cli(["decompose", empty, "-o", tmp_path / "phases"])
    assert code == 2 and f"{empty}: is empty" in err and len(err.strip().splitlines()) == 1


def test_large_uint64_gradients_are_reported_as_they_are():
    from optinc_pdk.simulate.allreduce import check_gradients

    gradients = np.full((4, 2), 2**64 - 1, dtype=np.uint64)
    refused(check_gradients, gradients, 4, 8, "g.npy", match=f"(got {2**64 - 1}..{2**64 - 1})")
