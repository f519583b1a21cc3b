"""Read weights people bring: a torch state_dict (``weights_only=True``, never arbitrary pickle) or safetensors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from optinc_pdk.core.weights import OnnWeights, from_state_dict
from optinc_pdk.errors import first_line, located


def read_foreign_state(path: str | Path) -> OnnWeights:
    """Weights from a ``.safetensors`` file or a torch ``state_dict`` (``.pt``/``.pth``), as float64.

    Accepted: real floating point tensors, widened to float64 exactly (float16, bfloat16, float32,
    float64, and torch's / safetensors' float8 formats). Refused with one line naming the file and the
    tensor: complex, integer and boolean tensors, sparse, quantised, nested and meta tensors, and
    anything that is not a flat mapping of tensor names to tensors.
    """
    path = Path(path)
    if path.is_dir():
        raise located(path, "", "is a folder, expected a .pt or .safetensors weights file")
    if not path.is_file():
        raise located(path, "", "file not found")
    if path.stat().st_size == 0:
        raise located(path, "", "is empty (0 bytes)")
    state = read_safetensors(path) if path.suffix == ".safetensors" else _read_torch(path)
    return from_state_dict(state, {"imported_from": str(path)}, str(path))


def _read_torch(path: Path) -> dict[str, np.ndarray]:
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # weights_only unpickling of a foreign file: any failure is the file's
        raise located(path, "", f"not a plain torch state_dict (loaded with weights_only=True): {first_line(error)}"
                      ) from None
    if not isinstance(loaded, dict):
        raise located(path, "", f"not a state_dict of tensors (holds a {type(loaded).__name__})")
    state = {}
    for key, value in loaded.items():
        name = key if isinstance(key, str) else repr(key)
        if not isinstance(value, torch.Tensor):
            hint = " (a checkpoint? save its model's state_dict())" if isinstance(value, dict) else ""
            raise located(path, name, f"not a tensor (holds a {type(value).__name__}){hint}")
        state[key] = _tensor_array(value, path, name)
    return state


def _tensor_array(tensor, path: Path, name: str) -> np.ndarray:
    """A dense real floating tensor as float64 numpy, or a one-line error saying what the tensor is."""
    import torch

    if tensor.is_meta or tensor.device.type == "meta":
        raise located(path, name, "a meta tensor (shape only, no values)")
    if tensor.is_quantized:
        raise located(path, name, f"a quantised tensor ({tensor.dtype}): save tensor.dequantize() instead")
    if getattr(tensor, "is_nested", False) or tensor.layout != torch.strided:
        raise located(path, name, f"a {tensor.layout} tensor: save it dense (tensor.to_dense())")
    if tensor.is_complex() or not tensor.is_floating_point():
        why = "complex: the optics realise real weights and the imaginary part would be lost" if tensor.is_complex() \
            else "not floating point"
        raise located(path, name, f"dtype {tensor.dtype} ({why}) is not accepted: weights must be real floating "
                                  "point (float16, bfloat16, float32, float64, float8; widened to float64 exactly)")
    try:
        return tensor.detach().to(device="cpu", dtype=torch.float64).numpy().copy()
    except Exception as error:  # exotic tensor subclasses
        raise located(path, name, f"cannot read tensor values ({first_line(error)})") from None


# safetensors dtypes read as real floating point; everything else is refused by name
_SAFETENSORS_FLOAT = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}
_SAFETENSORS_WIDENED = {"BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1}
_SAFETENSORS_REFUSED = {"C64": "complex: the optics realise real weights and the imaginary part would be lost",
                        "BOOL": "boolean"}
_ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1}
_HEADER_MAX = 100 * 2**20  # the safetensors library's own limit on the JSON header


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file (format: 8-byte little-endian header size, JSON header, data) as
    float64 arrays. BF16 and F8 (E4M3, E5M2) are widened exactly; other dtypes are refused by name."""
    from optinc_pdk.spec.limits import check_memory

    size = path.stat().st_size
    check_memory(size * 8, "reading this weights file", path)  # float64 copies of at worst 1-byte values
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise located(path, "", f"cannot read ({error.strerror or error})") from None
    if len(raw) < 8:
        raise located(path, "", "not a safetensors file (shorter than its 8-byte header size)")
    length = int.from_bytes(raw[:8], "little")
    if length > min(_HEADER_MAX, len(raw) - 8):
        raise located(path, "", f"not a safetensors file (header size {length} does not fit the file)")
    try:
        header = json.loads(raw[8 : 8 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise located(path, "", f"not a safetensors file (header is not JSON: {first_line(error)})") from None
    if not isinstance(header, dict):
        raise located(path, "", "not a safetensors file (header is not a JSON object)")
    data = memoryview(raw)[8 + length :]
    state = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        state[name] = _safetensors_array(info, data, path, name)
    return state


def _safetensors_array(info, data: memoryview, path: Path, name: str) -> np.ndarray:
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
        raise located(path, name, "not a safetensors tensor entry (needs dtype, shape, data_offsets)")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(shape, list) or not all(type(side) is int and side >= 0 for side in shape):
        raise located(path, name, f"bad shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= len(data)):
        raise located(path, name, f"data_offsets {offsets!r} do not lie within the file's {len(data)} data bytes")
    if dtype not in _ITEM_BYTES:
        why = _SAFETENSORS_REFUSED.get(dtype, "not floating point" if isinstance(dtype, str) and dtype[:1] in "IUB"
                                       else "unsupported")
        raise located(path, name, f"dtype {dtype} ({why}) is not accepted: weights must be F16, BF16, F32, F64 or "
                                  "F8_E4M3/F8_E5M2 (widened to float64 exactly)")
    count = math.prod(shape)
    if count * _ITEM_BYTES[dtype] != offsets[1] - offsets[0]:
        raise located(path, name, f"{offsets[1] - offsets[0]} data bytes do not hold a {dtype} tensor of shape {shape}")
    chunk = data[offsets[0] : offsets[1]]
    if dtype in _SAFETENSORS_FLOAT:
        values = np.frombuffer(chunk, dtype=_SAFETENSORS_FLOAT[dtype]).astype(np.float64)
    elif dtype == "BF16":  # the upper half of a float32
        values = (np.frombuffer(chunk, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    else:
        values = _float8_table(dtype)[np.frombuffer(chunk, dtype=np.uint8)]
    return values.reshape(shape)


def _float8_table(dtype: str) -> np.ndarray:
    """The 256 float64 values of an 8-bit float format: F8_E4M3 (e4m3fn: bias 7, no inf, S.1111.111 = NaN)
    or F8_E5M2 (bias 15, IEEE-like inf and NaN)."""
    codes = np.arange(256)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    exp_bits, bias = (4, 7) if dtype == "F8_E4M3" else (5, 15)
    man_bits = 7 - exp_bits
    exponent = (codes >> man_bits) & ((1 << exp_bits) - 1)
    mantissa = (codes & ((1 << man_bits) - 1)) / (1 << man_bits)
    value = np.where(exponent == 0, mantissa * 2.0 ** (1 - bias), (1 + mantissa) * 2.0 ** (exponent - bias))
    top = exponent == (1 << exp_bits) - 1
    if dtype == "F8_E4M3":
        value = np.where(top & ((codes & 7) == 7), np.nan, value)
    else:
        value = np.where(top, np.where(mantissa == 0, np.inf, np.nan), value)
    return sign * value
