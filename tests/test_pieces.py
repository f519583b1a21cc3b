"""Straights cut at crossing cells, and the progressions that draw the pieces as arrays (layout/pieces.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optinc_pdk.errors import OptincError
from optinc_pdk.layout.pieces import cut, grouped_progressions
from optinc_pdk.layout.plan import progressions


def _one_by_one(lines, centres, half):
    """Reference: each straight walked crossing by crossing."""
    out = []
    for c, lo, hi in lines.tolist():
        start = lo
        for t in sorted(t for k, t in centres.tolist() if k == c and lo < t < hi):
            if t - half > start + 1e-6:
                out.append((c, start, t - half))
            start = t + half
        if hi > start + 1e-6:
            out.append((c, start, hi))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20), st.integers(1, 20)), min_size=1, max_size=8),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), max_size=30, unique=True))
def test_cut_leaves_the_pieces_a_walk_along_each_straight_leaves(raw_lines, raw_centres):
    half = 0.4  # crossings at distinct integer positions never overlap one another
    lines = np.array([(c * 1.5, lo * 2.0, lo * 2.0 + n * 2.0) for c, lo, n in raw_lines], dtype=np.float64)
    centres = np.array([(c * 1.5, t + 0.5) for c, t in raw_centres], dtype=np.float64).reshape(-1, 2)
    # keep crossings that fit: not within `half` of a straight's end on their line
    fits = [all(not (c == k and (abs(t - lo) < half or abs(t - hi) < half)) for c, lo, hi in lines.tolist())
            for k, t in centres.tolist()]
    centres = centres[np.array(fits, bool)].reshape(-1, 2)
    assert cut(lines, centres, half).tolist() == [list(p) for p in _one_by_one(lines, centres, half)]


def test_a_crossing_overlapping_the_one_before_on_its_straight_is_refused_by_position():
    lines = np.array([[5.0, 0.0, 100.0]])
    with pytest.raises(OptincError, match=r"crossing at 12\.000 on the straight at 5\.000 from 0\.000 to 100\.000"):
        cut(lines, np.array([[5.0, 10.0], [5.0, 12.0]]), 1.5)
    with pytest.raises(OptincError, match="does not fit on it"):
        cut(lines, np.array([[5.0, 99.5]]), 1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(-30, 30)), min_size=1, max_size=40, unique=True))
def test_progressions_cover_every_item_once_each_run_in_one_group_at_one_step(items):
    groups = np.array([[g] for g, _ in items], dtype=np.int64)
    positions = np.array([p for _, p in items], dtype=np.int64)
    first, count, step = grouped_progressions(groups, positions)
    covered = []
    for i, n, s in zip(first.tolist(), count.tolist(), step.tolist()):
        assert (n == 1) == (s == 0)
        covered += [(groups[i, 0], positions[i] + k * s) for k in range(n)]
    assert sorted(covered) == sorted(items)


def test_equal_pieces_at_one_pitch_are_one_run():
    positions = np.array([0, 10, 20, 30, 35, 40, 45, 100], dtype=np.int64)
    first, count, step = grouped_progressions(np.zeros((8, 1), np.int64), positions)
    assert sorted(zip(positions[first].tolist(), count.tolist(), step.tolist())) == [(0, 4, 10), (35, 3, 5), (100, 1, 0)]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-40, 40), min_size=1, max_size=30, unique=True))
def test_progressions_are_the_greedy_ones_of_the_plan(values):
    values = sorted(values)
    first, count, step = grouped_progressions(np.zeros((len(values), 1), np.int64), np.array(values, np.int64))
    found = sorted((values[i], n, s if n > 1 else 1) for i, n, s in zip(first.tolist(), count.tolist(), step.tolist()))
    assert found == sorted(progressions(values))
