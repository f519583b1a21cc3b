"""Signal math (eq. 2, 3, 8-10, preprocessing) against brute force in plain Python integers.

The brute-force side never calls numpy formulas: digits by // and %, means as Fractions, so a
shared mistake in shifts, weights or axes cannot cancel out.
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np
import pytest

from optinc_pdk.core import signals
from optinc_pdk.errors import OptincError

ONN_INPUTS = 4  # M, as in every shipped scenario
SAMPLES = 60


# --- brute force -------------------------------------------------------------------------


def bf_digits(value: int, bits: int) -> list[int]:
    """PAM4 digits LSB first: d_k = floor(g / 4^k) mod 4."""
    return [(value // 4**k) % 4 for k in range(bits // 2)]


def bf_mean(values: list[int]) -> Fraction:
    return Fraction(sum(values), len(values))


def bf_group_value(digits: list[int], j: int, group: int) -> int:
    """Σ_{t<G} 4^t d_{jG+t}: the value input j carries for one server."""
    return sum(4**t * digits[j * group + t] for t in range(group))


def random_gradients(servers: int, bits: int, seed: int) -> np.ndarray:
    """(servers, SAMPLES) gradients; the first samples are the corners of the range."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 2**bits, size=(servers, SAMPLES), dtype=np.int64)
    g[:, 0] = 0
    g[:, 1] = 2**bits - 1
    g[:, 2] = rng.integers(0, 2, size=servers) * (2**bits - 1)  # mixed extremes: large carries
    return g


def columns(g: np.ndarray) -> list[list[int]]:
    """Per sample, the servers' gradients as Python ints."""
    return [[int(v) for v in g[:, s]] for s in range(g.shape[1])]


GRID = [(servers, bits) for servers in (4, 8, 16) for bits in (8, 16)]


# --- eq. 2: PAM4 ---------------------------------------------------------------------------


