"""Electrical nets read from the written layout (heater → bond pad), compared with the circuit description.

KLayout region operations on the file as written, nothing taken from the drawing code:

* a **net** is one connected piece of the metal layer (merged, the whole hierarchy);
* a **heater** is one piece of the heater layer where no metal covers it (metal on the filament is a
  contact: cspdk's ``CONNECTIVITY`` joins the two layers where they overlap); its terminals are the nets it
  touches;
* a **bond pad** is a shape of the die frame's pad cell (``BOND_PAD_CELL``).

The description says how many heaters there are; a routed die must give each its own net with exactly
one bond pad (its signal) and put its other end on one shared net with one bond pad (the ground).
Every way this fails counts as a mismatch: a heater missing or extra, a heater whose signal net holds no
bond pad, several pads or another heater, a heater off the ground net, a ground net without exactly one
pad, and any other net that joins two bond pads.

Flip-chip bumps (``--pads bumps:PITCH``, :func:`check_bump_nets`): a net runs from the heater metal (METAL)
through a via (VIA1) to the redistribution metal (M2), and its pad is the bump (UBM) on that M2. Counted
with KLayout region interactions (each piece of one layer against the merged pieces of the next, with
``interacting``'s min/max counts), so the whole check is a few C++ region operations per die, no Python
loop over nets. A heater is one heater-layer shape as drawn (the phase-shifter cell draws one; abutting
heaters' filaments touch, so merged pieces would join them). Expected, per heater: two contact pieces
(metal), the signal one touching no other heater; every contact piece with a heater on exactly one via that
reaches M2; every M2 net with a via on exactly one via and one bump; exactly one of the heater's ends on a
net whose bump carries the ground label (``layout/bumps.py``; the package's ground plane joins those bumps).
Each heater or net failing one of these is one mismatch.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import klayout.db as kdb

from optinc_pdk.layout.readback import read_layout, shapes_near, top_cells

BOND_PAD_CELL = "pad"  # name prefix of the die frame's bond-pad cell (cspdk's ``pad``)


@dataclass
class NetCheck:
    heaters_expected: int  # from the circuit description
    heaters_found: int  # heater-layer pieces in the file
    own_pad: int  # heaters whose signal net holds exactly one bond pad and no other heater
    on_ground: int  # heaters with one end on the shared ground net
    ground_pads: int  # bond pads on the ground net (bumps: ground bumps, each on a net with one via and one bump)
    shorted_pads: int  # other nets holding two or more bond pads (bumps: heater nets without exactly one bump)
    bond_pads: int  # bumps: bumps on heater nets with one via and one bump
    mismatches: int
    seconds: float
    pads: str = "perimeter"  # or "bumps": then the pads are bumps and ground_pads the ground bumps

    def to_dict(self) -> dict:
        return asdict(self)


def _bond_pads(layout: kdb.Layout, top: kdb.Cell, metal: int) -> kdb.Region:
    pads = kdb.Region()
    it = kdb.RecursiveInstanceIterator(layout, top)
    it.targets = [c.cell_index() for c in layout.each_cell() if c.name.startswith(BOND_PAD_CELL)]
    while not it.at_end():
        trans = it.trans() * it.inst_trans()
        pads.insert(kdb.Region(it.inst_cell().begin_shapes_rec(metal)).transformed(trans))
        it.next()
    return pads


def check_heater_nets(path: str | Path, expected_heaters: int, heater_layer: tuple[int, int],
                      metal_layer: tuple[int, int]) -> NetCheck:
    """Extract the heater nets of the layout at ``path`` and count the mismatches (module docstring)."""
    start = time.perf_counter()
    layout = read_layout(path)
    top = top_cells(layout, path)[0]
    metal_index, heater_index = layout.find_layer(*metal_layer), layout.find_layer(*heater_layer)
    metal = kdb.Region() if metal_index is None else kdb.Region(top.begin_shapes_rec(metal_index)).merged()
    heater = kdb.Region() if heater_index is None else kdb.Region(top.begin_shapes_rec(heater_index))
    nets = [kdb.Region(p) for p in metal.each()]
    pads = kdb.Region() if metal_index is None else _bond_pads(layout, top, metal_index)
    pads_on = [pads.interacting(net).count() for net in nets]
    terminals = [[i for i, net in enumerate(nets) if not net.interacting(kdb.Region(piece)).is_empty()]
                 for piece in (heater - metal).merged().each()]
    per_net = Counter(i for t in terminals for i in t)
    ground = per_net.most_common(1)[0][0] if per_net and per_net.most_common(1)[0][1] > 1 else None
    on_ground = own_pad = 0
    for t in terminals:
        if len(t) != 2 or ground not in t:
            continue
        on_ground += 1
        signal = t[0] if t[1] == ground else t[1]
        own_pad += pads_on[signal] == 1 and per_net[signal] == 1
    ground_pads = 0 if ground is None else pads_on[ground]
    shorted = sum(n >= 2 for i, n in enumerate(pads_on) if i != ground)
    found = len(terminals)
    mismatches = (abs(expected_heaters - found) + (found - own_pad) + (found - on_ground)
                  + (ground_pads != 1 and found > 0) + shorted)
    return NetCheck(expected_heaters, found, own_pad, on_ground, ground_pads, shorted, pads.count(), int(mismatches),
                    time.perf_counter() - start)


def _layer_region(layout: kdb.Layout, top: kdb.Cell, layer: tuple[int, int]) -> kdb.Region:
    index = layout.find_layer(*layer)
    region = kdb.Region() if index is None else kdb.Region(top.begin_shapes_rec(index))
    region.flatten()  # this top cell's shapes only (an unflattened layer region counts the whole layout's)
    return region


def _connected(layout: kdb.Layout, top: kdb.Cell, layer: tuple[int, int], seed: kdb.Region) -> kdb.Region:
    """Every shape of ``layer`` connected to ``seed`` (overlapping or touching, transitively), merged: grown by
    region searches from the seed, so the dummy bumps of a large array that touch no net are never visited."""
    index = layout.find_layer(*layer)
    if index is None:
        return kdb.Region()
    found = shapes_near(layout, top, index, seed.sized(1))
    while True:
        grown = shapes_near(layout, top, index, found.sized(1))
        if grown.count() == found.count():
            return grown.merged()
        found = grown


def _pieces(region: kdb.Region) -> kdb.Region:
    """``region`` (already merged) taken piece by piece: each later interaction would merge it again otherwise."""
    region.merged_semantics = False
    return region


def _bump_counts(layout: kdb.Layout, top: kdb.Cell, layers: dict[str, tuple[int, int]],
                 text: tuple[int, int], ground_text: str) -> Counter:
    """The counts of :func:`check_bump_nets` for one top cell (module docstring)."""
    heater = _layer_region(layout, top, layers["HEATER"])
    heater.merged_semantics = False  # one shape per heater
    metal, via = (_pieces(_layer_region(layout, top, layers[k]).merged()) for k in ("METAL", "VIA1"))
    m2 = _pieces(_connected(layout, top, layers["M2"], via))  # the RDL nets: whatever M2 a via reaches
    ubm_index = layout.find_layer(*layers["UBM"])
    ubm = kdb.Region() if ubm_index is None else _pieces(shapes_near(layout, top, ubm_index, m2.sized(1)).merged())
    text_index = layout.find_layer(*text)
    labels = kdb.Texts() if text_index is None else kdb.Texts(top.begin_shapes_rec(text_index)).with_text(ground_text,
                                                                                                          False)
    contacts = _pieces(metal.interacting(heater))
    up = _pieces(via.interacting(contacts).interacting(m2))  # vias that join a contact to the RDL
    nets = _pieces(m2.interacting(up))
    one_via, one_bump = _pieces(nets.interacting(up, 1, 1)), _pieces(nets.interacting(ubm, 1, 1))
    good = _pieces(one_via.interacting(one_bump))  # one via, one bump (the pieces are the same nets)
    ground_nets = _pieces(good.interacting(labels))
    ground_contacts = _pieces(contacts.interacting(up.interacting(ground_nets)))
    signal_contacts = _pieces(contacts.interacting(heater, 1, 1).interacting(up.interacting(good.not_interacting(labels))))
    return Counter(found=heater.count(), two_ends=heater.interacting(contacts, 2, 2).count(),
                   own=heater.interacting(signal_contacts, 1, 1).count(),
                   grounded=heater.interacting(ground_contacts, 1, 1).count(),
                   crowded=contacts.interacting(heater, 3).count(), contacts=contacts.count(),
                   one_via=contacts.interacting(up, 1, 1).count(), nets=nets.count(),
                   net_one_via=one_via.count(), net_one_bump=one_bump.count(),
                   ground_bumps=ground_nets.count(), bumps=good.count())  # a good net holds one bump


def check_bump_nets(path: str | Path, expected_heaters: int, layers: dict[str, tuple[int, int]], text: tuple[int, int],
                    ground_text: str = "GND") -> NetCheck:
    """Heater → bump nets of a flip-chip build (``--pads bumps``) read from the layout at ``path``, every top cell
    (die); ``layers`` maps HEATER, METAL, VIA1, M2, UBM to GDS layers (module docstring)."""
    start = time.perf_counter()
    layout = read_layout(path)
    c: Counter = Counter()
    for top in top_cells(layout, path):
        c.update(_bump_counts(layout, top, layers, text, ground_text))
    found = c["found"]
    mismatches = (abs(expected_heaters - found) + (found - c["two_ends"]) + (found - c["own"]) + (found - c["grounded"])
                  + c["crowded"] + (c["contacts"] - c["one_via"]) + (c["nets"] - c["net_one_via"])
                  + (c["nets"] - c["net_one_bump"]))
    return NetCheck(expected_heaters, found, c["own"], c["grounded"], c["ground_bumps"], c["nets"] - c["net_one_bump"],
                    c["bumps"], int(mismatches), time.perf_counter() - start, "bumps")
