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
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import klayout.db as kdb

from optinc_pdk.layout.readback import read_layout, top_cells

BOND_PAD_CELL = "pad"  # name prefix of the die frame's bond-pad cell (cspdk's ``pad``)


@dataclass
class NetCheck:
    heaters_expected: int  # from the circuit description
    heaters_found: int  # heater-layer pieces in the file
    own_pad: int  # heaters whose signal net holds exactly one bond pad and no other heater
    on_ground: int  # heaters with one end on the shared ground net
    ground_pads: int  # bond pads on the ground net
    shorted_pads: int  # other nets holding two or more bond pads
    bond_pads: int
    mismatches: int
    seconds: float

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
