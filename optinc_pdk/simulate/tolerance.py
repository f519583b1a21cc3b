"""Tolerable phase error: the largest σ_phase at which a design still yields ≥ 99 % (issue 29, docs/yield.md).

The search is a bisection in log σ between ``low`` and ``high`` over the same sampled chips at every
σ (the chips' standard normals are shared: common random numbers, so the measured yield falls with σ
and the bisection is stable). A σ is accepted when at most ⌊(1 − target)·chips⌋ chips fail; the
chips of a σ are simulated in batches and the σ is rejected as soon as more have failed, so the
rejected half of the search costs a few batches. The answer is the largest accepted σ, with the
smallest rejected one beside it (the true threshold lies between, up to the sampling error of
``chips`` chips). A design that fails at ``low`` is reported as below it; one that passes at
``high``, as at least ``high``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.simulate.nonideal import ErrorModel, ErrorSites
from optinc_pdk.simulate.yield_ import CHIP_BATCH, ChipOutcomes, YieldInputs, simulate_chips

YIELD_TARGET = 0.99
MANUFACTURABLE_SIGMA = 0.001  # rad: a design that cannot tolerate this is marked not manufacturable (issue 29)


@dataclass
class Tolerance:
    sigma: float | None  # the largest accepted σ (None: even ``low`` fails)
    rejected: float | None  # the smallest rejected σ (None: even ``high`` passes)
    chips: int
    target: float
    tried: list[dict] = field(default_factory=list)  # every σ measured, in order: σ, chips simulated, failures

    @property
    def manufacturable(self) -> bool:
        return self.sigma is not None and self.sigma >= MANUFACTURABLE_SIGMA

    def to_dict(self) -> dict:
        return {"tolerable_sigma_phase": self.sigma, "smallest_rejected_sigma_phase": self.rejected,
                "yield_target": self.target, "chips": self.chips, "manufacturable": self.manufacturable,
                "manufacturable_means": f"tolerable σ_phase ≥ {MANUFACTURABLE_SIGMA} rad", "tried": self.tried}


def passes(description: CircuitDescription, sites: ErrorSites, model: ErrorModel, inputs: YieldInputs, chips: int,
           seed: int, target: float, dtype=np.float32) -> dict:
    """Whether ≥ ``target`` of the chips decide every input right; stops once too many have failed."""
    allowed = math.floor((1.0 - target) * chips + 1e-9)
    outcomes = ChipOutcomes.empty(chips, inputs.data.n_outputs)
    failures = simulated = 0
    for start in range(0, chips, CHIP_BATCH):
        batch = range(start, min(start + CHIP_BATCH, chips))
        simulate_chips(description, sites, model, inputs, seed, batch, outcomes, dtype=dtype)
        simulated = batch.stop
        failures = int(np.count_nonzero(outcomes.correct[:simulated] < inputs.size))
        if failures > allowed:
            break
    return {"sigma_phase": model.sigma_phase, "chips_simulated": simulated, "failures": failures,
            "passed": failures <= allowed}


def tolerable_sigma(description: CircuitDescription, inputs: YieldInputs, model: ErrorModel, chips: int, seed: int,
                    low: float = 1e-6, high: float = 0.05, ratio: float = 1.25, target: float = YIELD_TARGET,
                    dtype=np.float32, progress: Callable[[dict], None] | None = None) -> Tolerance:
    """The tolerable σ_phase of one OptINC design (its other errors as in ``model``)."""
    sites = ErrorSites(description)

    def measure(sigma: float) -> dict:
        return passes(description, sites, model.with_sigma_phase(sigma), inputs, chips, seed, target, dtype)

    return bisect_tolerance(measure, chips, target, low, high, ratio, progress)


def bisect_tolerance(measure: Callable[[float], dict], chips: int, target: float = YIELD_TARGET, low: float = 1e-6,
                     high: float = 0.05, ratio: float = 1.25, progress: Callable[[dict], None] | None = None) -> Tolerance:
    """Bisect log σ until the accepted and rejected σ are within ``ratio``; ``measure(σ)`` says whether σ passes."""
    result = Tolerance(None, None, chips, target)

    def passed(sigma: float) -> bool:
        entry = measure(sigma)
        result.tried.append(entry)
        if progress is not None:
            progress(entry)
        return entry["passed"]

    if passed(high):
        result.sigma = high
        return result
    result.rejected = high
    if not passed(low):
        result.rejected = low
        return result
    result.sigma = low
    while result.rejected / result.sigma > ratio:
        middle = math.sqrt(result.sigma * result.rejected)
        if passed(middle):
            result.sigma = middle
        else:
            result.rejected = middle
    return result
