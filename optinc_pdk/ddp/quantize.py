"""Global block quantisation, the floor average's bias correction, and Table II-style error injection.

All integer work happens in int64 on the bucket's device; the float work in float64, so the
quantised integers do not depend on the gradient dtype's rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from optinc_pdk.errors import OptincError


@dataclass(frozen=True)
class ErrorModel:
    """Errors of the decoded average: with ``probability`` per element, add one of ``values``
    (integer LSBs of the b-bit average) drawn with the relative ``ratios`` (Table II's format)."""

    probability: float
    values: tuple[int, ...] = (1,)
    ratios: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise OptincError(f"ErrorModel: probability must lie in [0, 1] (got {self.probability})")
        if not self.values or len(self.values) != len(self.ratios):
            raise OptincError("ErrorModel: values and ratios need the same, non-zero length")
        if any(r < 0 for r in self.ratios) or sum(self.ratios) <= 0:
            raise OptincError(f"ErrorModel: ratios must be non-negative with a positive sum (got {self.ratios})")


# Table II of the paper (b16n4, 16-bit gradients): the ONN's accuracy per approximated-layer choice
# gives the error probability per averaged element. Our text copy of the paper lost most error
# values; only the row whose values survived whole is given here (1024 LSB in 100% of the errors).
TABLE_II = {
    "l4-8": ErrorModel(probability=1 - 0.9999999, values=(1024,), ratios=(1.0,)),
}


def quantise(grad: torch.Tensor, low: float, high: float, bits: int) -> torch.Tensor:
    """Float gradients → unsigned ``bits``-bit integers on the shared [low, high] grid (round to nearest)."""
    top = 2**bits - 1
    scale = step_size(low, high, bits)
    q = torch.round((grad.to(torch.float64) - low) / scale)
    return q.clamp_(0, top).to(torch.int64)


def step_size(low: float, high: float, bits: int) -> float:
    """One LSB in gradient units; a constant bucket (high == low) gets LSB 1 so nothing divides by 0."""
    return (high - low) / (2**bits - 1) if high > low else 1.0


def floor_bias(servers: int) -> float:
    """Mean LSBs that floor(S/N) loses against S/N when S mod N is uniform: (N − 1) / (2N)."""
    return (servers - 1) / (2 * servers)


def dequantise(average: torch.Tensor, low: float, high: float, bits: int, correction: float) -> torch.Tensor:
    """Averaged integers (+ ``correction`` LSB, the floor's mean loss) → float64 gradients.

    The true LSB, 0 for a constant bucket: there every rank sent ``low`` and gets ``low`` back."""
    return low + (high - low) / (2**bits - 1) * (average.to(torch.float64) + correction)


def inject_errors(average: torch.Tensor, model: ErrorModel, generator: torch.Generator) -> torch.Tensor:
    """Add ``model``'s errors to the decoded integers; returns the mask of hit elements.

    The generator is seeded identically on every rank, so every server receives the same wrong
    value, as an OptINC broadcasts one result. The value is added as is, not saturated at 2^b − 1,
    so the injected error is exactly the stated one."""
    hit = torch.rand(average.shape, generator=generator, dtype=torch.float64) < model.probability
    count = int(hit.sum())
    if count:
        weights = torch.tensor(model.ratios, dtype=torch.float64)
        pick = torch.multinomial(weights, count, replacement=True, generator=generator)
        average[hit.to(average.device)] += torch.tensor(model.values, dtype=torch.int64)[pick].to(average.device)
    return hit


def error_model_from_report(path: str) -> ErrorModel:
    """An ErrorModel from the JSON of `optinc evaluate --json` or `optinc yield --json`.

    The probability per element is 1 − accuracy (evaluate: the share of the exhaustive dataset
    decided wrong; yield: the mean over sampled chips), the values and ratios are the report's
    "error_values" (Table II format). The dataset weighs every input combination once, which is
    not how real gradients are spread: the rate is the report's, not a prediction for training."""
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OptincError(f"{path}: cannot read the report as JSON ({error})") from None
    accuracy = report.get("accuracy") if isinstance(report, dict) else None
    accuracy = accuracy.get("mean") if isinstance(accuracy, dict) else accuracy
    rows = report.get("error_values") if isinstance(report, dict) else None
    if not isinstance(accuracy, int | float) or not 0 <= accuracy <= 1:
        raise OptincError(f"{path}: accuracy: expected a number in [0, 1] (evaluate) or {{\"mean\": …}} (yield)")
    if not isinstance(rows, list) or any(not isinstance(r, dict) or not float(r.get("error", 0.5)).is_integer()
                                         or not isinstance(r.get("ratio"), int | float) for r in rows):
        raise OptincError(f"{path}: error_values: expected a list of {{error: integer LSB, ratio}}")
    if not rows:
        return ErrorModel(probability=0.0)
    return ErrorModel(probability=1.0 - accuracy, values=tuple(int(r["error"]) for r in rows),
                      ratios=tuple(float(r["ratio"]) for r in rows))
