"""An OptINC all-reduce through the simulated optics.

``gradients`` is a (servers × elements) array of unsigned b-bit integers. Each element is one
use of the OptINC: every server sends its gradient's b/2 PAM4 digits (LSB first) as field
amplitudes, the optics average them, and every server's receivers decide b/2 digits, which
decode back to an integer. The result has the same shape: what each server decoded. The exact
answer is ⌊mean over servers⌋ (``signals.quantized_average``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optinc_pdk.core.signals import pam4_decode, pam4_encode, quantized_average
from optinc_pdk.errors import OptincError
from optinc_pdk.simulate.chain import OpticalChain


@dataclass(frozen=True)
class AllReduceCheck:
    elements: int
    mismatched_elements: int  # elements where at least one server decoded a wrong value
    mismatched_values: int  # (server, element) pairs that differ from the exact floor average
    max_abs_error: int

    def to_dict(self) -> dict:
        return {
            "elements": self.elements, "mismatched_elements": self.mismatched_elements,
            "mismatched_values": self.mismatched_values, "max_abs_error": self.max_abs_error,
        }


def check_gradients(gradients: np.ndarray, servers: int, bits: int, source: str = "gradients") -> np.ndarray:
    """Validate a (servers × elements) array of unsigned ``bits``-bit integers; return it as int64."""
    g = np.asarray(gradients)
    if g.ndim != 2:
        raise OptincError(f"{source}: expected a 2-D (servers × elements) array, got shape {g.shape}")
    if g.shape[0] != servers:
        raise OptincError(f"{source}: {g.shape[0]} rows but the OptINC serves {servers} servers (one row per server)")
    if g.dtype.kind not in "iu":  # bool, float, complex, datetime, text, records: nothing is converted
        raise OptincError(f"{source}: gradients must be integers (got dtype {g.dtype})")
    low, high = (int(g.min()), int(g.max())) if g.size else (0, 0)  # before the cast: uint64 must not wrap
    if low < 0 or high >= 2**bits:
        raise OptincError(f"{source}: gradients must lie in [0, 2^{bits}) (got {low}..{high})")
    return g.astype(np.int64)


def allreduce(chain: OpticalChain, gradients: np.ndarray, source: str = "gradients") -> np.ndarray:
    """What every server decodes: (servers × elements) int64."""
    d = chain.description
    g = check_gradients(gradients, d.servers, d.bits, source)
    decided, _ = chain.decide(pam4_encode(g, d.bits))  # (servers, elements, b/2)
    return pam4_decode(decided)


def compare(decoded: np.ndarray, gradients: np.ndarray) -> AllReduceCheck:
    exact = quantized_average(gradients)[None, :]
    wrong = decoded != exact
    return AllReduceCheck(
        int(gradients.shape[1]), int(np.any(wrong, axis=0).sum()), int(wrong.sum()),
        int(np.abs(decoded - exact).max(initial=0)),
    )


def optical_allreduce(scenario, gradients: np.ndarray, weights=None) -> np.ndarray:
    """One call: ``scenario`` (a Scenario or a shipped name), (servers × elements) gradients, optional
    OnnWeights (default: the shipped weights) → what every server decodes (servers × elements)."""
    from optinc_pdk.circuit.builder import build_description
    from optinc_pdk.core.weights import load_for_scenario
    from optinc_pdk.simulate.chain import compile_chain
    from optinc_pdk.spec.scenario import Scenario, load_scenario

    s = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    g = check_gradients(gradients, s.servers, s.bits)  # refuse bad input before the build
    w = weights if weights is not None else load_for_scenario(s)
    return allreduce(compile_chain(build_description(s, w)), g)
