"""Waveguide routing between two columns of a composite: one vertical track per moving net.

Every net runs west → east from a source port (x_src, ys) to a destination port on the channel's
east edge (x_end, yd). A net with yd = ys is one straight. Any other net is "Manhattan with arcs":
a straight at ys to its track, an S-bend of length 2·bend_radius centred on the track (two 90°
arcs of radius bend_radius joined by a vertical straight, since every |dy| exceeds 2·bend_radius
on the mode lattice), then a straight at yd to the east edge. Nets therefore cross only where a
vertical meets a horizontal, at 90° — the place for a waveguide crossing — never on a bend.

Track order (fewest crossings, no overlaps):

* upward nets turn top-first and downward nets bottom-first, so two nets that keep their order
  never cross; two nets whose order flips cross exactly once;
* a net that *starts* at the height where another *ends* must turn first, or its source
  straight would run along the other's destination straight. Such constraints can form cycles
  (two nets swapping places); a cycle is broken by a detour: one net drops to a free lane below
  the channel right away and climbs to its destination last;
* tracks are shared by nets whose vertical spans (plus a bend-sized margin) are disjoint, so a
  channel is as long as its deepest stack of overlapping nets, not its net count.

This is a vectorised router of our own (numpy, a Python loop over nets, never over MZIs):
gdsfactory's bundle router is far too slow for thousands of nets and does not cross nets.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from optinc_pdk.errors import OptincError
from optinc_pdk.spec.geometry import DeviceGeometry, arc_sbend

_EPS = 1e-6  # µm: coordinates are on a 1 nm grid


@dataclass(frozen=True)
class RouterRules:
    """Distances the router keeps, all derived from the device geometry (µm)."""

    radius: float  # bend radius: each S-bend is 2·radius long
    zone: float  # half-height of the band around a bend end that no other horizontal may enter
    track_pitch: float  # horizontal distance between adjacent vertical tracks
    lane_pitch: float  # vertical distance between detour lanes (below the channel)

    @classmethod
    def from_geometry(cls, g: DeviceGeometry) -> RouterRules:
        zone = g.bend_radius + g.wg_width
        rules = cls(g.bend_radius, zone, 2 * g.bend_radius + g.wg_width, g.mode_pitch)
        if g.mode_pitch / 2 < 2 * zone - _EPS:
            raise OptincError(
                f"device: mode_pitch={g.mode_pitch} is too small for the waveguide router: half a pitch must be "
                f">= 2*(bend_radius + wg_width) = {2 * zone}"
            )
        # a crossing cell sits where a track meets a horizontal: it must end before the nearest bend, which is
        # bend_radius + wg_width away along the horizontal and mode_pitch/2 - bend_radius along the track
        room = min(g.bend_radius + g.wg_width, g.mode_pitch / 2 - g.bend_radius)
        if g.crossing_length / 2 > room + _EPS:
            raise OptincError(f"device: crossing_length={g.crossing_length} does not fit between the router's bends: "
                              f"it must be <= {2 * room}")
        return rules


@dataclass(frozen=True)
class ChannelRoute:
    """Centre-line geometry of one routed channel; widths are applied when drawing."""

    length: float  # x distance from the channel start to its east edge (0: all nets straight)
    segments: np.ndarray  # (k, 3): x0, x1, y — horizontal straights
    bends: np.ndarray  # (m, 3): x0, y0, dy — S-bends from (x0, y0) to (x0 + 2·radius, y0 + dy)
    tracks: int
    detours: int
    crossings: int  # vertical-over-horizontal waveguide crossings
    crossing_xy: np.ndarray  # (crossings, 2): centre of each crossing (where a crossing cell goes)
    net_length: np.ndarray  # (n,) centre-line length of each net (µm), bends as drawn (quarter arcs + straight)
    net_bends: np.ndarray  # (n,) 90° arcs on each net (two per S-bend)
    net_crossings: np.ndarray  # (n,) crossings each net passes (every crossing counts on both of its nets)


def _order_nets(ys: np.ndarray, yd: np.ndarray, zone: float) -> list[tuple[int, int]]:
    """Turn order of the moving nets as (net, part): part 0 whole net, 1 detour first half, 2 second half."""
    n = ys.size
    up = yd > ys
    # preference: upward nets top-first, downward nets bottom-first; the two lists interleave freely
    # (an upward and a downward net with overlapping spans have swapped order, so cross once either way)
    priority = np.empty(n, dtype=np.int64)
    for mask, key in ((up, -ys), (~up, ys)):
        idx = np.flatnonzero(mask)
        priority[idx[np.argsort(key[idx], kind="stable")]] = np.arange(idx.size)
    # constraint a -> b (a turns first) when a starts within 2·zone of where b ends
    by_dest = np.argsort(yd, kind="stable")
    lo = np.searchsorted(yd[by_dest], ys - 2 * zone + _EPS, side="left")
    hi = np.searchsorted(yd[by_dest], ys + 2 * zone - _EPS, side="right")
    successors: list[list[int]] = [[] for _ in range(n)]
    indegree = np.zeros(n, dtype=np.int64)
    for a in np.flatnonzero(hi > lo):
        for b in by_dest[lo[a]:hi[a]].tolist():
            if b != a:
                successors[a].append(b)
                indegree[b] += 1
    ready = [(int(priority[i]), int(i)) for i in np.flatnonzero(indegree == 0)]
    heapq.heapify(ready)
    done = np.zeros(n, dtype=bool)
    detoured = np.zeros(n, dtype=bool)
    order: list[tuple[int, int]] = []

    def release(a: int) -> None:
        for b in successors[a]:
            indegree[b] -= 1
            if indegree[b] == 0:
                heapq.heappush(ready, (int(priority[b]), b))
        successors[a].clear()

    while len(order) < n + int(detoured.sum()):
        if ready:
            _, a = heapq.heappop(ready)
            done[a] = True
            order.append((a, 2 if detoured[a] else 0))
            release(a)
            continue
        # every waiting net waits on another: a cycle. A detoured net has no successors left, so
        # the cycle runs through a net not yet detoured; detour the most preferred such net.
        waiting = np.flatnonzero(~done & ~detoured)
        a = int(waiting[np.argmin(priority[waiting])])
        detoured[a] = True
        order.append((a, 1))  # its first half leaves the source height at once
        release(a)
    return order


def _assign_tracks(lo: np.ndarray, hi: np.ndarray, zone: float, rows: int = 32) -> np.ndarray:
    """Track of each piece (in turn order): one past every earlier piece whose span comes within 2·zone.

    Pieces go in blocks of ``rows``: the highest track near each piece among the earlier blocks is one
    array operation per block; only the pieces within a block are compared one by one (in plain Python, on
    at most ``rows`` entries): measured a third of the time of one array test per piece on 1 500 pieces.
    """
    n = lo.size
    tracks = np.zeros(n, dtype=np.int64)
    reach = hi + 2 * zone
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        near = (lo[None, :stop] < reach[start:stop, None]) & (lo[start:stop, None] < reach[None, :stop])
        highest = np.where(near[:, :start], tracks[None, :start], -1).max(axis=1, initial=-1).tolist()
        local = near[:, start:stop].tolist()
        block: list[int] = []
        for i in range(stop - start):
            top, row = highest[i], local[i]
            for j in range(i):
                if row[j] and block[j] > top:
                    top = block[j]
            block.append(top + 1)
        tracks[start:stop] = block
    return tracks


def _find_crossings(vx: np.ndarray, vlo: np.ndarray, vhi: np.ndarray, segments: np.ndarray) -> tuple[np.ndarray, ...]:
    """Verticals (x, lo, hi) against horizontal segments (x0, x1, y): strict interior intersections,
    as (vertical index, segment index) pairs."""
    found_v, found_s = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if vx.size and segments.size:
        x0, x1, y = segments[:, 0], segments[:, 1], segments[:, 2]
        for start in range(0, vx.size, 512):  # chunks bound the (verticals x segments) temporary
            sl = slice(start, start + 512)
            hit = ((x0[None, :] < vx[sl, None]) & (vx[sl, None] < x1[None, :])
                   & (vlo[sl, None] < y[None, :]) & (y[None, :] < vhi[sl, None]))
            v, seg = np.nonzero(hit)
            found_v.append(v + start)
            found_s.append(seg)
    return np.concatenate(found_v), np.concatenate(found_s)


def _bend_length(dx: float, dy: float) -> float:
    """Centre-line length of the drawn S-bend over dx: two arcs (and the straight between them)."""
    bend = arc_sbend(dx, dy)
    return dx if bend.angle == 0 else 2 * bend.radius * bend.angle + bend.straight


def _bend_lengths(dx: float, dy: np.ndarray) -> np.ndarray:
    """``_bend_length(dx, d)`` for every d of ``dy`` at once (``arc_sbend``'s three cases, vectorised)."""
    ady = np.abs(dy)
    out = np.where(ady == 0, dx, 2 * (dx / 2) * (math.pi / 2) + (ady - dx))
    gentle = np.flatnonzero((ady > 0) & (ady <= dx))
    a = ady[gentle]
    angle = np.array([2 * math.atan2(v, dx) for v in a.tolist()])  # libm's atan2, as arc_sbend: the same bits
    out[gentle] = 2 * ((dx * dx + a * a) / (4 * a)) * angle
    return out


class _RouteCache:
    """Routed channels by their inputs (``route_channel`` is a pure function): a cascade's five OptINCs, whose
    layers carry their own names and hence plans of their own, route the very same channels; so do the
    scenarios that share layers in ``optinc area`` over every scenario. Bounded by the bytes of the routes'
    arrays (the oldest entries go first): a long process or a million-MZI design keeps at most that alive."""

    def __init__(self, budget: int) -> None:
        self.budget, self.used = budget, 0
        self.entries: dict[tuple, tuple[ChannelRoute, int]] = {}

    def get(self, key: tuple) -> ChannelRoute | None:
        entry = self.entries.get(key)
        return None if entry is None else entry[0]

    def put(self, key: tuple, route: ChannelRoute) -> None:
        arrays = [value for value in vars(route).values() if isinstance(value, np.ndarray)]
        for array in arrays:
            array.flags.writeable = False  # shared by every caller from now on
        size = sum(a.nbytes for a in arrays) + sum(len(part) for part in key if isinstance(part, bytes))
        while self.entries and self.used + size > self.budget:
            self.used -= self.entries.pop(next(iter(self.entries)))[1]
        if size <= self.budget:
            self.entries[key] = route, size
            self.used += size


_ROUTES = _RouteCache(128 * 2**20)


def route_channel(x_src: np.ndarray, ys: np.ndarray, yd: np.ndarray, x_start: float, rules: RouterRules,
                  min_length: float) -> ChannelRoute:
    """Route nets from (x_src, ys) (x_src <= x_start) to a west-facing column whose ports are at ys → yd.

    The destination column starts at ``x_start + length``; ``length`` is 0 when every net is
    straight, else at least ``min_length`` (the geometry's stage gap) and long enough for the tracks.
    Sources must be distinct, and so must destinations (both at least 2·zone apart). Equal inputs give
    the one (read-only) route computed first.
    """
    x_src, ys, yd = (np.asarray(a, dtype=np.float64) for a in (x_src, ys, yd))
    key = (x_src.tobytes(), ys.tobytes(), yd.tobytes(), float(x_start), rules, float(min_length))
    route = _ROUTES.get(key)
    if route is None:
        route = _route(x_src, ys, yd, float(x_start), rules, float(min_length))
        _ROUTES.put(key, route)
    return route


def _route(x_src: np.ndarray, ys: np.ndarray, yd: np.ndarray, x_start: float, rules: RouterRules,
           min_length: float) -> ChannelRoute:
    r = rules.radius
    moving = np.flatnonzero(np.abs(yd - ys) > _EPS)
    if moving.size == 0:
        end = x_start
        segs = np.stack([x_src, np.full_like(x_src, end), ys], axis=1) if x_src.size else np.zeros((0, 3))
        kept = segs[:, 1] - segs[:, 0] > _EPS
        zeros = np.zeros(ys.size)
        return ChannelRoute(0.0, segs[kept], np.zeros((0, 3)), 0, 0, 0, np.zeros((0, 2)),
                            np.where(kept, x_start - x_src, 0.0), zeros, zeros)
    s, d = ys[moving], yd[moving]
    order = _order_nets(s, d, rules.zone)
    n_detours = sum(1 for _, part in order if part == 1)
    floor = min(ys.min(), yd.min())
    lane_of = {}
    for a, part in order:
        if part == 1:
            lane_of[a] = floor - (len(lane_of) + 1) * rules.lane_pitch
    net = np.array([a for a, _ in order], dtype=np.int64)
    part = np.array([p for _, p in order], dtype=np.int64)
    lane = np.array([lane_of.get(a, np.nan) for a in net.tolist()])
    y0 = np.where(part == 2, lane, s[net])
    y1 = np.where(part == 1, lane, d[net])
    tracks = _assign_tracks(np.minimum(y0, y1), np.maximum(y0, y1), rules.zone)
    n_tracks = int(tracks.max()) + 1
    length = max(min_length, 2 * r + (n_tracks - 1) * rules.track_pitch)
    end = x_start + length
    xt = x_start + r + tracks * rules.track_pitch  # track centre of each piece
    # where each piece's west straight starts and its east straight ends
    west = np.where(part == 2, np.nan, x_src[moving][net])
    east = np.where(part == 1, np.nan, end)
    if n_detours:  # the lane straight joins the first half's bend to the second half's bend
        second_x = {int(a): float(x) for a, p, x in zip(net, part, xt) if p == 2}
        east = np.where(part == 1, [second_x.get(int(a), np.nan) - r for a in net], east)
    bends = np.stack([xt - r, y0, y1 - y0], axis=1)
    west_segs = np.stack([west, xt - r, y0], axis=1)[part != 2]
    east_segs = np.stack([xt + r, east, y1], axis=1)
    straight = np.setdiff1d(np.arange(ys.size), moving)
    straight_segs = np.stack([x_src[straight], np.full(straight.size, end), ys[straight]], axis=1)
    # the net (index into ys) of every segment, kept beside the segments through the filter below
    seg_net = np.concatenate([moving[net[part != 2]], moving[net], straight])
    segments = np.concatenate([west_segs, east_segs, straight_segs])
    kept = segments[:, 1] - segments[:, 0] > _EPS
    segments, seg_net = segments[kept], seg_net[kept]
    v, seg = _find_crossings(xt, np.minimum(y0, y1) + _EPS, np.maximum(y0, y1) - _EPS, segments)
    crossing_xy = np.stack([xt[v], segments[seg, 2]], axis=1)
    n = ys.size
    net_crossings = np.bincount(moving[net[v]], minlength=n) + np.bincount(seg_net[seg], minlength=n)
    net_length = np.bincount(seg_net, weights=segments[:, 1] - segments[:, 0], minlength=n)
    piece_length = _bend_lengths(2 * r, y1 - y0)
    net_length += np.bincount(moving[net], weights=piece_length, minlength=n)
    net_bends = 2 * np.bincount(moving[net], minlength=n)
    return ChannelRoute(length, segments, bends, n_tracks, n_detours, int(v.size), crossing_xy, net_length,
                        net_bends.astype(np.float64), net_crossings.astype(np.float64))
