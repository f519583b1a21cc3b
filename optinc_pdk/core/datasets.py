"""Exhaustive training/evaluation datasets, built vectorised from a scenario.

A sample is one combination of the averager's outputs. Inputs are stored as integer numerators
over a common divisor (x = numerators / divisor), targets as integer codes on each output's
decision grid (target level = code * output_step), so 13.8M samples fit in a few hundred MB and
every value is exact.

Sizes (docs/conventions.md, Preprocessing): ((4^G - 1) N + 1)^M for a plain OptINC; the cascade's level 1 uses its
basic OptINC's inputs, level 2 the averages of four level-1 outputs (LSB on a 1/N² grid).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optinc_pdk.core.signals import PAM4_LEVELS
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.limits import check_memory
from optinc_pdk.spec.scenario import Scenario

NOISE_VARIANTS = 4  # noisy copies of every level-2 sample checked besides the exact input


@dataclass(frozen=True)
class Dataset:
    name: str
    numerators: np.ndarray  # (K, M) int32
    divisor: int
    codes: np.ndarray  # (K, D) uint8: target level / output_step
    output_step: np.ndarray  # (D,) decision grid of each output, in PAM4 levels
    group: int  # G: input j carries weight 4^{jG}
    # cascade link (docs/conventions.md, Cascade): level-1 outputs must stay within output_tolerance of their grid value
    # (levels, per output); level 2 sees the mean of ``noise_sources`` level-1 outputs, so its inputs carry
    # the mean of that many rows of ``input_noise`` (level 1's analog output errors, one row per level-1 input)
    output_tolerance: np.ndarray | None = None
    input_noise: np.ndarray | None = None
    noise_sources: int = 1

    @property
    def size(self) -> int:
        return int(self.numerators.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.codes.shape[1])

    @property
    def output_top(self) -> np.ndarray:
        """Largest decidable level per output: 3 for a plain digit, 4 - step for a kept-decimal digit."""
        return np.where(self.output_step < 1, PAM4_LEVELS - self.output_step, PAM4_LEVELS - 1)

    def inputs(self, index: np.ndarray | slice | None = None, dtype=np.float32) -> np.ndarray:
        rows = self.numerators if index is None else self.numerators[index]
        return (rows / self.divisor).astype(dtype)

    def targets(self, index: np.ndarray | slice | None = None, dtype=np.float32) -> np.ndarray:
        rows = self.codes if index is None else self.codes[index]
        return (rows * self.output_step).astype(dtype)

    def centered_step_positions(self, index: np.ndarray | slice | None = None) -> np.ndarray:
        """(B, D): where the exact average lies within each output's decision step, centred on the step.

        Output k's level changes every ``divisor · 4^k · output_step[k]`` units of the weighted numerator
        total; a step holds P such grid points, and the position of point p (0 just after the step up to the
        target level) is p/P − (P − 1)/(2P), so the positions of a step span ±(P − 1)/(2P) < ±1/2.
        """
        rows = self.numerators if index is None else self.numerators[index]
        weights = (PAM4_LEVELS ** (self.group * np.arange(rows.shape[1]))).astype(np.int64)
        total = _weighted_total(rows, weights)
        periods = np.rint(self.divisor * PAM4_LEVELS ** np.arange(self.n_outputs) * self.output_step).astype(np.int64)
        points = (total[:, None] % periods) / periods
        return points - (periods - 1) / (2 * periods)

    @property
    def top_codes(self) -> np.ndarray:
        """Largest decidable code per output (the receiver clips to it)."""
        return np.rint(self.output_top / self.output_step)

    def decide(self, outputs: np.ndarray) -> np.ndarray:
        """Receiver decisions as codes: nearest level on each output's grid, clipped."""
        return np.clip(np.rint(np.asarray(outputs) / self.output_step), 0, self.top_codes).astype(np.int64)

    def correct(self, outputs: np.ndarray, index: np.ndarray | slice | None = None) -> np.ndarray:
        """Per-sample flag: every decided output equals its target."""
        codes = self.codes if index is None else self.codes[index]
        return np.all(self.decide(outputs) == codes, axis=-1)

    def within_tolerance(self, outputs: np.ndarray, index: np.ndarray | slice | None = None) -> np.ndarray:
        """Per-sample flag: every raw output lies within ``output_tolerance`` of its target (True if none set)."""
        outputs = np.asarray(outputs)
        if self.output_tolerance is None:
            return np.ones(outputs.shape[0], dtype=bool)
        error = np.abs(outputs - self.targets(index, dtype=np.float64))
        return np.all(error <= self.output_tolerance, axis=-1)

    def variants(self) -> range:
        """Input variants every sample must pass: 0 = exact; 1.. = with level-1 errors added (level 2)."""
        return range(1 + (NOISE_VARIANTS if self.input_noise is not None else 0))

    def variant_inputs(self, variant: int, index: slice, dtype=np.float32) -> np.ndarray:
        """Variant 0: the exact inputs; variant v ≥ 1: plus the mean of ``noise_sources`` rows of
        ``input_noise``, the rows a fixed pseudo-random function of (sample, v) (independent of batching)."""
        x = self.inputs(index, dtype=np.float64)
        if variant == 0:
            return x.astype(dtype)
        rows = np.arange(self.size, dtype=np.uint64)[index]
        sources = np.arange(self.noise_sources, dtype=np.uint64)
        with np.errstate(over="ignore"):  # a wrapping multiplicative hash
            mixed = (rows[:, None] * np.uint64(0x9E3779B97F4A7C15) + sources * np.uint64(0xBF58476D1CE4E5B9)
                     + np.uint64(variant) * np.uint64(0x94D049BB133111EB))
        picks = ((mixed >> np.uint64(17)) % np.uint64(self.input_noise.shape[0])).astype(np.int64)
        return (x + self.input_noise[picks].mean(axis=1)).astype(dtype)

    def gradient_values(self, levels: np.ndarray) -> np.ndarray:
        """Eq. 7's reconstructed gradient Σ_k 4^k o_k from output levels."""
        levels = np.asarray(levels, dtype=np.float64)
        return levels @ (float(PAM4_LEVELS) ** np.arange(levels.shape[-1]))


