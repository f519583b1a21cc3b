"""Property tests of every loader of user files: scenario YAML, weights (npz, .pt, safetensors), gradient
arrays (`optinc allreduce --input`) and matrices (`optinc decompose`).

Random bytes, random structure, random dtypes, random shapes: the only outcomes allowed are a success or
an OptincError whose message is one line. Any other exception (or a ComplexWarning: a silent conversion)
fails the test. Kept fast for CI: a bounded number of examples per test, no deadline.
"""

from __future__ import annotations

import itertools
import json
import struct

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from optinc_pdk.errors import OptincError

pytestmark = [
    pytest.mark.filterwarnings("error::numpy.exceptions.ComplexWarning"),
    pytest.mark.filterwarnings("ignore:Stored array in format 3.0"),  # numpy.save of non-ASCII record field names
]

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("loaders")


def fresh(folder, suffix: str):
    """A new file name in ``folder`` (hypothesis reuses the module fixture across examples)."""
    return folder / f"case{next(_counter)}{suffix}"


def only_clean_outcomes(load, *args):
    """Run a loader: success, or an OptincError of one non-empty line; anything else propagates."""
    try:
        return load(*args)
    except OptincError as error:
        message = str(error)
        assert message.strip(), "an empty error message"
        assert len(message.splitlines()) == 1, f"a multi-line error: {message!r}"
        return None


# --- strategies -------------------------------------------------------------------------------------

# every dtype family numpy can save without pickle: numbers, bool, datetimes, text, bytes, records
any_dtype = st.one_of(
    hnp.scalar_dtypes(),
    hnp.byte_string_dtypes(max_len=4),
    hnp.unicode_string_dtypes(max_len=4),
    hnp.array_dtypes(hnp.scalar_dtypes(), max_size=2),
)
small_shape = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


@st.composite
def any_array(draw, dtype=any_dtype, shape=small_shape):
    return draw(hnp.arrays(draw(dtype), draw(shape)))


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)

BASE_SCENARIO = {"name": "prop", "bits": 8, "servers": 4, "widths": [4, 8, 4], "approx_layers": [1]}
SCENARIO_KEYS = sorted({*BASE_SCENARIO, "description", "group_size", "cascade", "seed", "layout", "device", "paper",
                        "weights", "training", "level2_training"})
WEIGHT_NAMES = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "other"]


# --- scenario files -----------------------------------------------------------------------------------

@FAST
@given(raw=st.binary(max_size=200))
def test_scenario_file_of_random_bytes(folder, raw):
    from optinc_pdk.spec.scenario import load_scenario_file

    path = fresh(folder, ".yml")
    path.write_bytes(raw)
    only_clean_outcomes(load_scenario_file, path)


@FAST
@given(text=st.text(max_size=120), encoding=st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1"]))
def test_scenario_file_of_random_text(folder, text, encoding):
    from optinc_pdk.spec.scenario import load_scenario_file

    path = fresh(folder, ".yml")
    path.write_bytes(text.encode(encoding, errors="replace"))
    only_clean_outcomes(load_scenario_file, path)


@FAST
@given(data=yaml_values)
def test_scenario_file_of_random_structure(folder, data):
    from optinc_pdk.spec.scenario import load_scenario_file

    path = fresh(folder, ".yml")
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    only_clean_outcomes(load_scenario_file, path)


@FAST
@given(changes=st.dictionaries(st.sampled_from(SCENARIO_KEYS), yaml_values, min_size=1, max_size=3),
       bits=st.integers(-2, 80), servers=st.integers(-2, 2000),
       widths=st.lists(st.integers(-1, 10**12), min_size=0, max_size=4))
def test_scenario_with_random_fields(folder, changes, bits, servers, widths):
    """A valid scenario with fields replaced by random values, and random bits/servers/widths."""
    from optinc_pdk.spec.scenario import load_scenario_file

    for data in ({**BASE_SCENARIO, **changes}, {**BASE_SCENARIO, "bits": bits, "servers": servers},
                 {**BASE_SCENARIO, "widths": widths}):
        path = fresh(folder, ".yml")
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        only_clean_outcomes(load_scenario_file, path)


# --- weights: npz -------------------------------------------------------------------------------------

@FAST
@given(raw=st.binary(max_size=300))
def test_weights_npz_of_random_bytes(folder, raw):
    from optinc_pdk.core.weights import load_npz

    path = fresh(folder, ".npz")
    path.write_bytes(raw)
    only_clean_outcomes(load_npz, path)


@FAST
@given(arrays=st.dictionaries(st.sampled_from(WEIGHT_NAMES), any_array(), max_size=5))
def test_weights_npz_of_random_dtypes_and_shapes(folder, arrays):
    from optinc_pdk.core.weights import load_npz

    path = fresh(folder, ".npz")
    np.savez(path, **arrays)
    loaded = only_clean_outcomes(load_npz, path)
    if loaded is not None:  # accepted: real floating arrays only, now float64 with the same values
        for key, value in loaded.state_dict().items():
            assert arrays[key].dtype.kind == "f" and value.dtype == np.float64
            np.testing.assert_array_equal(value, arrays[key])


# --- weights: torch .pt -------------------------------------------------------------------------------

TORCH_DTYPES = ["float32", "float16", "bfloat16", "float64", "float8_e4m3fn", "complex64", "int8", "uint8",
                "int64", "bool"]


@st.composite
def torch_values(draw):
    import torch

    kind = draw(st.sampled_from(["dense"] * 6 + ["sparse", "meta", "scalar", "text", "list", "dict"]))
    shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=2))
    dtype = getattr(torch, draw(st.sampled_from(TORCH_DTYPES)))
    if kind == "dense":
        return torch.zeros(shape, dtype=torch.float64).uniform_(-2, 2).to(dtype)
    if kind == "sparse":
        return torch.ones(shape or [1]).to_sparse()
    if kind == "meta":
        return torch.empty(shape, device="meta")
    return {"scalar": 3, "text": "abc", "list": [1.0, 2.0], "dict": {"a": torch.ones(1)}}[kind]


