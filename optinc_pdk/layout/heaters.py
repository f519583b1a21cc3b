"""Heater routing on a mounted die: every phase shifter's heater to a bond pad of its own, one shared ground.

There is one metal layer (the PDK's metal: CORNERSTONE's PAD 41/0, which connects to the heater
filament layer wherever the two overlap, cspdk's ``CONNECTIVITY``), so the nets must not cross. The
topology that guarantees it:

* every heater has two ends (its optical ports o1, o2 mark the filament's ends) and a contact pad above
  each (ports e1, e2, facing north). One end is the heater's **signal**, the other its **ground**.
  Heaters drawn end to end share the contact between them; in such a pair the shared end is the
  ground of both (a longer chain would put a signal on two heaters: refused, ``HeaterRoutingError``);
* a **signal** leaves its contact pad straight north to one level above the design, and from there
  gdsfactory's ``route_bundle_electrical`` takes the signals, in their left-to-right order, to a window
  of the die's north bond pads (the same order, so no two cross);
* a **ground** is a trace two filament widths wide that runs from the filament's end straight south,
  over the waveguides (metal over the cladding: no rule between the layers), to one rail below the
  design, and the rail to the nearest south bond pad.

Signals run only north of their contact pads and grounds only south of their filament ends, each on a
vertical of its own, so no signal meets a ground as long as no heater sits in another one's way: checked
before anything is drawn (``HeaterRouter``), and confirmed on every build by the extraction from the
written GDS (``layout/nets.py``) and the DRC.
"""

from __future__ import annotations

from dataclasses import dataclass

import gdsfactory as gf
import klayout.db as kdb
import numpy as np

from optinc_pdk.errors import OptincError
from optinc_pdk.spec.geometry import DeviceGeometry

HEATER_CELL = "phase_shifter"  # the cell that carries a heater (every PDK draws it under this name)
NODE_TOLERANCE_UM = 0.01  # two filament ends this close are one contact


class HeaterRoutingError(OptincError):
    """The heaters cannot be routed with this topology (the build writes the layout unrouted and says why)."""


@dataclass(frozen=True)
class Heater:
    west: kdb.DPoint  # filament ends (top-cell frame, µm)
    east: kdb.DPoint
    west_pad: kdb.DPoint  # contact pad tops (ports e1, e2)
    east_pad: kdb.DPoint


@dataclass(frozen=True)
class HeaterNets:
    signals: list[kdb.DPoint]  # the contact pad top each heater is driven from, one per heater (heater order)
    grounds: list[kdb.DPoint]  # distinct ground filament ends
    ground_of: list[int]  # per heater: the index of its ground in ``grounds``


def heater_points(layout: kdb.Layout, top: kdb.Cell, under: int | None = None, pad_centres: bool = False) -> np.ndarray:
    """(n, 4, 2) µm, ``top``'s frame: west end, east end, west pad, east pad of every heater placed under the cell
    ``under`` (default ``top``), array members expanded. A pad is its port's centre (the pad's north edge), or
    with ``pad_centres`` the pad's centre. Every heater must be placed unrotated, so its pads face north."""
    root = layout.cell(top.cell_index() if under is None else under)
    local: dict[int, np.ndarray] = {}
    for index in [root.cell_index(), *root.called_cells()]:
        if layout.cell(index).name.startswith(HEATER_CELL):
            ports = {p.name: p for p in gf.kcl[index].ports}
            if any(round(ports[e].orientation) % 360 != 90 for e in ("e1", "e2")):
                raise HeaterRoutingError("heater routing: a heater's contact pads do not face north")
            drop = [ports[e].dwidth / 2 if pad_centres else 0.0 for e in ("e1", "e2")]
            local[index] = np.array([ports["o1"].dcenter, ports["o2"].dcenter,
                                     *[(ports[e].dcenter[0], ports[e].dcenter[1] - d) for e, d in zip(("e1", "e2"), drop)]])
    it = kdb.RecursiveInstanceIterator(layout, top)
    it.targets = list(local)
    shifts, cells = [], []
    while not it.at_end():
        trans = it.dtrans() * it.inst_dtrans()
        if trans.is_mirror() or round(trans.angle) % 360 or abs(trans.mag - 1) > 1e-9:
            raise HeaterRoutingError("heater routing: a heater's contact pads do not face north")
        shifts.append((trans.disp.x, trans.disp.y))
        cells.append(it.inst_cell().cell_index())
        it.next()
    if not cells:
        return np.zeros((0, 4, 2))
    return np.stack([local[c] for c in cells]) + np.array(shifts)[:, None, :]


