"""The channel router: clearances kept, one crossing per swapped pair where possible, cycles detoured."""

from __future__ import annotations

import numpy as np
import pytest

from optinc_pdk.errors import OptincError
from optinc_pdk.layout.router import RouterRules, route_channel
from optinc_pdk.spec.geometry import DeviceGeometry

G = DeviceGeometry()
RULES = RouterRules.from_geometry(G)
PITCH = G.mode_pitch


def _inversions(ys: np.ndarray, yd: np.ndarray) -> int:
    order = np.argsort(ys)
    d = yd[order]
    return int(sum((d[i] > d[i + 1:]).sum() for i in range(d.size)))


def _check_clearances(route, ys, yd) -> None:
    seg = route.segments
    # horizontals closer than a bend zone never share x
    for i in range(len(seg)):
        near = np.abs(seg[i + 1:, 2] - seg[i, 2]) < 2 * RULES.zone - 1e-9
        overlap = np.minimum(seg[i + 1:, 1], seg[i, 1]) > np.maximum(seg[i + 1:, 0], seg[i, 0]) + 1e-9
        assert not np.any(near & overlap), f"segment {seg[i]} runs along another"
    # verticals on one track have spans a bend zone apart
    bends = route.bends
    lo, hi = np.minimum(bends[:, 1], bends[:, 1] + bends[:, 2]), np.maximum(bends[:, 1], bends[:, 1] + bends[:, 2])
    for i in range(len(bends)):
        same = np.abs(bends[i + 1:, 0] - bends[i, 0]) < 1e-9
        close = (lo[i + 1:] < hi[i] + 2 * RULES.zone) & (lo[i] < hi[i + 1:] + 2 * RULES.zone)
        assert not np.any(same & close)
    # every bend turns with two quarter circles (|dy| >= 2R) and sits inside the channel
    assert np.all(np.abs(bends[:, 2]) >= 2 * RULES.radius)
    assert np.all(bends[:, 0] >= 0) and np.all(bends[:, 0] + 2 * RULES.radius <= route.length + 1e-9)
    moving = int((np.abs(yd - ys) > 1e-9).sum())
    assert len(bends) == moving + route.detours


@pytest.mark.parametrize("seed", range(6))
def test_random_permutations_keep_clearances(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    ys = np.arange(n) * PITCH
    yd = rng.permutation(n) * PITCH + PITCH / 2 * int(rng.integers(0, 2))
    route = route_channel(np.zeros(n), ys, yd, 0.0, RULES, G.stage_gap)
    _check_clearances(route, ys, yd)
    assert route.crossings >= _inversions(ys, yd)
    assert route.length >= G.stage_gap


@pytest.mark.parametrize("k, blocks", [(4, 16), (64, 2), (8, 3)])
def test_fan_out_transposition_crosses_each_swapped_pair_once(k, blocks):
    """Tree t's leaf b (natural order t·B + b) to row t of block b: the tall-matrix fan-out, with the
    blocks half a pitch off the leaves' lattice, as the placer puts them (compose._best_offset)."""
    t, b = np.divmod(np.arange(k * blocks), blocks)
    ys = -np.arange(k * blocks) * PITCH
    yd = -(b * (k + 1) + t) * PITCH - PITCH / 2  # blocks stacked one pitch apart
    route = route_channel(np.zeros(k * blocks), ys, yd, 0.0, RULES, G.stage_gap)
    _check_clearances(route, ys, yd)
    assert route.detours == 0
    assert route.crossings == _inversions(ys, yd) == k * (k - 1) // 2 * blocks * (blocks - 1) // 2


def test_fan_out_on_one_lattice_still_routes_cleanly():
    """Without the half-pitch offset, starts and ends coincide: more crossings, never overlaps."""
    t, b = np.divmod(np.arange(64 * 2), 2)
    ys, yd = -np.arange(128) * PITCH, -(b * 65 + t) * PITCH
    route = route_channel(np.zeros(128), ys, yd, 0.0, RULES, G.stage_gap)
    _check_clearances(route, ys, yd)
    assert route.crossings > _inversions(ys, yd) == 2016


def test_straight_nets_need_no_channel():
    ys = np.arange(5) * PITCH
    route = route_channel(np.array([-30.0, 0, 0, -5, 0]), ys, ys, 0.0, RULES, G.stage_gap)
    assert route.length == 0 and route.bends.size == 0
    assert sorted(route.segments.tolist()) == [[-30.0, 0.0, 0.0], [-5.0, 0.0, 150.0]]  # shorter sources extended


def test_a_swap_is_a_cycle_broken_by_one_detour():
    route = route_channel(np.zeros(2), np.array([0.0, PITCH]), np.array([PITCH, 0.0]), 0.0, RULES, 0.0)
    _check_clearances(route, np.array([0.0, PITCH]), np.array([PITCH, 0.0]))
    assert route.detours == 1 and route.crossings == 1
    assert route.segments[:, 2].min() == -PITCH  # the detour lane runs below the channel


def test_order_keeping_nets_never_cross():
    ys = np.arange(40) * PITCH
    route = route_channel(np.zeros(40), ys, 2 * ys - 20 * PITCH, 0.0, RULES, 0.0)  # a spread
    _check_clearances(route, ys, 2 * ys - 20 * PITCH)
    assert route.crossings == 0 and route.tracks <= 21  # up- and down-going nets share tracks


def test_a_pitch_too_small_for_the_router_is_refused():
    with pytest.raises(OptincError, match="mode_pitch=40.0 is too small for the waveguide router"):
        RouterRules.from_geometry(G.model_copy(update={"mode_pitch": 40.0, "attenuator_arm_spacing": 12.0}))


def test_equal_channels_are_routed_once_and_the_cache_stays_within_its_bytes():
    from optinc_pdk.layout import router
    from optinc_pdk.spec.geometry import DeviceGeometry

    rules = router.RouterRules.from_geometry(DeviceGeometry())
    ys, yd = np.array([0.0, 50.0, 100.0]), np.array([100.0, 0.0, 50.0])
    first = router.route_channel(np.zeros(3), ys, yd, 0.0, rules, 30.0)
    again = router.route_channel(np.zeros(3), ys.copy(), yd.copy(), 0.0, rules, 30.0)
    assert again is first and not first.segments.flags.writeable  # shared, so nobody may change it
    assert router.route_channel(np.zeros(3), ys, yd, 5.0, rules, 30.0) is not first  # another start: routed anew
    cache = router._RouteCache(budget=3000)
    for k in range(20):
        cache.put((np.full(3, float(k)).tobytes(), k), router._route(np.zeros(3), ys + k, yd + k, 0.0, rules, 30.0))
        assert cache.used <= 3000
    assert cache.get((np.full(3, 19.0).tobytes(), 19)) is not None and cache.get((np.zeros(3).tobytes(), 0)) is None
