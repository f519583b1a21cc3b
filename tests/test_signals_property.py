"""Signal math over every group size 2–8 (issue 31, point 5), not only the 4 servers of the shipped cascade.

With 4 servers per group every value is a multiple of 1/16, exact in binary floats, so a float
slip cannot show. With 3, 5, 6 or 7 the level-2 mean is a multiple of 1/N² that floats cannot
hold: `cascade_average` rounds to that grid before its floor (the "float guard"); without it
about 0.3 % of 3×3 samples floor one unit low. The reference side is integer arithmetic only.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from optinc_pdk.core import signals

ONN_INPUTS = 4
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
GROUP_SIZES = st.integers(2, 8)
BITS = st.sampled_from([8, 16])


def gradients(servers: int, bits: int, samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 2**bits, size=(servers, samples), dtype=np.int64)
    g[:, 0], g[:, 1] = 0, 2**bits - 1  # the corners: no carry, every carry
    return g


@pytest.mark.parametrize("groups", range(2, 9))
@pytest.mark.parametrize("per_group", range(2, 9))
def test_cascade_with_kept_decimal_is_the_floor_of_the_global_mean(per_group, groups):
    for bits in (8, 16):
        g = gradients(per_group * groups, bits, 2000, seed=100 * per_group + groups + bits)
        exact = g.sum(axis=0) // g.shape[0]  # integers: no float on this side
        np.testing.assert_array_equal(signals.cascade_average(g, per_group, bits, keep_decimal=True), exact)


@PROPERTY
@given(per_group=GROUP_SIZES, groups=GROUP_SIZES, bits=BITS, seed=st.integers(0, 2**32 - 1))
@example(per_group=3, groups=3, bits=8, seed=0)
def test_eq9_discarding_can_only_lose_less_than_one_unit(per_group, groups, bits, seed):
    g = gradients(per_group * groups, bits, 200, seed)
    exact = signals.cascade_average(g, per_group, bits, keep_decimal=True)
    lossy = signals.cascade_average(g, per_group, bits, keep_decimal=False)
    np.testing.assert_array_equal(exact, g.sum(axis=0) // g.shape[0])
    # each level-1 floor loses < 1 in its mean, so the mean of the floors loses < 1: the result at most 1
    assert np.all(lossy <= exact) and np.all(exact - lossy <= 1)


@PROPERTY
@given(servers=GROUP_SIZES, bits=BITS, seed=st.integers(0, 2**32 - 1))
def test_level1_outputs_are_the_group_mean_digits_with_its_decimal_part(servers, bits, seed):
    g = gradients(servers, bits, 50, seed)
    out = signals.level1_outputs(g, bits)
    for s in range(g.shape[1]):
        mean = Fraction(int(g[:, s].sum()), servers)
        whole = mean.numerator // mean.denominator
        assert out[s, 1:].tolist() == [(whole // 4**k) % 4 for k in range(1, bits // 2)]
        assert out[s, 0] == pytest.approx(float(mean % 4), abs=1e-12)
        assert out[s, 0] - whole % 4 < 1  # the decimal part only, never a carry


@PROPERTY
@given(per_group=GROUP_SIZES, groups=GROUP_SIZES, bits=BITS, seed=st.integers(0, 2**32 - 1))
def test_level2_inputs_encode_the_global_mean(per_group, groups, bits, seed):
    g = gradients(per_group * groups, bits, 50, seed)
    level1 = np.stack([signals.level1_outputs(g[q * per_group:(q + 1) * per_group], bits) for q in range(groups)])
    x2 = signals.level2_inputs(level1, ONN_INPUTS)
    encoded = signals.inputs_to_average(x2, bits // (2 * ONN_INPUTS))
    np.testing.assert_allclose(encoded, g.sum(axis=0) / g.shape[0], rtol=1e-13, atol=0)


@PROPERTY
@given(servers=GROUP_SIZES, bits=BITS, seed=st.integers(0, 2**32 - 1))
def test_preprocessing_encodes_the_server_mean_and_the_target_is_its_floor(servers, bits, seed):
    g = gradients(servers, bits, 50, seed)
    digits = signals.pam4_encode(g, bits)
    x = signals.preprocess(digits, ONN_INPUTS)
    np.testing.assert_allclose(signals.inputs_to_average(x, bits // (2 * ONN_INPUTS)), g.sum(axis=0) / servers,
                               rtol=1e-13, atol=0)
    target = signals.average_digits(signals.group_sums(digits, ONN_INPUTS) @ (4 ** (np.arange(ONN_INPUTS) * (
        bits // (2 * ONN_INPUTS)))), servers, bits // 2)
    np.testing.assert_array_equal(signals.pam4_decode(target), signals.quantized_average(g))