def _grid(radices: list[int]) -> np.ndarray:
    """All combinations of per-column values 0..radix-1, column 0 varying fastest. (K, M) int32."""
    total = int(np.prod(radices, dtype=np.int64))
    if total > 2**31 - 1:
        raise OptincError(f"dataset of {total} samples is too large to enumerate")
    # one column at a time in int32 (repeat/tile): no int64 index of K entries, no stacked copies
    grid = np.empty((total, len(radices)), dtype=np.int32)
    stride = 1
    for column, radix in enumerate(radices):
        grid[:, column] = np.tile(np.repeat(np.arange(radix, dtype=np.int32), stride), total // (stride * radix))
        stride *= radix
    return grid


def _weighted_total(columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σ_j weights[j] · columns[:, j] in int64, column by column (no (K, M) int64 copy)."""
    total = np.zeros(columns.shape[0], dtype=np.int64)
    for column, weight in enumerate(weights):
        total += columns[:, column].astype(np.int64) * int(weight)
    return total


def _digits_of(values: np.ndarray, n_digits: int) -> np.ndarray:
    # digit by digit into uint8: a (K, D) int64 intermediate would be ~0.9 GB for b16n4
    digits = np.empty((values.shape[0], n_digits), dtype=np.uint8)
    for k in range(n_digits):
        digits[:, k] = (values >> (2 * k)) & 3
    return digits


def plain_dataset(bits: int, servers: int, onn_inputs: int, name: str = "") -> Dataset:
    """The exhaustive dataset of one OptINC: inputs x_j = s_j / N, target digits of floor(mean)."""
    group = bits // (2 * onn_inputs)
    per_input = (PAM4_LEVELS**group - 1) * servers + 1
    sums = _grid([per_input] * onn_inputs)
    weights = (PAM4_LEVELS ** (group * np.arange(onn_inputs))).astype(np.int64)
    total = _weighted_total(sums, weights)  # Σ_i g_i
    codes = _digits_of(total // servers, bits // 2)
    return Dataset(name or f"b{bits}n{servers}", sums, servers, codes, np.ones(bits // 2), group)


def cascade_level1_dataset(bits: int, servers_per_optinc: int, onn_inputs: int,
                           link_tolerance: list[float] | None = None) -> Dataset:
    """Level 1 (eq. 10): the basic OptINC's inputs; the LSB output keeps the decimal part (1/N grid)."""
    base = plain_dataset(bits, servers_per_optinc, onn_inputs)
    n = servers_per_optinc
    weights = (PAM4_LEVELS ** (base.group * np.arange(onn_inputs))).astype(np.int64)
    total = _weighted_total(base.numerators, weights)
    codes = base.codes.astype(np.int64)
    codes[:, 0] = codes[:, 0] * n + total % n  # LSB on the 1/N grid: (avg mod 4) * N
    step = np.ones(bits // 2)
    step[0] = 1.0 / n
    tolerance = None if link_tolerance is None else np.asarray(link_tolerance, dtype=np.float64)
    return Dataset(f"b{bits}n{n}-level1", base.numerators, n, codes.astype(np.uint8), step, base.group, tolerance)


def cascade_level2_dataset(bits: int, servers_per_optinc: int, onn_inputs: int) -> Dataset:
    """Level 2: inputs are the means of Q = N level-1 outputs, the LSB input on a 1/N² grid.

    Enumerates the product grid of input values (a superset of the reachable combinations, by a
    handful of samples at the very top of the range); the target is the digits of the floor of
    the global mean the inputs encode.
    """
    if bits // 2 != onn_inputs:
        raise OptincError("cascade: level 2 needs one PAM4 digit per ONN input (G = 1)")
    n = servers_per_optinc  # servers per level-1 OptINC and level-1 OptINCs per level 2
    divisor = n * n
    lsb_values = (PAM4_LEVELS * n - 1) * n + 1  # Σ_q N·o_{q,0}, each 0..4N-1
    digit_values = (PAM4_LEVELS - 1) * n + 1  # Σ_q o_{q,j}, each 0..3
    grid = _grid([lsb_values] + [digit_values] * (onn_inputs - 1))
    numerators = grid.copy()
    numerators[:, 1:] *= n  # x_j = v_j / N = (N v_j) / N²
    # global mean * N² = u_0 + Σ_{j>=1} 4^j N v_j
    weights = (PAM4_LEVELS ** np.arange(onn_inputs)).astype(np.int64)
    total = _weighted_total(numerators, weights)
    codes = _digits_of(total // divisor, bits // 2)
    return Dataset(f"b{bits}n{n * n}-level2", numerators.astype(np.int32), divisor, codes, np.ones(bits // 2), 1)


def with_level1_errors(level2: Dataset, level1: Dataset, level1_outputs: np.ndarray, sources: int,
                       gain: float = 1.0) -> Dataset:
    """Level 2's dataset whose noisy variants add the mean of ``sources`` of level 1's real analog errors
    (``level1_outputs`` − targets, one row per level-1 input, times ``gain``): what unquantised
    level-1 outputs bring, with a margin when gain > 1."""
    errors = gain * (np.asarray(level1_outputs, dtype=np.float64) - level1.targets(dtype=np.float64))
    return replace(level2, input_noise=errors, noise_sources=sources)


# peak bytes per sample while a dataset is built and used: int32 numerators and their int64 totals, uint8 codes,
# float inputs and targets of a batch (measured 48 B/sample building b16n4's, M = 4, D = 8)
def dataset_memory_bytes(samples: int, onn_inputs: int, outputs: int) -> int:
    return samples * (16 * onn_inputs + 4 * outputs + 16)


def exhaustive_dataset(scenario: Scenario, level: int | None = None) -> Dataset:
    """The dataset a scenario's ONN is trained and evaluated on (``level`` 1 or 2 for a cascade).

    Refused before anything is allocated when its estimated memory exceeds the limit (optinc_pdk.spec.limits).
    """
    if scenario.cascade is None or level in (1, 2):
        samples = dataset_size(scenario, level if scenario.cascade is not None else None)
        check_memory(dataset_memory_bytes(samples, scenario.onn_inputs, scenario.digits),
                     f"the exhaustive dataset of {samples} samples", scenario.source, "")
    if scenario.cascade is None:
        if level is not None:
            raise OptincError(f"{scenario.name}: level {level} given but the scenario is not a cascade")
        return plain_dataset(scenario.bits, scenario.servers, scenario.onn_inputs, scenario.name)
    per, tolerance = scenario.cascade.servers_per_optinc, scenario.cascade.link_tolerance
    if level == 1:
        return cascade_level1_dataset(scenario.bits, per, scenario.onn_inputs, tolerance)
    if level == 2:
        return cascade_level2_dataset(scenario.bits, per, scenario.onn_inputs)
    raise OptincError(f"{scenario.name}: a cascade has datasets for level 1 and level 2 (got {level})")


def dataset_size(scenario: Scenario, level: int | None = None) -> int:
    """Sample count from the formulas alone (no enumeration)."""
    if scenario.cascade is None:
        return ((PAM4_LEVELS**scenario.group - 1) * scenario.servers + 1) ** scenario.onn_inputs
    n = scenario.cascade.servers_per_optinc
    per_input = (PAM4_LEVELS**scenario.group - 1) * n + 1
    if level not in (1, 2):
        raise OptincError(f"{scenario.name}: a cascade has datasets for level 1 and level 2 (got {level})")
    if level == 1:
        return per_input**scenario.onn_inputs
    return ((PAM4_LEVELS * n - 1) * n + 1) * ((PAM4_LEVELS - 1) * n + 1) ** (scenario.onn_inputs - 1)
