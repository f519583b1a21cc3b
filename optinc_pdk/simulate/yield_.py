"""Yield of sampled chips: every input of the dataset through every sampled chip, decided (docs/yield.md).

Per chip, the description compiles through the simulator's own path
(:func:`optinc_pdk.simulate.stages.compile_block`, with the chip's imperfect mesh and attenuator
matrices from :mod:`optinc_pdk.simulate.nonideal` in place of the ideal ones) and runs as real
matmuls between ReLU arrays (:mod:`optinc_pdk.simulate.fused`; a cascade's sample is a whole system,
its N + 1 OptINCs each with their own errors). Those run in float32 when the ideal chip's float32 decisions equal the complex128
simulator's on every input checked, else in float64 (:func:`ideal_check`, on every run). The
receivers decide as :meth:`OpticalChain.decide` does (nearest level on each output's grid,
clipped), at every server's receiver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from optinc_pdk.circuit.cascade import CascadeDescription
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.core.datasets import Dataset, plain_dataset
from optinc_pdk.core.signals import PAM4_LEVELS
from optinc_pdk.simulate.cascade import cascade_server_digits, stratified_group_inputs
from optinc_pdk.simulate.chain import compile_chain, group_sums_to_digits
from optinc_pdk.simulate.fused import chip_path
from optinc_pdk.simulate.nonideal import ErrorModel, ErrorSites, detector_generator
from optinc_pdk.simulate.shard import my_chips, rank_and_world, sum_over_ranks

CHIP_BATCH = 16  # chips whose leaf matrices are computed together (batched mesh products)


@dataclass(frozen=True)
class YieldInputs:
    """The dataset rows every chip is checked on, as server fields, with their target codes."""

    data: Dataset
    index: np.ndarray  # rows of ``data``
    fields: np.ndarray  # (B, channels) float32 server fields
    digits: np.ndarray  # (servers, B, digits) server digits (for the complex128 simulator)
    sample: str  # how the rows were chosen, in words

    @property
    def codes(self) -> np.ndarray:
        return self.data.codes[self.index]

    @property
    def size(self) -> int:
        return int(self.index.size)


def select_rows(data: Dataset, limit: int, seed: int) -> tuple[np.ndarray, str]:
    """All rows when ``limit`` is 0 or covers the dataset; else a stratified sample of about ``limit`` rows.

    Strata are the target values (the decoded average ⌊v⌋): every stratum contributes
    min(its size, ⌈limit / strata⌉) rows drawn without replacement by Generator(SeedSequence([seed, 1])),
    so rare targets (the extremes of the average) are as present as common ones.
    """
    if limit <= 0 or limit >= data.size:
        return np.arange(data.size), f"exhaustive: all {data.size} inputs"
    target = np.rint(data.gradient_values(data.codes * data.output_step) * 4).astype(np.int64)
    strata, inverse = np.unique(target, return_inverse=True)
    per_stratum = -(-limit // strata.size)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1])))
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(strata.size))
    ends = np.append(starts[1:], order.size)
    picked = [rng.permutation(order[a:b])[:per_stratum] for a, b in zip(starts, ends)]
    rows = np.sort(np.concatenate(picked))
    return rows, (f"stratified: {rows.size} of {data.size} inputs, up to {per_stratum} per target value "
                  f"({strata.size} values), drawn with seed {seed}")


def yield_inputs(description: CircuitDescription, data: Dataset, limit: int, seed: int) -> YieldInputs:
    rows, sample = select_rows(data, limit, seed)
    digits = group_sums_to_digits(data.numerators[rows], description.servers, description.group)
    return YieldInputs(data, rows, _server_fields(description, digits), digits, sample)


def _server_fields(description, digits: np.ndarray) -> np.ndarray:
    """Server digits (servers, B, D) → float32 west fields (B, channels), digit d sent as field d."""
    fields = np.zeros((digits.shape[1], description.servers * description.digits), dtype=np.float32)
    fields[:, description.server_input_channels().ravel()] = digits.transpose(1, 0, 2).reshape(digits.shape[1], -1)
    return fields


def cascade_yield_inputs(description: CascadeDescription, samples: int, seed: int) -> YieldInputs:
    """A stratified sample of the cascade's server vectors: every level-1 input at every group position.

    The cascade's own dataset (every N²-server vector) cannot be enumerated; the sample is the one
    ``optinc simulate`` checks end to end (:func:`~optinc_pdk.simulate.cascade.stratified_group_inputs`),
    with the exact ⌊mean⌋ of each vector's servers as the target. ``samples`` 0: each level-1 input once per position.
    """
    per, level1 = description.per_optinc, description.level1.scenario
    n_inputs = plain_dataset(level1.bits, per, level1.onn_inputs).size
    samples = samples or n_inputs
    digits = cascade_server_digits(description, stratified_group_inputs(n_inputs, per, samples, seed))
    sums = digits.sum(axis=0, dtype=np.int64)  # (B, D) per-digit sums over every server
    exact = (sums @ (PAM4_LEVELS ** np.arange(description.digits))) // description.servers
    codes = (exact[:, None] >> (2 * np.arange(description.digits))) & (PAM4_LEVELS - 1)
    data = Dataset(f"{description.name} (sample)", sums.astype(np.int32), description.servers, codes.astype(np.uint8),
                   np.ones(description.digits), 1)
    sample = (f"stratified: {samples} vectors of {description.servers} servers, each of the {n_inputs} level-1 inputs "
              f"at every group position {samples // n_inputs}x or more (seed {seed})")
    return YieldInputs(data, np.arange(samples), _server_fields(description, digits), digits, sample)


def decision_margin(levels: np.ndarray, codes: np.ndarray, data: Dataset) -> np.ndarray:
    """Signed distance (levels) of each raw output to the nearer edge of its target's decision interval.

    Positive: decided right with that much room; negative: decided wrong. The lowest and highest
    levels' intervals are open outward (the receiver clips), so only their inner edge counts.
    """
    step = data.output_step
    low = np.where(codes == 0, np.inf, levels - (codes - 0.5) * step)
    high = np.where(codes == data.top_codes, np.inf, (codes + 0.5) * step - levels)
    return np.minimum(low, high)


@dataclass
class ChipOutcomes:
    """Per-chip results of chips ``0 … n−1`` (rows of chips not simulated here stay zero) and summed histograms."""

    correct: np.ndarray  # (n,) int64 inputs with every decision right at every receiver
    min_margin: np.ndarray  # (n,) float64
    p1_margin: np.ndarray  # (n,) float64
    error_histogram: np.ndarray  # (2·max_error + 1,) int64: decoded − exact average, over wrong (input, server)
    wrong_per_output: np.ndarray  # (digits,) int64: (chip, input) pairs with that digit wrong at some receiver

    @classmethod
    def empty(cls, chips: int, digits: int) -> ChipOutcomes:
        bins = 2 * (PAM4_LEVELS**digits - 1) + 1
        return cls(np.zeros(chips, np.int64), np.zeros(chips), np.zeros(chips), np.zeros(bins, np.int64),
                   np.zeros(digits, np.int64))

    def arrays(self) -> list[np.ndarray]:
        return [self.correct, self.min_margin, self.p1_margin, self.error_histogram, self.wrong_per_output]


def record_chip(out: ChipOutcomes, chip: int, levels: np.ndarray, inputs: YieldInputs) -> None:
    """Decide one chip's received levels (B, servers·digits) and add its results to ``out``."""
    data = inputs.data
    codes = inputs.codes[:, None, :]
    levels = levels.reshape(levels.shape[0], -1, data.n_outputs).astype(np.float64)
    decided = data.decide(levels)  # the receiver rule of OpticalChain.decide: nearest level, clipped
    wrong = decided != codes
    out.correct[chip] = int(np.count_nonzero(~wrong.any(axis=(1, 2))))
    margin = decision_margin(levels, codes, data)
    out.min_margin[chip] = float(margin.min())
    out.p1_margin[chip] = float(np.percentile(margin, 1))
    out.wrong_per_output += wrong.any(axis=1).sum(axis=0)
    bad = wrong.any(axis=2)
    if bad.any():
        weights = PAM4_LEVELS ** np.arange(data.n_outputs)
        delta = np.rint(((decided - codes) * data.output_step)[bad] @ weights).astype(np.int64)
        out.error_histogram += np.bincount(delta + (out.error_histogram.size // 2), minlength=out.error_histogram.size)


def simulate_chips(description: CircuitDescription, sites: ErrorSites, model: ErrorModel, inputs: YieldInputs,
                   seed: int, chips: Iterable[int], out: ChipOutcomes,
                   progress: Callable[[int], None] | None = None, dtype=np.float32) -> None:
    """Sample, compile, propagate and decide each listed chip, in batches of CHIP_BATCH chips."""
    chips = np.asarray(list(chips), dtype=np.int64)
    for start in range(0, chips.size, CHIP_BATCH):
        batch = chips[start : start + CHIP_BATCH]
        leaves = sites.leaf_matrices(model, sites.draw(seed, batch))
        for j, chip in enumerate(batch):
            path = chip_path(description, {name: matrices[j] for name, matrices in leaves.items()}, dtype)
            levels = path.levels(inputs.fields)
            if model.sigma_detector:
                noise = detector_generator(seed, int(chip)).standard_normal(levels.shape, dtype=np.float32)
                levels += (np.float32(model.sigma_detector) * noise).astype(levels.dtype)
            record_chip(out, int(chip), levels, inputs)
        if progress is not None:
            progress(int(batch.size))


def ideal_check(description: CircuitDescription, inputs: YieldInputs) -> dict:
    """The fused path on the ideal chip against the complex128 simulator (OpticalChain.decide); picks the precision.

    float32 where its decisions equal the simulator's on every input checked, else float64 (b16n4's
    levels need it). Also the design's own decision margin (from the complex128 levels): the smallest
    and the 1st percentile distance of a raw output to a decision threshold, in levels.
    """
    chain = compile_chain(description)
    reference, _ = chain.decide(inputs.digits)  # (servers, B, digits) decided levels
    reference_codes = np.rint(reference / inputs.data.output_step).astype(np.int64).transpose(1, 0, 2)
    levels = chain.received_levels(chain.run_fields(inputs.fields.astype(np.float64))).transpose(1, 0, 2)
    report = {"accuracy": float(np.mean(np.all(reference_codes == inputs.codes[:, None, :], axis=(1, 2))))}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        fused = chip_path(description, dtype=dtype).levels(inputs.fields).reshape(levels.shape)
        report[f"{name}_decisions_differing_from_complex128"] = int(np.count_nonzero(
            inputs.data.decide(fused.astype(np.float64)) != reference_codes))
        report[f"max_level_difference_{name}"] = float(np.abs(fused - levels).max())
        if report[f"{name}_decisions_differing_from_complex128"] == 0:
            break
    report["precision"] = name
    report["decisions_differing_from_complex128"] = report[f"{name}_decisions_differing_from_complex128"]
    margin = decision_margin(levels, inputs.codes[:, None, :], inputs.data)
    report["margin_min"], report["margin_p1"] = float(margin.min()), float(np.percentile(margin, 1))
    return report


def error_table(histogram: np.ndarray) -> list[dict]:
    """Table II format: each error value of the decoded average with its count and share of all errors."""
    offset = histogram.size // 2
    values = np.flatnonzero(histogram)
    total = int(histogram.sum())
    rows = [{"error": int(v - offset), "count": int(histogram[v]), "ratio": int(histogram[v]) / total} for v in values]
    return sorted(rows, key=lambda row: (-row["count"], abs(row["error"])))


def summarise(outcomes: ChipOutcomes, inputs: YieldInputs, model: ErrorModel, seed: int) -> dict:
    accuracy = outcomes.correct / inputs.size
    chips = accuracy.size
    return {
        "error_model": model.to_dict(),
        "chips": chips,
        "seed": seed,
        "yield": float(np.mean(outcomes.correct == inputs.size)),
        "chips_all_correct": int(np.count_nonzero(outcomes.correct == inputs.size)),
        "accuracy": {
            "min": float(accuracy.min()), "p1": float(np.percentile(accuracy, 1)), "p5": float(np.percentile(accuracy, 5)),
            "median": float(np.median(accuracy)), "mean": float(accuracy.mean()), "max": float(accuracy.max()),
        },
        "margin": {"worst_chip_min": float(outcomes.min_margin.min()), "median_chip_min": float(np.median(outcomes.min_margin)),
                   "median_chip_p1": float(np.median(outcomes.p1_margin))},
        "error_values": error_table(outcomes.error_histogram),
        "wrong_per_output": outcomes.wrong_per_output.tolist(),
        "per_chip_accuracy": accuracy.tolist(),
        "per_chip_min_margin": outcomes.min_margin.tolist(),
    }


def run_yield(description: CircuitDescription, inputs: YieldInputs, model: ErrorModel, chips: int, seed: int,
              sites: ErrorSites | None = None, progress: Callable[[int], None] | None = None,
              precision: str = "float32") -> dict:
    """Yield of ``chips`` sampled chips, sharded over torchrun ranks when there are any (same result either way)."""
    rank, world = rank_and_world()
    sites = sites or ErrorSites(description)
    outcomes = ChipOutcomes.empty(chips, inputs.data.n_outputs)
    simulate_chips(description, sites, model, inputs, seed, my_chips(chips, rank, world), outcomes, progress,
                   np.dtype(precision).type)
    outcomes = ChipOutcomes(*sum_over_ranks(outcomes.arrays(), world))
    report = summarise(outcomes, inputs, model, seed)
    report["ranks"] = world
    return report