def find_heaters(top: gf.Component, design_cell: int) -> list[Heater]:
    """Every heater placed under the design cell, in the top cell's frame (:func:`heater_points`)."""
    points = heater_points(top.kcl.layout, top.kdb_cell, design_cell)
    return [Heater(*(kdb.DPoint(x, y) for x, y in row)) for row in points.tolist()]


def ground_ends(ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which end of every heater is its ground, from its filament ends ``ends`` (n, 2, 2) µm (west, east).

    The east end is ground, or the end a heater shares with another drawn end to end (then the ground of
    both). Returns (west end is ground (n,) bool, ground node (n,): heaters sharing a ground share its node,
    numbered in order of first appearance). Refuses three heaters at one contact and a heater sharing both ends.
    """
    n = len(ends)
    keys = np.round(np.asarray(ends, dtype=np.float64).reshape(-1, 2) / NODE_TOLERANCE_UM).astype(np.int64)
    _, contact, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    contact = contact.reshape(n, 2)
    if n and counts.max() > 2:
        raise HeaterRoutingError("heater routing: three heaters meet at one contact")
    shared = counts[contact] > 1
    if shared.all(axis=1).any():
        at = ends[shared.all(axis=1).argmax(), 0]
        raise HeaterRoutingError(f"heater routing: the heater at ({at[0]:g}, {at[1]:g}) µm shares both ends "
                                 "(a chain of three or more heaters: one signal would drive two)")
    west_ground = shared[:, 0]
    _, first, node = np.unique(np.where(west_ground, contact[:, 0], contact[:, 1]), return_index=True,
                               return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return west_ground, rank[node]


def assign_nets(heaters: list[Heater]) -> HeaterNets:
    """Signal and ground end of every heater (:func:`ground_ends`): a heater is driven from its other end's pad."""
    ends = np.array([[(h.west.x, h.west.y), (h.east.x, h.east.y)] for h in heaters]).reshape(-1, 2, 2)
    west_ground, node = ground_ends(ends)
    signals = [h.east_pad if w else h.west_pad for h, w in zip(heaters, west_ground.tolist())]
    grounds: dict[int, kdb.DPoint] = {}
    for h, w, k in zip(heaters, west_ground.tolist(), node.tolist()):
        grounds.setdefault(k, h.west if w else h.east)
    return HeaterNets(signals, [grounds[k] for k in range(len(grounds))], node.tolist())


class HeaterRouter:
    """Draws the signal and ground routes of ``heaters`` into a cell of ``top`` (see the module docstring).

    ``space``: the PDK's minimum metal spacing (its rules table). Before anything is drawn, every straight
    run (a signal north from its pad, a ground south from its end) is checked against the other runs and
    against every other heater (filament and contact pads) with that clearance: a design whose heaters sit
    above one another (a mesh column) cannot take this topology, and is refused with the first clash.
    """

    def __init__(self, g: DeviceGeometry, metal: tuple[int, int], space: float):
        self.g, self.metal, self.space = g, metal, space
        self.width = g.heater_pad_size  # a signal route is as wide as the contact pad it leaves
        self.pitch = self.width + max(2 * self.width, space)  # centre to centre in the bundle
        self.ground_width = 2 * g.heater_width  # covers the filament end and its lead, not more of the filament

    def route(self, top: gf.Component, heaters: list[Heater], pad_ports: list, design_box: kdb.DBox,
              name: str) -> dict:
        nets = assign_nets(heaters)
        north = sorted((p for p in pad_ports if p.orientation == 270), key=lambda p: p.dcenter[0])
        south = sorted((p for p in pad_ports if p.orientation == 90), key=lambda p: p.dcenter[0])
        if len(nets.signals) > len(north) or (nets.grounds and not south):
            raise HeaterRoutingError(f"heater routing: {len(nets.signals)} signals need as many north bond pads "
                                     f"(the die has {len(north)}) and the ground one south pad ({len(south)})")
        level, rail = _snap(design_box.top + 2 * self.pitch), _snap(design_box.bottom - 2 * self.pitch)
        runs = self._runs(nets, level, rail)
        self._check_clear(runs, heaters)
        cell = gf.Component(name=name)
        for box, _, _ in runs:
            self._rect(cell, box.left, box.bottom, box.right, box.top)
        try:
            signal_pads = self._signals(cell, sorted(nets.signals, key=lambda p: p.x), north, level)
        except (RuntimeError, ValueError) as error:  # gdsfactory's bundle router: a collision or no placement
            cell.delete()
            raise HeaterRoutingError(f"heater routing: the signal bundle cannot be placed ({error})") from None
        ground_pad = self._ground(cell, nets.grounds, south, rail)
        top.add_ref(cell, name="heater_routes")
        return {"heaters": len(heaters), "signal_pads": signal_pads, "ground_pad": ground_pad,
                "grounds": len(nets.grounds), "pads_used": len(signal_pads) + 1, "cell": cell}

    def _runs(self, nets: HeaterNets, level: float, rail: float) -> list[tuple[kdb.DBox, str, set[int]]]:
        """The straight runs to draw: (box, net, the heaters it starts from)."""
        runs = []
        for i, p in enumerate(nets.signals):
            runs.append((kdb.DBox(p.x - self.width / 2, p.y, p.x + self.width / 2, level), f"signal {i}", {i}))
        half, lead_top = self.ground_width / 2, self.g.heater_width / 2 + self.g.heater_width  # into the lead
        for j, p in enumerate(nets.grounds):
            owners = {i for i, g in enumerate(nets.ground_of) if g == j}
            runs.append((kdb.DBox(p.x - half, rail, p.x + half, p.y + lead_top), "ground", owners))
        return runs

    def _check_clear(self, runs: list[tuple[kdb.DBox, str, set[int]]], heaters: list[Heater]) -> None:
        """Every run ``space`` clear of the runs of other nets and of every heater it does not start from."""
        hw = self.g.heater_width / 2
        bodies = [kdb.DBox(h.west.x, h.west.y - hw, h.east.x, max(h.west_pad.y, h.east_pad.y)) for h in heaters]
        for k, (box, net, owners) in enumerate(runs):
            near = box.enlarged(self.space - 1e-6, self.space - 1e-6)
            for i, body in enumerate(bodies):
                if i not in owners and near.overlaps(body):
                    h = heaters[i]
                    raise HeaterRoutingError(f"heater routing: a straight {net} route would pass within "
                                             f"{self.space:g} µm of the heater at ({h.west.x:g}, {h.west.y:g}) µm "
                                             "(heaters above one another need another topology)")
            for other, other_net, _ in runs[k + 1:]:
                if other_net != net and near.overlaps(other):
                    raise HeaterRoutingError(f"heater routing: routes {net} and {other_net} would come within "
                                             f"{self.space:g} µm of each other near ({box.center().x:g}, "
                                             f"{box.center().y:g}) µm")

    def _rect(self, c: gf.Component, x0: float, y0: float, x1: float, y1: float) -> None:
        c.add_polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], layer=self.metal)

    def _signals(self, c: gf.Component, starts: list[kdb.DPoint], pads: list, level: float) -> list[str]:
        """From one level above the design (the runs reach it), one bundle to consecutive north pads."""
        mean = sum(p.x for p in starts) / len(starts)
        k = len(starts)
        first = min(range(len(pads) - k + 1), key=lambda i: abs(sum(p.dcenter[0] for p in pads[i:i + k]) / k - mean))
        chosen = pads[first:first + k]
        ports = [gf.Port(name=f"s{i}", center=(s.x, level), orientation=90, width=self.width,
                         layer=gf.kcl.layer(*self.metal), port_type="electrical") for i, s in enumerate(starts)]
        # gdsfactory's own straight and corner (not the active PDK's cells of those names: optinc's straight is
        # a waveguide), so the router draws the same metal under any PDK
        gf.routing.route_bundle_electrical(c, ports, chosen, layer=self.metal, route_width=self.width,
                                           separation=self.pitch, straight=gf.components.straight,
                                           bend=gf.components.wire_corner, auto_taper=False, on_collision="error",
                                           raise_on_error=True)
        return [p.name for p in chosen]

    def _ground(self, c: gf.Component, grounds: list[kdb.DPoint], pads: list, rail: float) -> str:
        """The rail joining the ground runs below the design, and the rail to the nearest south pad."""
        centre = sum(p.x for p in grounds) / len(grounds)
        pad = min(pads, key=lambda q: abs(q.dcenter[0] - centre))
        x_pad, y_pad = pad.dcenter
        xs = [p.x for p in grounds] + [x_pad]
        self._rect(c, min(xs) - self.width / 2, rail - self.width / 2, max(xs) + self.width / 2, rail + self.width / 2)
        self._rect(c, x_pad - self.width / 2, y_pad, x_pad + self.width / 2, rail)
        return pad.name


def _snap(value: float, grid: float = 0.001) -> float:
    return round(round(value / grid) * grid, 3)
