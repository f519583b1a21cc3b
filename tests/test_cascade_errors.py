"""Eq. 9 (decimal part discarded in level 1) against brute force, and the printed count."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction

from optinc_pdk.analysis.cascade_rounding import eq9_failures


def test_exact_count_matches_brute_force_on_a_small_cascade():
    # 2 level-1 OptINCs of 2 servers, 4-bit gradients: all 16^4 gradient tuples
    wrong, sizes = 0, {}
    for g in itertools.product(range(16), repeat=4):
        sums = [g[0] + g[1], g[2] + g[3]]
        exact = sum(sums) // 4
        eq9 = sum(s // 2 for s in sums) // 2
        if exact != eq9:
            wrong += 1
            sizes[exact - eq9] = sizes.get(exact - eq9, 0) + 1
    result = eq9_failures(2, 2, 4)
    assert (result.total, result.wrong, result.error_sizes) == (16**4, wrong, sizes)


def test_sixteen_server_cascade_fails_on_28_125_percent(run_cli):
    code, out, err = run_cli(["cascade-errors", "--json"])
    assert code == 0, err
    by_space = {row["weighting"]: row for row in json.loads(out)}
    gradients = by_space["server gradients"]
    assert gradients["total"] == 256**16
    assert Fraction(gradients["wrong"], gradients["total"]) == Fraction(9, 32)
    assert set(gradients["error_sizes"]) == {"1"}  # eq. 9 only ever under-estimates, by one