@settings(FAST, max_examples=25)
@given(raw=st.binary(max_size=300))
def test_weights_pt_of_random_bytes(folder, raw):
    from optinc_pdk.core.weights_import import read_foreign_state

    path = fresh(folder, ".pt")
    path.write_bytes(raw)
    only_clean_outcomes(read_foreign_state, path)


@settings(FAST, max_examples=25)
@given(state=st.one_of(st.dictionaries(st.sampled_from(WEIGHT_NAMES), torch_values(), max_size=5),
                       st.lists(st.integers(), max_size=2), st.integers()))
def test_weights_pt_of_random_tensors(folder, state):
    import torch

    from optinc_pdk.core.weights_import import read_foreign_state

    path = fresh(folder, ".pt")
    torch.save(state, path)
    loaded = only_clean_outcomes(read_foreign_state, path)
    if loaded is not None:
        for key, value in loaded.state_dict().items():
            assert state[key].is_floating_point()
            np.testing.assert_array_equal(value, state[key].double().numpy())


# --- weights: safetensors -----------------------------------------------------------------------------

SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "C64": 8, "I8": 1,
                      "U64": 8, "BOOL": 1, "X": 1}


@st.composite
def safetensors_files(draw):
    """Well-formed and malformed safetensors files: a JSON header of random tensor entries, random data."""
    header = {}
    offset = 0
    for name in draw(st.lists(st.sampled_from(WEIGHT_NAMES), max_size=4, unique=True)):
        dtype = draw(st.sampled_from(sorted(SAFETENSORS_DTYPES)))
        shape = draw(st.lists(st.integers(0, 3), max_size=2))
        size = int(np.prod(shape)) * SAFETENSORS_DTYPES[dtype] + draw(st.sampled_from([0, 0, 0, 1, -1]))
        entry = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        if draw(st.integers(0, 9)) == 0:  # a broken entry
            entry = draw(st.sampled_from([[], "x", {"dtype": dtype}, {**entry, "shape": [-1]},
                                          {**entry, "data_offsets": [5, 1]}, {**entry, "shape": "ab"}]))
        header[name] = entry
        offset += max(size, 0)
    if draw(st.booleans()):
        header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header).encode()
    claimed = len(blob) + draw(st.sampled_from([0, 0, 0, 3, -3, 10**9]))
    data = draw(st.binary(min_size=offset, max_size=offset + 2))
    return struct.pack("<Q", max(claimed, 0)) + blob + data


@FAST
@given(raw=st.one_of(st.binary(max_size=200), safetensors_files()))
def test_weights_safetensors_of_random_content(folder, raw):
    from optinc_pdk.core.weights_import import read_foreign_state

    path = fresh(folder, ".safetensors")
    path.write_bytes(raw)
    only_clean_outcomes(read_foreign_state, path)


@FAST
@given(arrays=st.dictionaries(st.sampled_from(WEIGHT_NAMES), any_array(hnp.scalar_dtypes()), min_size=1, max_size=5))
def test_weights_safetensors_written_by_the_library(folder, arrays):
    from safetensors.numpy import save_file

    from optinc_pdk.core.weights_import import read_foreign_state

    path = fresh(folder, ".safetensors")
    try:
        save_file(arrays, str(path))
    except Exception:  # dtypes safetensors cannot store (datetimes, longdouble, ...): nothing to load
        return
    loaded = only_clean_outcomes(read_foreign_state, path)
    if loaded is not None:
        for key, value in loaded.state_dict().items():
            np.testing.assert_array_equal(value, arrays[key].astype(np.float64))


# --- gradient arrays and matrices (.npy) ---------------------------------------------------------------

@FAST
@given(content=st.one_of(st.binary(max_size=200), any_array(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=6))))
def test_gradient_arrays(folder, content):
    from optinc_pdk.core.npyfile import read_npy
    from optinc_pdk.simulate.allreduce import check_gradients

    path = fresh(folder, ".npy")
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    gradients = only_clean_outcomes(read_npy, path, "gradients file")
    if gradients is not None:
        checked = only_clean_outcomes(check_gradients, gradients, 4, 8, str(path))
        if checked is not None:
            assert checked.dtype == np.int64 and checked.min(initial=0) >= 0 and checked.max(initial=0) < 256
            np.testing.assert_array_equal(checked, gradients)


@FAST
@given(content=st.one_of(st.binary(max_size=200), any_array(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=6))))
def test_matrices(folder, content):
    from optinc_pdk.cli.decompose import load_matrix

    path = fresh(folder, ".npy")
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    matrix = only_clean_outcomes(load_matrix, path)
    if matrix is not None:
        assert matrix.ndim == 2 and matrix.dtype in (np.float64, np.complex128) and np.isfinite(matrix).all()
