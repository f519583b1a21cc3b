"""The shipped ONN's decisions as a lookup table over the servers' group sums.

An OptINC's ONN sees only the averager's outputs x_j = S_j / N, where S_j is the server sum of
group j's value (docs/conventions.md, Preprocessing). So the decoded average of one element is a
function of the M integer sums S_j, each in [0, (4^G − 1)·N]: tabulating the ONN's decided,
decoded output once over every combination gives, per element, exactly what the network decides.
In DDP the S_j are one integer all-reduce of the group values (M numbers per element).
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.errors import OptincError

MAX_TABLE = 2_000_000  # b8n4: 28 561 entries, b8n8: 390 625; b16n4's 13.8 M would take minutes per rank


def group_radix(bits: int, servers: int, onn_inputs: int) -> int:
    """How many values each group sum S_j takes: (4^G − 1)·N + 1."""
    return (4 ** (bits // (2 * onn_inputs)) - 1) * servers + 1


def decision_table(scenario_name: str, weights_path: str | None = None) -> np.ndarray:
    """Decoded average (int64) for every combination of group sums, index Σ_j S_j · radix^j."""
    from optinc_pdk.core.signals import decide_levels
    from optinc_pdk.core.weights import load_for_scenario

    scenario = _single_optinc(scenario_name, "network")
    m, n = scenario.onn_inputs, scenario.servers
    radix = group_radix(scenario.bits, n, m)
    sums = _all_sums(radix, m)
    weights = load_for_scenario(scenario, weights_path)
    digits = decide_levels(weights.forward(sums / n))  # (combinations, b/2), PAM4 levels, LSB first
    return (digits.astype(np.int64) * 4 ** np.arange(digits.shape[1], dtype=np.int64)).sum(axis=1)


def _all_sums(radix: int, m: int) -> np.ndarray:
    """Every combination of M sums, row r holding the digits of r in base ``radix`` (S_0 first)."""
    index = np.arange(radix**m, dtype=np.int64)
    return np.stack([(index // radix**j) % radix for j in range(m)], axis=1).astype(np.float64)


def exact_table(bits: int, servers: int, onn_inputs: int) -> np.ndarray:
    """What a perfect network decides: floor(Σ_j 4^{jG} S_j / N), for checking ``decision_table``."""
    radix = group_radix(bits, servers, onn_inputs)
    g = bits // (2 * onn_inputs)
    sums = _all_sums(radix, onn_inputs).astype(np.int64)
    return (sums * 4 ** (g * np.arange(onn_inputs, dtype=np.int64))).sum(axis=1) // servers


def optics_table(scenario_name: str, weights_path: str | None = None) -> np.ndarray:
    """What every server's receivers decode through the simulated optics (S-matrix chain of the
    built circuit, docs/conventions.md), for every combination of group sums: (servers, combinations).

    The averager is linear, so one set of server digits with the right sums
    (``simulate.chain.group_sums_to_digits``) stands for every set with those sums."""
    from optinc_pdk.circuit.builder import build_description
    from optinc_pdk.core.signals import pam4_decode
    from optinc_pdk.core.weights import load_for_scenario
    from optinc_pdk.simulate.chain import compile_chain, group_sums_to_digits

    scenario = _single_optinc(scenario_name, "optics")
    m, n = scenario.onn_inputs, scenario.servers
    radix = group_radix(scenario.bits, n, m)
    chain = compile_chain(build_description(scenario, load_for_scenario(scenario, weights_path)))
    digits = group_sums_to_digits(_all_sums(radix, m).astype(np.int64), n, scenario.group_size)
    decided, _ = chain.decide(digits)
    return pam4_decode(decided)


def _single_optinc(scenario_name: str, mode: str):
    """The scenario, refused in one line when it is a cascade or its table would be too big."""
    from optinc_pdk.spec.scenario import load_scenario

    scenario = load_scenario(scenario_name)
    if scenario.cascade:
        raise OptincError(f"{scenario_name}: mode '{mode}' takes a single OptINC scenario; use mode 'exact' for a cascade")
    entries = group_radix(scenario.bits, scenario.servers, scenario.onn_inputs) ** scenario.onn_inputs
    if entries > MAX_TABLE:
        raise OptincError(f"{scenario_name}: mode '{mode}' tabulates {entries} inputs (limit {MAX_TABLE}); use mode 'exact'")
    return scenario