@pytest.mark.parametrize("servers,bits", GRID)
def test_pam4_encode_matches_brute_force_and_round_trips(servers, bits):
    g = random_gradients(servers, bits, seed=servers * 100 + bits)
    digits = signals.pam4_encode(g, bits)
    assert digits.shape == (servers, SAMPLES, bits // 2)
    for i in range(servers):
        for s in range(SAMPLES):
            assert digits[i, s].tolist() == bf_digits(int(g[i, s]), bits)
    assert np.array_equal(signals.pam4_decode(digits), g)


@pytest.mark.parametrize("bad", [[-1], [256], [1000]])
def test_pam4_encode_rejects_values_outside_the_bit_width(bad):
    with pytest.raises(OptincError, match="0, 2\\^8"):
        signals.pam4_encode(np.array(bad), 8)


def test_pam4_encode_rejects_floats_and_odd_widths():
    with pytest.raises(OptincError, match="integers"):
        signals.pam4_encode(np.array([1.0, 2.0]), 8)
    with pytest.raises(OptincError, match="even"):
        signals.pam4_encode(np.array([1, 2]), 7)


# --- eq. 3: quantized average --------------------------------------------------------------


@pytest.mark.parametrize("servers,bits", GRID)
def test_quantized_average_is_floor_of_mean(servers, bits):
    g = random_gradients(servers, bits, seed=servers * 100 + bits + 1)
    got = signals.quantized_average(g)
    expected = [floor(bf_mean(col)) for col in columns(g)]
    assert got.tolist() == expected
    # the OptINC's target digits are the digits of that floor
    target = signals.average_digits(g.sum(axis=0), servers, bits // 2)
    assert [row.tolist() for row in target] == [bf_digits(v, bits) for v in expected]


def test_quantized_average_discards_the_decimal_part():
    # mean 2.75 -> 2 (floor, not round)
    assert signals.quantized_average(np.array([[3], [3], [3], [2]])).tolist() == [2]


# --- preprocessing averager ----------------------------------------------------------------


@pytest.mark.parametrize("servers,bits", GRID)
def test_preprocess_inputs_encode_the_exact_mean(servers, bits):
    group = bits // (2 * ONN_INPUTS)
    g = random_gradients(servers, bits, seed=servers * 100 + bits + 2)
    digits = signals.pam4_encode(g, bits)
    sums = signals.group_sums(digits, ONN_INPUTS)
    x = signals.preprocess(digits, ONN_INPUTS)
    assert sums.shape == x.shape == (SAMPLES, ONN_INPUTS)
    assert signals.group_size(bits, ONN_INPUTS) == group
    for s, col in enumerate(columns(g)):
        server_digits = [bf_digits(v, bits) for v in col]
        expected_sums = [sum(bf_group_value(d, j, group) for d in server_digits) for j in range(ONN_INPUTS)]
        assert sums[s].tolist() == expected_sums
        # Σ_j 4^{jG} x_j = (1/N) Σ_i g_i, exactly in rationals
        encoded = sum(Fraction(4 ** (j * group)) * Fraction(expected_sums[j], servers) for j in range(ONN_INPUTS))
        assert encoded == bf_mean(col)
        # the float inputs the ONN sees carry the same mean (to float precision)
        assert x[s].tolist() == pytest.approx([v / servers for v in expected_sums], rel=0, abs=1e-12)
        assert signals.inputs_to_average(x[s], group) == pytest.approx(float(bf_mean(col)), rel=1e-12)


def test_group_size_rejects_digits_not_divisible_by_inputs():
    with pytest.raises(OptincError, match="M = 4"):
        signals.group_size(10, 4)


# --- cascade (eq. 8-10) --------------------------------------------------------------------


def bf_level1(group_gradients: list[int], bits: int) -> list[Fraction]:
    """Eq. 10: digits of the group mean, the LSB keeping the decimal part (avg mod 4)."""
    avg = bf_mean(group_gradients)
    whole = floor(avg)
    outputs = [Fraction((whole // 4**k) % 4) for k in range(bits // 2)]
    outputs[0] += avg - whole
    return outputs


PER_OPTINC = 4
CASCADE_SERVERS = PER_OPTINC * PER_OPTINC


@pytest.mark.parametrize("bits", [8, 16])
def test_level1_outputs_keep_the_decimal_part(bits):
    g = random_gradients(PER_OPTINC, bits, seed=bits + 3)
    out = signals.level1_outputs(g, bits)
    discarding = signals.level1_outputs_discarding(g, bits)
    for s, col in enumerate(columns(g)):
        expected = bf_level1(col, bits)
        assert [Fraction(v) for v in out[s]] == expected  # quarter-steps are exact in binary floats
        assert expected[0] == bf_mean(col) % 4
        assert discarding[s].tolist() == bf_digits(floor(bf_mean(col)), bits)


@pytest.mark.parametrize("bits", [8, 16])
def test_cascade_with_kept_decimal_gives_floor_of_global_mean(bits):
    g = random_gradients(CASCADE_SERVERS, bits, seed=bits + 4)
    group = bits // (2 * ONN_INPUTS)
    level1 = np.stack([signals.level1_outputs(g[q * PER_OPTINC:(q + 1) * PER_OPTINC], bits) for q in range(PER_OPTINC)])
    x2 = signals.level2_inputs(level1, ONN_INPUTS)
    delivered = signals.cascade_average(g, PER_OPTINC, bits, keep_decimal=True)
    for s, col in enumerate(columns(g)):
        mean = bf_mean(col)
        # level-2 inputs encode the exact global mean (values on a 1/16 grid: exact in floats)
        encoded = sum(Fraction(4 ** (j * group)) * Fraction(x2[s, j]) for j in range(ONN_INPUTS))
        assert encoded == mean
        assert delivered[s] == floor(mean)


def test_cascade_discarding_decimals_loses_a_unit_eq9():
    # group 0 averages 1.75, groups 1-3 average 0.75: the global mean is exactly 1, but eq. 9's
    # level 1 keeps floors 1, 0, 0, 0 whose mean 0.25 floors to 0.
    g = np.array([2, 2, 2, 1] + [1, 1, 1, 0] * 3, dtype=np.int64)[:, None]
    assert floor(bf_mean(g[:, 0].tolist())) == 1
    assert signals.cascade_average(g, PER_OPTINC, 8, keep_decimal=True).tolist() == [1]
    assert signals.cascade_average(g, PER_OPTINC, 8, keep_decimal=False).tolist() == [0]


@pytest.mark.parametrize("bits", [8, 16])
def test_cascade_discarding_never_exceeds_and_sometimes_misses_the_floor(bits):
    g = random_gradients(CASCADE_SERVERS, bits, seed=bits + 5)
    exact = signals.cascade_average(g, PER_OPTINC, bits, keep_decimal=True)
    lossy = signals.cascade_average(g, PER_OPTINC, bits, keep_decimal=False)
    expected = [floor(bf_mean(col)) for col in columns(g)]
    assert exact.tolist() == expected
    # eq. 9 floors twice, so it can only lose: at most one unit per level-1 floor (< 1 in the mean)
    assert np.all(lossy <= exact) and np.all(exact - lossy <= 1)
    assert np.any(lossy < exact)


# --- receiver decision ---------------------------------------------------------------------


def test_decide_levels_rounds_to_nearest_and_clips():
    values = np.array([-0.7, 0.49, 0.51, 2.2, 3.6, 9.0])
    assert signals.decide_levels(values).tolist() == [0.0, 0.0, 1.0, 2.0, 3.0, 3.0]
    # a kept-decimal LSB on a quarter grid, top 3.75
    assert signals.decide_levels(np.array([1.13, 3.9]), step=0.25, top=3.75).tolist() == [1.25, 3.75]
