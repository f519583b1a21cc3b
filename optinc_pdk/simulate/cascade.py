"""`optinc simulate` for a two-level cascade: per-level layer checks, the level-1 analog link, end to end.

* **Layers**: each level's plain description (:mod:`optinc_pdk.circuit.cascade`) is compiled and
  every layer's optical matrix compared with its target, as for a basic OptINC.
* **Link**: every one of the level-1 inputs (28 561 for b8n4) runs through level 1's optics; the
  report says how many are decided correctly (all must be) and how many keep every analog output
  (no receiver) within ``cascade.link_tolerance``, level 1's training target. Level 2 was trained
  against level 1's actual errors, so the end-to-end check below is the acceptance test.
* **End to end**: a sample of 16-server gradient vectors runs through the whole cascade's optics
  and every server's decisions are compared with the exact ⌊mean of 16⌋ and with the ideal
  two-level MLP (float64: level-1 outputs averaged, unquantised, into level 2). The sample is
  stratified: group position q sees level-1 input ``perm_q[i mod K]`` (K = level-1 inputs), so a
  sample of c·K vectors shows every level-1 input c times at every position.
"""

from __future__ import annotations

import time

import numpy as np

from optinc_pdk.circuit.cascade import CascadeDescription
from optinc_pdk.core.datasets import exhaustive_dataset, plain_dataset
from optinc_pdk.core.signals import PAM4_LEVELS, decide_levels
from optinc_pdk.core.weights import OnnWeights
from optinc_pdk.simulate.chain import OpticalChain, compile_chain, group_sums_to_digits
from optinc_pdk.simulate.report import layer_errors, tolerance_summary


def stratified_group_inputs(n_inputs: int, groups: int, samples: int, seed: int) -> np.ndarray:
    """(samples, groups) indices into the level-1 input grid; each column cycles through a permutation."""
    rng = np.random.default_rng(seed)
    cycles = -(-samples // n_inputs)
    columns = [np.concatenate([rng.permutation(n_inputs) for _ in range(cycles)])[:samples] for _ in range(groups)]
    return np.stack(columns, axis=1)


def cascade_server_digits(description: CascadeDescription, group_index: np.ndarray) -> np.ndarray:
    """Server digits (N², B, b/2) whose level-1 group q has the level-1 input ``group_index[:, q]``."""
    per, s = description.per_optinc, description.level1.scenario
    grid = plain_dataset(s.bits, per, s.onn_inputs).numerators  # per-input digit sums of one group
    parts = [group_sums_to_digits(grid[group_index[:, q]], per, s.group) for q in range(per)]
    return np.concatenate(parts, axis=0)


def ideal_cascade(w1: OnnWeights, w2: OnnWeights, digits: np.ndarray, per: int) -> np.ndarray:
    """Decided codes (B, b/2) of the float64 two-level MLP for server digits (N², B, b/2), G = 1."""
    sums = digits.reshape(per, per, *digits.shape[1:]).sum(axis=1, dtype=np.int64)  # (groups, B, D)
    level1 = np.stack([w1.forward(sums[q] / per) for q in range(per)])  # analog, PAM4 levels
    return decide_levels(w2.forward(level1.mean(axis=0)), 1.0, PAM4_LEVELS - 1).astype(np.int64)


def link_check(chain1: OpticalChain, scenario) -> dict:
    """Level 1's analog outputs through its optics on every level-1 input, against the link tolerance."""
    data = exhaustive_dataset(scenario, 1)
    d = chain1.description
    digits = group_sums_to_digits(data.numerators, d.servers, d.group)
    worst = np.zeros(data.n_outputs)
    decided_ok = inside = 0
    for start in range(0, data.size, 8192):
        part = digits[:, start : start + 8192]
        levels = chain1.received_levels(chain1.run_fields(chain1.server_fields(part)))[0]  # one receiver
        window = slice(start, start + 8192)
        error = np.abs(levels - data.targets(window, dtype=np.float64))
        worst = np.maximum(worst, error.max(axis=0))
        decided_ok += int(data.correct(levels, window).sum())
        inside += int(data.within_tolerance(levels, window).sum())
    tolerance = data.output_tolerance
    return {
        "level1_inputs": data.size,
        "decided_correctly": decided_ok,
        "within_tolerance": inside,
        "max_abs_error": worst.tolist(),
        "tolerance": None if tolerance is None else tolerance.tolist(),
        "all_decided_correctly": bool(decided_ok == data.size),
        "all_within_tolerance": bool(inside == data.size),
    }


def end_to_end(chain: OpticalChain, w1: OnnWeights, w2: OnnWeights, samples: int, seed: int) -> dict:
    d: CascadeDescription = chain.description
    per = d.per_optinc
    n_inputs = plain_dataset(d.bits, per, d.onn_inputs).size
    index = stratified_group_inputs(n_inputs, per, samples, seed)
    digits = cascade_server_digits(d, index)
    values = (digits.astype(np.int64) << (2 * np.arange(d.digits))).sum(axis=2)  # (N², B) gradients
    exact = values.sum(axis=0) // d.servers
    exact_codes = (exact[:, None] >> (2 * np.arange(d.digits))) & 3
    decided, diagnostics = chain.decide(digits)
    model = ideal_cascade(w1, w2, digits, per)
    optical_ok = np.all(decided == exact_codes[None], axis=(0, 2))
    return {
        "samples": int(samples),
        "sample": f"stratified: every one of the {n_inputs} level-1 inputs at every group position "
                  f"{samples // n_inputs}x or more (seed {seed})" if samples >= n_inputs else f"random (seed {seed})",
        "servers": d.servers,
        "optical_correct": int(optical_ok.sum()),
        "optical_accuracy": float(optical_ok.mean()),
        "model_accuracy": float(np.all(model == exact_codes, axis=1).mean()),
        "decisions_differing_from_model": int(np.any(decided != model[None], axis=(0, 2)).sum()),
        "max_imag_level": diagnostics["max_imag_level"],
    }


def simulate_cascade(description: CascadeDescription, w1: OnnWeights, w2: OnnWeights, samples: int,
                     seed: int = 0) -> dict:
    start = time.perf_counter()
    chain = compile_chain(description)
    chain1, chain2 = compile_chain(description.level1), compile_chain(description.level2)
    compiled = time.perf_counter()
    levels = {"1": layer_errors(chain1, w1), "2": layer_errors(chain2, w2)}
    tolerance = tolerance_summary([row for rows in levels.values() for row in rows])
    link = link_check(chain1, description.scenario)
    result = end_to_end(chain, w1, w2, samples, seed)
    done = time.perf_counter()
    return {
        "scenario": description.scenario.name,
        "weights": {"level1": description.level1.weights_source, "level2": description.level2.weights_source},
        "weights_sha256": {"level1": description.level1.weights_digest, "level2": description.level2.weights_digest},
        "layers": levels,
        **tolerance,
        "link": link,
        "receiver_gain": description.receiver_gain,
        **result,
        "optical_equals_model": result["decisions_differing_from_model"] == 0,
        "seconds": {"compile": compiled - start, "end_to_end": done - compiled},
    }
