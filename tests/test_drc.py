"""DRC (issue 28, point 5): one rules table → a KLayout deck and the build's check; the check finds
violations inside a cell, between cells and between array members, and passes abutting waveguides."""

from __future__ import annotations

import klayout.db as kdb
import klayout.rdb as rdb
import pytest

from optinc_pdk.layout.drc import deck_text, run_drc
from optinc_pdk.pdk.rules import OPTINC_RULES, rules_for

WG, HEATER, METAL = (1, 0), (39, 0), (41, 0)


def _write(tmp_path, build) -> str:
    layout = kdb.Layout()
    layout.dbu = 0.001
    top = layout.create_cell("TOP")
    build(layout, top)
    path = tmp_path / "t.gds"
    layout.write(str(path))
    return str(path)


def _box(layout, cell, layer, x0, y0, x1, y1):
    cell.shapes(layout.layer(*layer)).insert(kdb.DBox(x0, y0, x1, y1))


def _child(layout, name, boxes, layer=WG):
    cell = layout.create_cell(name)
    for box in boxes:
        _box(layout, cell, layer, *box)
    return cell


def _place(parent, child, x=0.0, y=0.0, **array):
    trans = kdb.DTrans(kdb.DVector(x, y))
    if array:
        parent.insert(kdb.DCellInstArray(child.cell_index(), trans, kdb.DVector(array["dx"], 0), kdb.DVector(0, 1),
                                         array["n"], 1))
    else:
        parent.insert(kdb.DCellInstArray(child.cell_index(), trans))


def _counts(path) -> dict[str, int]:
    return run_drc(path).counts


def test_abutting_waveguides_in_different_cells_are_clean(tmp_path):
    def build(layout, top):
        piece = _child(layout, "piece", [(0, -0.25, 10, 0.25)])
        _place(top, piece, 0)
        _place(top, piece, 10)  # end to end: one waveguide
        _place(top, piece, 20, n=5, dx=10)  # an array continuing it
    assert sum(_counts(_write(tmp_path, build)).values()) == 0


def test_waveguides_too_close_across_cells_are_found(tmp_path):
    def build(layout, top):
        a = _child(layout, "a", [(0, -0.25, 10, 0.25)])
        b = _child(layout, "b", [(0, -0.25, 10, 0.25)])
        wrapper = layout.create_cell("wrapper")  # b one level deeper: the check must reach into it
        _place(wrapper, b)
        _place(top, a)
        _place(top, wrapper, 0, 0.6)  # 0.1 µm gap < 0.2
    counts = _counts(_write(tmp_path, build))
    assert counts["WG.space.0.2um"] == 1
    assert sum(counts.values()) == 1


@pytest.mark.parametrize(("nested", "expected"), [(True, 1), (False, 49)])
def test_array_members_too_close_are_found(tmp_path, nested, expected):
    def build(layout, top):
        column = _child(layout, "column", [(0, 0, 0.5, 10)])
        if nested:  # an array of composite cells: one member's neighbours stand for all
            inner, column = column, layout.create_cell("wrapped")
            _place(column, inner)
        holder = layout.create_cell("holder")
        _place(holder, column, 0, 0, n=50, dx=0.6)  # 0.1 µm between members, 49 times
        _place(top, holder)
        _box(layout, top, WG, 100, 0, 101, 10)  # something of the top's own, far away
    counts = _counts(_write(tmp_path, build))
    # an array of composites: one violation to fix; an array of leaves is checked flat, every member pair
    assert counts["WG.space.0.2um"] == expected


def test_narrow_waveguide_and_stray_metal_are_found(tmp_path):
    def build(layout, top):
        _place(top, _child(layout, "narrow", [(0, 0, 10, 0.1)]))
        heater = _child(layout, "heater", [(0, 0, 10, 10)], HEATER)
        _box(layout, heater, METAL, 0, 0, 10, 10)  # a contact on its heater: fine
        _box(layout, heater, METAL, 20, 0, 30, 10)  # a pad with no heater under it
        _place(top, heater, 0, 20)
    counts = _counts(_write(tmp_path, build))
    assert counts["WG.width.0.2um"] == 1
    assert counts["METAL.inside.HEATER"] == 1
    assert sum(counts.values()) == 2


def test_report_database_and_deck_are_written_from_the_table(tmp_path):
    def build(layout, top):
        _place(top, _child(layout, "narrow", [(0, 0, 10, 0.1)]))
    path = _write(tmp_path, build)
    result = run_drc(path, lyrdb=tmp_path / "t.lyrdb", deck=tmp_path / "optinc.lydrc")
    db = rdb.ReportDatabase()
    db.load(str(result.lyrdb))
    assert db.num_items() == result.total == 1
    assert sorted(c.name() for c in db.each_category()) == sorted(r.name for r in OPTINC_RULES)
    deck = result.deck.read_text()
    for name, layer in (("WG", WG), ("HEATER", HEATER), ("METAL", METAL)):
        assert f"{name} = input({layer[0]}, {layer[1]})" in deck
    assert "\ndeep\n" in deck and deck.count(".output(") == len(OPTINC_RULES)
    assert deck == deck_text(OPTINC_RULES)


def test_unknown_pdk_has_no_rules():
    with pytest.raises(KeyError, match="no design rules"):
        rules_for("nonesuch")


def test_every_die_of_a_several_top_layout_is_checked_in_deep_mode(tmp_path):
    """A floorplanned build has one top cell per die. Metal pieces that overlap (a lead on its pad) are width
    candidates on the unmerged pieces and are confirmed on the merged shapes; that second look must work on
    every die, not only the first (one shared deep-shape store made KLayout refuse it on die 1)."""
    layout = kdb.Layout()
    layout.dbu = 0.001
    for die, narrow in (("die0", False), ("die1", True)):
        top = layout.create_cell(die)
        _box(layout, top, HEATER, 0, 0, 40, 20)
        _box(layout, top, METAL, 0, 0, 10, 10)  # a contact pad on its heater
        _box(layout, top, METAL, 4, 0, 5, 10)  # a 1 µm lead lying on the pad: a candidate, clean once merged
        if narrow:
            _box(layout, top, METAL, 20, 0, 21, 10)  # a 1 µm lead on its own: too narrow (2 µm)
    path = tmp_path / "dies.gds"
    layout.write(str(path))
    counts = run_drc(str(path)).counts
    assert counts["METAL.width.2um"] == 1
    assert sum(counts.values()) == 1
