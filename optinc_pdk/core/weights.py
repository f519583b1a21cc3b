"""The shipped weights format: ``NAME.npz`` + ``NAME.json`` provenance (documented in weights/README.md).

The npz holds the MLP's arrays named like a torch ``state_dict`` of :class:`OnnMLP`:
``layers.0.weight`` (out×in), ``layers.0.bias`` (out), … as float64, in level units (inputs are the
averager outputs x_j, outputs are PAM4 levels). Loaded with ``allow_pickle=False``; every
shape is checked against the scenario.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optinc_pdk.core.atomic import atomic_path, write_text_atomic
from optinc_pdk.errors import OptincError, first_line, located
from optinc_pdk.paths import WEIGHTS_DIR
from optinc_pdk.spec.scenario import Scenario


@dataclass(frozen=True)
class OnnWeights:
    weights: tuple[np.ndarray, ...]  # per layer, out×in, float64
    biases: tuple[np.ndarray, ...]  # per layer, out
    provenance: dict
    source: str = ""

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {}
        for index, (w, b) in enumerate(zip(self.weights, self.biases)):
            out[f"layers.{index}.weight"] = w
            out[f"layers.{index}.bias"] = b
        return out

    def digest(self) -> str:
        """sha256 of the arrays, for provenance and layout info."""
        h = hashlib.sha256()
        for key, value in sorted(self.state_dict().items()):
            h.update(key.encode())
            h.update(np.ascontiguousarray(value, dtype=np.float64).tobytes())
        return h.hexdigest()

    def plus(self, weight_errors, bias_errors) -> OnnWeights:
        """These weights with per-layer errors added (e.g. one sampled chip's, in the ONN's own units); no provenance."""
        return OnnWeights(tuple(w + d for w, d in zip(self.weights, weight_errors)),
                          tuple(b + d for b, d in zip(self.biases, bias_errors)), {})

    def forward(self, x: np.ndarray, batch: int = 65536) -> np.ndarray:
        """The ideal MLP in float64: ReLU after every layer but the last."""
        return self.hidden(x, batch, layers=self.n_layers)

    def hidden(self, x: np.ndarray, batch: int = 65536, layers: int | None = None) -> np.ndarray:
        """The first ``layers`` layers in float64 (default all but the last: the output layer's inputs),
        with ReLU after each one except the network's own last layer."""
        count = self.n_layers - 1 if layers is None else layers
        x = np.asarray(x, dtype=np.float64)
        outs = []
        for start in range(0, max(len(x), 1), batch):
            h = x[start : start + batch]
            for index, (w, b) in enumerate(zip(self.weights[:count], self.biases[:count])):
                h = h @ w.T + b
                if index < self.n_layers - 1:
                    np.maximum(h, 0.0, out=h)
            outs.append(h)
        width = self.weights[count - 1].shape[0] if count else x.shape[1]
        return np.concatenate(outs) if outs else np.zeros((0, width))


# kinds numpy may hand us, and why each is refused (weights are real floating point, nothing converts silently)
_REFUSED_KINDS = {
    "c": "complex: the optics realise real weights and the imaginary part would be lost",
    "i": "integer", "u": "unsigned integer", "b": "boolean", "M": "datetime", "m": "timedelta",
    "O": "Python objects", "U": "text", "S": "bytes", "V": "raw or structured records",
}
WEIGHT_DTYPES = "float16, float32 or float64 (widened to float64 exactly)"


def real_float_array(value, source: str | None, key: str) -> np.ndarray:
    """``value`` as an ndarray of float16/32/64, else a one-line error naming the file and the array.

    Nothing is converted here; :func:`from_state_dict` widens to float64, which is exact for these.
    """
    array = np.asarray(value) if isinstance(value, np.ndarray) else None
    if array is None:
        raise located(source, key, f"not an array (got {type(value).__name__})")
    kind = array.dtype.kind
    if kind != "f" or array.dtype.itemsize > 8:
        why = _REFUSED_KINDS.get(kind, "extended precision (convert to float64 first)" if kind == "f" else "unsupported")
        raise located(source, key, f"dtype {array.dtype} ({why}) is not accepted: weights must be {WEIGHT_DTYPES}")
    return array


def from_state_dict(state: dict[str, np.ndarray], provenance: dict | None = None, source: str = "") -> OnnWeights:
    """Weights from arrays named like a torch ``state_dict``; every array must be real floating point
    (float16/32/64, widened to float64 exactly), finite, and of consistent shapes."""
    if not isinstance(state, dict):
        raise located(source or None, "", f"not a mapping of named arrays (got {type(state).__name__})")
    for key in state:
        if not isinstance(key, str):
            raise located(source or None, repr(key), "array names must be strings (as in a torch state_dict)")
    for key, value in state.items():
        real_float_array(value, source or None, key)
    keys = set(state)
    n = 0
    while f"layers.{n}.weight" in keys:
        n += 1
    if n == 0:
        raise located(source or None, "layers.0.weight", "missing: expected arrays named like a torch state_dict")
    weights, biases = [], []
    for index in range(n):
        for suffix in ("weight", "bias"):
            if f"layers.{index}.{suffix}" not in keys:
                raise located(source or None, f"layers.{index}.{suffix}", "missing")
        w = state[f"layers.{index}.weight"]
        b = state[f"layers.{index}.bias"]
        if w.ndim != 2 or b.ndim != 1 or b.shape[0] != w.shape[0]:
            raise located(source or None, f"layers.{index}", f"bad shapes weight {w.shape}, bias {b.shape}")
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise located(source or None, f"layers.{index}", "contains NaN or inf")
        weights.append(w.astype(np.float64))
        biases.append(b.astype(np.float64))
    extra = keys - {f"layers.{i}.{s}" for i in range(n) for s in ("weight", "bias")}
    if extra:
        raise located(source or None, sorted(extra)[0], "unexpected array")
    for index in range(n - 1):
        if weights[index + 1].shape[1] != weights[index].shape[0]:
            raise located(source or None, f"layers.{index + 1}.weight",
                          f"input size {weights[index + 1].shape[1]} does not match layer {index} "
                          f"output {weights[index].shape[0]}")
    return OnnWeights(tuple(weights), tuple(biases), provenance or {}, source)


def scenario_record(scenario: Scenario, level: int | None = None) -> dict:
    """The provenance fields that describe the network's shape (part of every :func:`provenance_record`)."""
    return {
        "scenario": scenario.name,
        "level": level,
        "widths": scenario.widths,
        "approx_layers": scenario.approx_layers,
        "block_sizes": {str(n): min(scenario.layer_shapes()[n - 1]) for n in scenario.approx_layers},
        "units": "inputs: averager outputs x_j; outputs: PAM4 levels (decide by rounding on each output's grid)",
    }


# the fields provenance_record owns: recomputed (or left out) for derived weights, never inherited
COMMON_FIELDS = ("scenario", "level", "widths", "approx_layers", "block_sizes", "units", "method", "accuracy",
                 "dataset", "dataset_size", "wall_time_s", "machine", "python", "numpy", "torch", "sha256")


def provenance_record(scenario: Scenario, level: int | None = None, *, method: str, accuracy: float | None = None,
                      data=None, wall_s: float | None = None, based_on: dict | None = None, environment: bool = True,
                      torch_used: bool = False, **extra) -> dict:
    """The one writer of weights provenance (the ``NAME.json`` beside ``NAME.npz``), whatever made the weights.

    Common fields, the same everywhere: :func:`scenario_record`; ``method`` (training, refinement,
    revival, output refit, construction, random, import); ``accuracy``, the decision accuracy on the
    whole exhaustive dataset as `optinc evaluate` reports it (left out when not measured); ``dataset``
    and ``dataset_size`` of ``data`` (a :class:`~optinc_pdk.core.datasets.Dataset`); ``wall_time_s``; with
    ``environment``, the machine and the software (python, numpy, and torch where ``torch_used``).

    ``based_on``: the record of the weights these were derived from (revival, output refit): its own
    fields are kept, the common ones are not (they described those weights). ``extra``: the method's own
    fields, written last.
    """
    record = {k: v for k, v in (based_on or {}).items() if k not in COMMON_FIELDS}
    record.update(scenario_record(scenario, level))
    record["method"] = method
    if accuracy is not None:
        record["accuracy"] = float(accuracy)
    if data is not None:
        record.update(dataset=data.name, dataset_size=int(data.size))
    if wall_s is not None:
        record["wall_time_s"] = round(float(wall_s), 1)
    if environment:
        record.update(_environment(torch_used))
    record.update(extra)
    return record


def _environment(torch_used: bool) -> dict:
    machine = f"{platform.node() or 'unknown'} {platform.machine()} {cpu_name()}"
    software = {"python": sys.version.split()[0], "numpy": np.__version__}
    if torch_used:
        import torch

        machine += f" ({torch.get_num_threads()} threads)"
        software["torch"] = torch.__version__
    return {"machine": machine, **software}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def check_against_scenario(w: OnnWeights, scenario: Scenario) -> None:
    """Refuse weights whose shapes differ from the scenario's widths, naming the first bad array."""
    expected = scenario.layer_shapes()
    if w.n_layers != len(expected):
        raise located(w.source or None, "layers", f"{w.n_layers} layers, scenario {scenario.name} has {len(expected)}")
    for index, (shape, weight) in enumerate(zip(expected, w.weights)):
        if weight.shape != shape:
            raise located(w.source or None, f"layers.{index}.weight",
                          f"shape {weight.shape} does not match scenario {scenario.name} {shape}")


def load_npz(path: str | Path) -> OnnWeights:
    path = Path(path)
    if path.is_dir():
        raise located(path, "", "is a folder, expected a weights .npz file")
    if path.is_file() and path.stat().st_size == 0:
        raise located(path, "", "is empty (0 bytes), expected a weights .npz file")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive of named arrays")
        with data:
            state = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise located(path, "", "weights file not found") from None
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise located(path, "", "contains pickled objects; refusing to load (weights must be plain arrays)") from None
        raise located(path, "", f"not a valid .npz weights file ({first_line(error)})") from None
    except Exception as error:  # any other failure (EOF, bad zip, a header asking for too much memory) is the file's
        raise located(path, "", f"not a valid .npz weights file ({first_line(error)})") from None
    provenance = {}
    sidecar = path.with_suffix(".json")
    if sidecar.is_file():
        try:
            provenance = json.loads(sidecar.read_bytes().decode("utf-8"))
        except json.JSONDecodeError as error:
            raise located(sidecar, "", f"malformed JSON provenance ({error.msg} at line {error.lineno})") from None
        except (UnicodeDecodeError, RecursionError, OSError) as error:
            raise located(sidecar, "", f"unreadable JSON provenance ({first_line(error)})") from None
        if not isinstance(provenance, dict):
            raise located(sidecar, "", "provenance must be a JSON object")
    return from_state_dict(state, provenance, str(path))


def save_npz(path: str | Path, w: OnnWeights, provenance: dict) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".npz":  # the .json provenance goes beside it: X.npz -> X.json
        raise OptincError(f"{path}: a weights file must end in .npz")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:  # a handle: numpy appends .npz to names
        # compressed: constructed weights are mostly exact zeros and shrink ~100x
        np.savez_compressed(handle, **{k: np.asarray(v, dtype=np.float64) for k, v in w.state_dict().items()})
    record = {**provenance, "sha256": w.digest()}
    write_text_atomic(path.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    return path


def portable_source(source: str | Path) -> str:
    """Where weights came from, without the machine's folders: ``weights/NAME.npz`` for shipped
    weights, the path below the working folder for weights there, else the file name alone (the
    sha256 beside it identifies the file). Build outputs quote this, never an absolute path."""
    text = str(source)
    if not text or not Path(text).is_absolute():
        return text  # "random(seed=1)", or already relative
    path = Path(text).resolve()
    for base, prefix in ((WEIGHTS_DIR, "weights"), (Path.cwd().resolve(), "")):
        if path.is_relative_to(base):
            relative = path.relative_to(base).as_posix()
            return f"{prefix}/{relative}" if prefix else relative
    return path.name


def shipped_weights_path(scenario: Scenario, level: int | None = None) -> Path:
    """Where a scenario's weights live under weights/ (``weights:`` and ``name`` are plain names, checked here
    again: `optinc train` writes to this path, which never leaves weights/)."""
    if scenario.cascade is not None:
        target = WEIGHTS_DIR / scenario.weights_name / f"level{level or 1}.npz"
    else:
        target = WEIGHTS_DIR / f"{scenario.weights_name}.npz"
    if not target.resolve().is_relative_to(WEIGHTS_DIR):
        raise located(scenario.source, "weights", f"{scenario.weights_name!r} leads out of {WEIGHTS_DIR}")
    return target


def load_for_scenario(scenario: Scenario, path: str | Path | None = None, level: int | None = None) -> OnnWeights:
    """Load ``path`` (default: the shipped weights) and check it against the scenario."""
    target = Path(path) if path is not None else shipped_weights_path(scenario, level)
    if not target.is_file():
        train = f"optinc train {scenario.name}" + (f" --level {level or 1}" if scenario.cascade else "")
        given = "--weights FOLDER (level1.npz, level2.npz)" if scenario.cascade else "--weights FILE"
        raise OptincError(
            f"{target}: no weights for scenario {scenario.name} (train them with `{train}`, "
            f"pass {given}, or use --random-weights for area/layout exploration)"
        )
    w = load_npz(target)
    check_against_scenario(w, scenario)
    return w
