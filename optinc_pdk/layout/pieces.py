"""Straights cut at crossing cells, and the arithmetic runs that draw them as arrays (numpy only).

A routed straight that crosses others stops short of each crossing cell, so it is drawn as the
pieces between them. b8n8 has 301 958 crossings: one ``Shapes.insert`` per piece was 5.3 of its
13.2 s of drawing and b8n16_full's GDS grew from 3.8 MB to 93 MB. Crossings along one track sit at
a regular pitch, so the pieces between them are equal boxes at a regular pitch too: the drawing finds
those progressions (``grouped_progressions``), places one piece cell per run as an array record, and
inserts the rest in bulk. Everything here is vectorised over all pieces of a wires cell.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.errors import OptincError

_TICK = 1e4  # lines and crossings are matched on a 0.1 nm grid
_SPAN = 1 << 36  # > the largest coordinate in ticks (2.5 m = 2.5e10): one band of sort keys per line
_EPS = 1e-6


def cut(lines: np.ndarray, centres: np.ndarray, half: float) -> np.ndarray:
    """The pieces of straights left between crossing cells of half-length ``half``.

    ``lines`` (n, 3): fixed coordinate, lo, hi of each straight; ``centres`` (m, 2): fixed coordinate and
    position along the line of each crossing. A crossing belongs to a straight when it lies on the same
    line strictly inside (lo, hi). Returns (k, 3): fixed coordinate, start, end of each piece longer than
    1 pm, in line order. A crossing that does not fit on its straight (overlapping the next one or an
    end) is an error naming it.
    """
    if lines.size == 0:
        return np.zeros((0, 3))
    line_key = np.rint(lines[:, 0] * _TICK).astype(np.int64)
    keys = np.unique(np.rint(centres[:, 0] * _TICK).astype(np.int64))
    band = np.searchsorted(keys, np.rint(centres[:, 0] * _TICK).astype(np.int64))
    sort_key = band * _SPAN + np.rint(centres[:, 1] * _TICK).astype(np.int64) + _SPAN // 2
    order = np.argsort(sort_key, kind="stable")
    sort_key, along = sort_key[order], centres[order, 1]
    line_band = np.minimum(np.searchsorted(keys, line_key), max(keys.size - 1, 0))
    on = keys[line_band] == line_key if keys.size else np.zeros(line_key.size, bool)
    base = line_band * _SPAN + _SPAN // 2
    first = np.searchsorted(sort_key, base + np.rint(lines[:, 1] * _TICK).astype(np.int64), side="right")
    last = np.searchsorted(sort_key, base + np.rint(lines[:, 2] * _TICK).astype(np.int64), side="left")
    inside = np.where(on, np.maximum(last - first, 0), 0)
    return _between(lines, along, first, inside, half)


def _between(lines: np.ndarray, along: np.ndarray, first: np.ndarray, inside: np.ndarray, half: float) -> np.ndarray:
    """Per line, the gaps around its ``inside`` crossings ``along[first:first + inside]``."""
    line = np.repeat(np.arange(lines.shape[0]), inside + 1)
    j = np.arange(line.size) - np.repeat(np.cumsum(inside + 1) - (inside + 1), inside + 1)  # gap index in its line
    k = first[line] + j  # the crossing ending gap j (the one after it starts gap j + 1)
    last_gap = j == inside[line]
    along = np.append(along, 0.0)  # a spare at -1 and m: both sides of np.where are evaluated
    start = np.where(j == 0, lines[line, 1], along[k - 1] + half)
    end = np.where(last_gap, lines[line, 2], along[k] - half)
    bad = np.flatnonzero(end < start - _EPS)
    if bad.size:
        i = bad[0]
        centre = start[i] - half if last_gap[i] else end[i] + half
        fixed, lo, hi = lines[line[i]].tolist()
        raise OptincError(f"router: the crossing at {centre:.3f} on the straight at {fixed:.3f} from {lo:.3f} to {hi:.3f} "
                          f"does not fit on it (crossing_length {2 * half} µm): the channel's tracks are too close")
    keep = end > start + _EPS
    return np.stack([lines[line[keep], 0], start[keep], end[keep]], axis=1)


def to_grid(values: np.ndarray, dbu: float) -> np.ndarray:
    """µm to database units as KLayout rounds a ``DBox`` it inserts (half away from zero)."""
    scaled = np.asarray(values, dtype=np.float64) * (1.0 / dbu)
    return np.trunc(scaled + np.copysign(0.5, scaled)).astype(np.int64)


def grouped_progressions(groups: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cover items with arithmetic progressions of ``positions`` within equal rows of ``groups``.

    ``groups`` (n, g) int, ``positions`` (n,) int. Returns per run: the item of its first member, its count
    and its step (0 for a run of one): the runs ``plan.progressions`` finds greedily along each sorted group,
    vectorised (see ``_greedy``).
    """
    order = np.lexsort((positions, *groups.T[::-1]))
    g, p = groups[order], positions[order]
    n = p.size
    linked = np.zeros(n + 1, bool)  # item i is linked to item i + 1 (same group); a spare False at n
    linked[:n - 1] = np.all(g[1:] == g[:-1], axis=1)
    step = np.zeros(n, np.int64)
    step[:-1] = p[1:] - p[:-1]
    links = np.flatnonzero(linked)
    new = np.ones(links.size, bool)
    new[1:] = (links[1:] != links[:-1] + 1) | (step[links[1:]] != step[links[:-1]])
    first = links[new]  # first item of each stretch: maximal consecutive links of one step in one group
    k = np.diff(np.r_[np.flatnonzero(new), links.size])  # links per stretch
    free, group_last = _greedy(k, ~linked[np.maximum(first - 1, 0)] | (first == 0)), ~linked[first + k]
    isolated = np.flatnonzero(~linked[:n] & ~np.r_[False, linked[:n - 1]])
    tail = ~free & (k == 1) & group_last  # its last item is left alone at the group's end
    keep = free | (k >= 2)
    start = np.concatenate([first[keep] + ~free[keep], first[tail] + 1, isolated])
    count = np.concatenate([k[keep] + free[keep], np.ones(tail.sum() + isolated.size, np.int64)])
    steps = np.where(count > 1, step[np.minimum(start, n - 1)], 0)
    return order[start], count, steps


def _greedy(k: np.ndarray, group_first: np.ndarray) -> np.ndarray:
    """Whether the greedy walk starts a run at the first item of each stretch (``k`` links each).

    A run started at a stretch's first item takes the whole stretch, so the next stretch's first item is
    taken; a stretch whose first item is taken yields its other items (``k`` ≥ 2) and leaves the next one's
    first taken too, or, with one link, yields nothing and leaves the next one's first free. So the answer
    alternates along the stretches of one link after the last longer stretch (first: taken) or the group's
    start (first: free).
    """
    i = np.arange(k.size)
    last_long = np.r_[-1, np.maximum.accumulate(np.where(k >= 2, i, -1))[:-1]]
    start = np.maximum.accumulate(np.where(group_first, i, 0))
    return np.where(last_long >= start, (i - last_long) % 2 == 0, (i - start) % 2 == 0)
