"""Crossings are crossing cells (issue 27, point 3): the router reports each crossing and each net's length,
bends and crossings; the drawn layout places one ``crossing`` cell per crossing, in arrays, and stays connected."""

from __future__ import annotations

import math

import klayout.db as kdb
import numpy as np
import pytest
from test_circuit_helpers import tiny_scenario
from test_connectivity import SHAPES, WIDTH
from test_fault_injection import SEED

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.layout import write_layout
from optinc_pdk.layout.connectivity import check_connectivity
from optinc_pdk.layout.router import RouterRules, route_channel
from optinc_pdk.spec.geometry import DeviceGeometry

G = DeviceGeometry()
RULES = RouterRules.from_geometry(G)
P, R = G.mode_pitch, G.bend_radius


def test_a_swapped_pair_crosses_once_and_each_net_knows_its_path():
    # one net climbs 1.5 pitches, the other drops 1.5: their order flips, so they cross once (no detour)
    route = route_channel(np.zeros(2), np.array([0.0, P]), np.array([1.5 * P, -0.5 * P]), 0.0, RULES, 0.0)
    assert route.crossings == 1 and route.crossing_xy.shape == (1, 2)
    assert route.net_crossings.tolist() == [1, 1]
    assert route.net_bends.tolist() == [2, 2]
    # west straight + two quarter arcs + vertical + east straight: the channel's length, less the 2R the
    # S-bend spans in x, plus its centre line (π·R for the arcs, |dy| − 2R between them)
    expected = route.length - 2 * R + math.pi * R + (1.5 * P - 2 * R)
    assert route.net_length == pytest.approx([expected, expected])


@pytest.mark.parametrize("seed", range(4))
def test_every_crossing_lies_on_two_nets(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    route = route_channel(np.zeros(n), np.arange(n) * P, rng.permutation(n) * P, 0.0, RULES, G.stage_gap)
    assert route.crossing_xy.shape == (route.crossings, 2)
    assert route.net_crossings.sum() == 2 * route.crossings
    straight = np.flatnonzero(route.net_bends == 0)
    assert route.net_length[straight] == pytest.approx(np.full(straight.size, route.length))


def _crossings_read_back(gds) -> tuple[int, int]:
    """(crossing cells in the flattened layout, instance records holding them), read back from the file."""
    layout = kdb.Layout()
    layout.read(str(gds))
    cells = [c.cell_index() for c in layout.each_cell() if c.name.startswith("crossing")]
    assert len(cells) == 1
    flat = kdb.RecursiveInstanceIterator(layout, layout.top_cell())
    flat.targets = cells
    records = sum(1 for parent in layout.each_cell() for inst in parent.each_inst() if inst.cell_index == cells[0])
    return sum(1 for _ in flat.each()), records


def test_drawn_layout_places_a_crossing_cell_at_every_crossing(tmp_path):
    scenario = tiny_scenario(name="blocks", **SHAPES["blocks"])
    description = build_description(scenario, random_weights(scenario, SEED))
    result = write_layout(description, tmp_path, formats=("gds",), png=False)
    assert result.crossings > 0
    placed, records = _crossings_read_back(result.paths["gds"])
    assert placed == result.crossings
    assert records < placed  # arrays where the crossings of a track line up
    assert check_connectivity(result.paths["gds"], description.top, WIDTH).ok


def test_a_crossing_too_long_for_the_channel_is_refused():
    from optinc_pdk.errors import OptincError

    with pytest.raises(OptincError, match="crossing_length"):
        RouterRules.from_geometry(DeviceGeometry(crossing_length=24.0))
