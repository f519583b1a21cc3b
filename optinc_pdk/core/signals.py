"""OptINC signal math (paper eq. 2, 3, 8–10; docs/conventions.md pins our reading).

Gradients are unsigned b-bit integers. PAM4 digits are LSB first: d_k = floor(g / 4^k) mod 4.
The OptINC's target is the digits of floor(mean over servers). The preprocessing averager turns
the N·b/2 server digits into M ONN inputs x_j = (1/N) Σ_i Σ_{t<G} 4^t d_{i, jG+t}, so that
(1/N) Σ_i g_i = Σ_j 4^{jG} x_j exactly.

All functions are vectorised over leading axes; the server axis is always axis 0.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.errors import OptincError
from optinc_pdk.spec.conventions import PAM4_LEVELS, group_size  # noqa: F401 (group_size: part of the signal API)


def _check_bits(bits: int) -> None:
    if bits <= 0 or bits % 2:
        raise OptincError(f"bits: must be a positive even number (got {bits})")


def pam4_encode(gradients: np.ndarray, bits: int) -> np.ndarray:
    """Eq. 2: unsigned ``bits``-bit integers -> PAM4 digits, new last axis of length bits/2, LSB first."""
    _check_bits(bits)
    g = np.asarray(gradients)
    if not np.issubdtype(g.dtype, np.integer):
        raise OptincError(f"gradients must be integers (got dtype {g.dtype})")
    g = g.astype(np.int64)
    if g.size and (g.min() < 0 or g.max() >= 2**bits):
        raise OptincError(f"gradients must lie in [0, 2^{bits}) (got {g.min()}..{g.max()})")
    shifts = 2 * np.arange(bits // 2, dtype=np.int64)
    return ((g[..., None] >> shifts) & 3).astype(np.uint8)


def pam4_decode(digits: np.ndarray) -> np.ndarray:
    """Inverse of eq. 2: digits (..., b/2), LSB first -> integers."""
    d = np.asarray(digits).astype(np.int64)
    weights = PAM4_LEVELS ** np.arange(d.shape[-1], dtype=np.int64)
    return d @ weights


def decide_levels(values: np.ndarray, step: float = 1.0, top: float = 3.0) -> np.ndarray:
    """Receiver decision: round to the nearest level on a grid of ``step``, clipped to [0, top]."""
    v = np.asarray(values, dtype=np.float64)
    return np.clip(np.rint(v / step) * step, 0.0, top)


def quantized_average(gradients: np.ndarray) -> np.ndarray:
    """Eq. 3 target: floor of the server mean (servers on axis 0); the decimal part is discarded."""
    g = np.asarray(gradients).astype(np.int64)
    return g.sum(axis=0) // g.shape[0]


def group_sums(digits: np.ndarray, onn_inputs: int) -> np.ndarray:
    """Σ over servers of each group's value Σ_t 4^t d_{jG+t}: integers, shape (..., M).

    ``digits`` has servers on axis 0 and digits on the last axis. Integer sums keep datasets exact;
    divide by N for the averager's optical output.
    """
    d = np.asarray(digits).astype(np.int64)
    n_digits = d.shape[-1]
    if n_digits % onn_inputs:
        raise OptincError(f"{n_digits} PAM4 digits cannot be grouped into M = {onn_inputs} inputs")
    g = n_digits // onn_inputs
    grouped = d.reshape(*d.shape[:-1], onn_inputs, g)
    values = grouped @ (PAM4_LEVELS ** np.arange(g, dtype=np.int64))
    return values.sum(axis=0)


def preprocess(digits: np.ndarray, onn_inputs: int) -> np.ndarray:
    """The preprocessing averager: server digits (servers, ..., b/2) -> ONN inputs x (..., M)."""
    n_servers = np.asarray(digits).shape[0]
    return group_sums(digits, onn_inputs) / n_servers


def inputs_to_average(x: np.ndarray, group: int) -> np.ndarray:
    """Σ_j 4^{jG} x_j: the exact server mean that the ONN inputs encode."""
    x = np.asarray(x, dtype=np.float64)
    return x @ (float(PAM4_LEVELS) ** (group * np.arange(x.shape[-1])))


def average_digits(total: np.ndarray, n_servers: int, n_digits: int) -> np.ndarray:
    """Digits of floor(total / N) for integer sums ``total``: the OptINC target."""
    avg = np.asarray(total, dtype=np.int64) // n_servers
    shifts = 2 * np.arange(n_digits, dtype=np.int64)
    return ((avg[..., None] >> shifts) & 3).astype(np.uint8)


# --- Cascade (Sec. III-C, eq. 8–10) --------------------------------------------------------


def level1_outputs(gradients: np.ndarray, bits: int) -> np.ndarray:
    """Eq. 10: a level-1 OptINC's outputs with the decimal part kept in the LSB output.

    ``gradients`` (servers, ...) of one group. Returns (..., b/2) floats: o_0 = (avg mod 4) on a
    1/N grid, o_k = floor(avg / 4^k) mod 4 for k >= 1, with avg the exact group mean.
    """
    g = np.asarray(gradients).astype(np.int64)
    n = g.shape[0]
    total = g.sum(axis=0)
    digits = average_digits(total, n, bits // 2).astype(np.float64)
    fraction = (total % n) / n  # the part floor() would discard
    digits[..., 0] += fraction
    return digits


def level1_outputs_discarding(gradients: np.ndarray, bits: int) -> np.ndarray:
    """Eq. 9's level-1: plain quantized-average digits, decimal part discarded."""
    g = np.asarray(gradients).astype(np.int64)
    return average_digits(g.sum(axis=0), g.shape[0], bits // 2).astype(np.float64)


def level2_inputs(level1: np.ndarray, onn_inputs: int) -> np.ndarray:
    """Average the level-1 outputs (optinc groups on axis 0, digits last) into level-2 ONN inputs."""
    o = np.asarray(level1, dtype=np.float64)
    n_groups, n_digits = o.shape[0], o.shape[-1]
    g = n_digits // onn_inputs
    grouped = o.reshape(*o.shape[:-1], onn_inputs, g)
    values = grouped @ (float(PAM4_LEVELS) ** np.arange(g))
    return values.sum(axis=0) / n_groups


def cascade_average(gradients: np.ndarray, servers_per_optinc: int, bits: int, keep_decimal: bool = True) -> np.ndarray:
    """The quantized average a two-level cascade delivers (servers on axis 0, grouped in order).

    keep_decimal=True is eq. 10 (equals the exact floor of the global mean); False is eq. 9.
    """
    g = np.asarray(gradients).astype(np.int64)
    groups = g.reshape(g.shape[0] // servers_per_optinc, servers_per_optinc, *g.shape[1:])
    level1 = level1_outputs if keep_decimal else level1_outputs_discarding
    outs = np.stack([level1(groups[q], bits) for q in range(groups.shape[0])])
    # level 2 averages the groups' values exactly; its ONN quantizes: floor of the value
    mean = (outs @ (float(PAM4_LEVELS) ** np.arange(bits // 2))).mean(axis=0)
    # the values are multiples of 1/N^2: round before floor to absorb float noise
    n2 = servers_per_optinc * groups.shape[0]
    return np.floor(np.rint(mean * n2) / n2).astype(np.int64)
