"""Mount a drawn design on a die: the PDK's die frame, the design centred in it, fibre I/O routed.

The die frame (the adapter's ``mpw_frame``: outline, fibre grating couplers at fibre-array
pitch, bond pads) is placed centred on the origin; the design cell is centred in it. Every
optical input of the design (west ports) and every bias-light input (the west end of each
``source`` leaf, escaped below the design) goes to a west fibre coupler, every output (east
ports) to an east one, in order, with no crossing: each route is a straight from the coupler, an
arc S-bend (the PDK's ``sbend`` cell; all S-bends of a side share one length, so they nest) and a
straight into the port. The heaters are routed to the frame's bond pads afterwards
(``layout/heaters.py``). Checked before any file is written: every route clear of the design's waveguides
and of the other routes, and everything inside the outline.
"""

from __future__ import annotations

from dataclasses import dataclass

import gdsfactory as gf
import klayout.db as kdb

from optinc_pdk.errors import OptincError
from optinc_pdk.layout.plan import Plan
from optinc_pdk.pdk.adapters import PdkAdapter, check_choice
from optinc_pdk.spec.dies import DieSpec
from optinc_pdk.spec.geometry import DeviceGeometry

GRID_UM = 0.001


@dataclass(frozen=True)
class Terminal:
    x: float  # where the route meets the design (µm, top-cell frame)
    y: float
    name: str  # the design port, or "bias<i>" for a bias-light input


def source_starts(plan: Plan, x0: float = 0.0, y0: float = 0.0) -> list[tuple[float, float]]:
    """West ends (plan frame) of every bias-light ``source`` leaf under ``plan``, array members expanded."""
    found = [(x0, y0)] if plan.kind == "source" else []
    for place in plan.children:
        for i in range(place.columns):
            for j in range(place.rows):
                found += source_starts(place.plan, x0 + place.x + i * place.column_pitch,
                                       y0 + place.y + j * place.row_pitch)
    return found


def _snap(value: float) -> float:
    return round(round(value / GRID_UM) * GRID_UM, 3)


def check_die(adapter: PdkAdapter, die: DieSpec) -> None:
    """One line when ``adapter`` cannot draw ``die`` (before any work)."""
    check_choice(adapter.name, die)
    if adapter.mpw_frame is None:  # DIE_FRAMES lists this PDK, its adapter must draw the frame
        raise OptincError(f"--die {die.name}: the {adapter.name} adapter has no mpw_frame")


class DieMount:
    """Mounts ``design`` (a drawn plan cell) in ``top`` on ``die``; see the module docstring."""

    def __init__(self, adapter: PdkAdapter, die: DieSpec, g: DeviceGeometry, created: list | None = None):
        check_die(adapter, die)
        self.adapter, self.die, self.g = adapter, die, g
        self.cells = adapter.cells
        self.created = [] if created is None else created  # cells made for this layout only (the caller deletes them)
        self._frame = None

    def frame(self):
        """The die frame (drawn once per mount) and its fibre ports west and east, top to bottom."""
        if self._frame is None:
            frame = self.adapter.mpw_frame((self.die.width, self.die.height), self.die.fibre_pitch, self.die.fibres)
            fibres = [p for p in frame.ports if p.port_type == "optical"]
            self._frame = (frame, sorted((p for p in fibres if p.dcenter[0] < 0), key=lambda p: -p.dcenter[1]),
                           sorted((p for p in fibres if p.dcenter[0] > 0), key=lambda p: -p.dcenter[1]))
        return self._frame

    def misfit(self, plan: Plan) -> str | None:
        """Why ``plan`` cannot be mounted on this die (one line), or None when it fits: the design, with room
        for the fibre routes' bends on each side, between the west and east fibre couplers and inside the
        die's height, and enough fibre couplers for its inputs, bias inputs and outputs."""
        _, west_fibres, east_fibres = self.frame()
        box = plan.bbox
        between = min(p.dcenter[0] for p in east_fibres) - max(p.dcenter[0] for p in west_fibres)
        room = 5 * self.g.bend_radius  # an S-bend of at least 4 radii and a radius of straight on each side
        if box.width + 2 * room > between or box.height > self.die.height:
            return (f"--die {self.die.name}: the design ({box.width / 1000:.2f} x {box.height / 1000:.2f} mm) "
                    f"does not fit the die ({self.die.width / 1000:g} x {self.die.height / 1000:g} mm; "
                    f"{between / 1000:.2f} mm between its fibre couplers) with its fibre routes")
        n_in, n_bias, n_out = plan.west_y.size, len(source_starts(plan)), plan.east_y.size
        if n_in + n_bias > len(west_fibres) or n_out > len(east_fibres):
            return (f"--die {self.die.name}: the design needs {n_in} inputs + {n_bias} bias inputs west and "
                    f"{n_out} outputs east; the die frame has {len(west_fibres)} + {len(east_fibres)} fibre couplers")
        return None

    def mount(self, top: gf.Component, design: gf.Component, plan: Plan, origin: tuple[float, float]) -> dict:
        reason = self.misfit(plan)
        if reason is not None:
            raise OptincError(reason)
        box = plan.bbox
        frame, west_fibres, east_fibres = self.frame()
        dx = _snap(-(box.xmin + box.xmax) / 2)
        dy = _snap(-(box.ymin + box.ymax) / 2)
        ref = top.add_ref(design, name="optinc")
        ref.dmove((dx + origin[0], dy + origin[1]))  # the design cell's frame is the plan's minus ``origin``
        self.design_ref = ref
        ymin = box.ymin + dy
        west = sorted((Terminal(p.dcenter[0], p.dcenter[1], p.name) for p in ref.ports if p.orientation == 180),
                      key=lambda t: -t.y)
        east = sorted((Terminal(p.dcenter[0], p.dcenter[1], p.name) for p in ref.ports if p.orientation == 0),
                      key=lambda t: -t.y)
        xmin = min([t.x for t in west] + [box.xmin + dx])
        xmax = max([t.x for t in east] + [box.xmax + dx])
        top.add_ref(frame, name="die_frame")
        self.bond_pads = [p for p in frame.ports if p.port_type == "electrical"]  # the heater router's targets
        starts = [(x + dx, y + dy) for x, y in source_starts(plan)]
        n_west, n_east = len(west) + len(starts), len(east)
        routes = gf.Component(name=f"{top.name}_fibre_routes")
        self.created.append(routes)
        escape_y = ymin - 2 * self.g.mode_pitch
        escaped = [self._escape(routes, x, y, xmin, escape_y - k * self.g.mode_pitch, k)
                   for k, (x, y) in enumerate(starts)]
        self._fan(routes, west + escaped, west_fibres, sign=-1, x_design=xmin)
        self._fan(routes, east, east_fibres, sign=1, x_design=xmax)
        top.add_ref(routes, name="fibre_routes")
        self._check_clear(top, ref, routes, n_west + n_east)
        return {"die": self.die.name, "width_um": self.die.width, "height_um": self.die.height,
                "fibre_couplers": len(west_fibres) + len(east_fibres), "fibres_used": n_west + n_east,
                "fibre_pitch_um": self.die.fibre_pitch,
                "bond_pads": sum(p.port_type == "electrical" for p in frame.ports),
                "bias_inputs": len(starts), "design_offset_um": [dx, dy]}

    # --- routes ----------------------------------------------------------------------------

    def _straight(self, c: gf.Component, x0: float, x1: float, y: float) -> None:
        lo, hi = sorted((x0, x1))
        if hi - lo > GRID_UM / 2:
            c.add_ref(self.cells["straight"](length=_snap(hi - lo), geometry=self.g)).dmove((lo, y))

    def _sbend(self, c: gf.Component, x0: float, y0: float, length: float, dy: float) -> None:
        """Arc S-bend from (x0, y0) east to (x0 + length, y0 + dy); a straight where dy is 0."""
        if abs(dy) < GRID_UM / 2:
            self._straight(c, x0, x0 + length, y0)
        else:
            c.add_ref(self.cells["sbend"](dx=length, dy=_snap(dy), geometry=self.g)).dmove((x0, y0))

    def _fan(self, c: gf.Component, terminals: list[Terminal], fibres: list, sign: int, x_design: float) -> None:
        """Join terminals (top to bottom) to a window of fibre couplers (top to bottom) centred on them."""
        if not terminals:
            return
        mean = sum(t.y for t in terminals) / len(terminals)
        k = len(terminals)
        first = min(range(len(fibres) - k + 1),
                    key=lambda i: abs(sum(p.dcenter[1] for p in fibres[i:i + k]) / k - mean))
        chosen = fibres[first:first + k]
        r = self.g.bend_radius
        length = _snap(max(4 * r, max(abs(t.y - p.dcenter[1]) for t, p in zip(terminals, chosen))))
        x_bend = x_design + sign * (r + length)  # the S-bends' far end (towards the fibres)
        if sign * (chosen[0].dcenter[0] - x_bend) < 0:
            raise OptincError(f"--die {self.die.name}: the fibre routes need S-bends {length:g} µm long beside the "
                              f"design, and the couplers leave {sign * (chosen[0].dcenter[0] - x_design) - r:g} µm")
        for t, p in zip(terminals, chosen):
            xf, yf = p.dcenter
            self._straight(c, xf, x_bend, yf)
            near = x_design + sign * r
            if sign < 0:  # west: fibre side is the bend's start
                self._sbend(c, x_bend, yf, length, t.y - yf)
            else:
                self._sbend(c, near, t.y, length, yf - t.y)
            self._straight(c, near, t.x, t.y)

    def _escape(self, c: gf.Component, x: float, y: float, x_design: float, y_low: float, k: int) -> Terminal:
        """Bias input at (x, y) facing west: west one bend radius, down below the design, west to its edge."""
        r = self.g.bend_radius
        x_turn = x - 2 * r - 2 * k * r  # staggered so several sources do not share a column
        self._straight(c, x_turn, x, y)
        # a Manhattan route with the PDK's own bends: leaves facing west, arrives heading west
        gf.routing.route_single(c, port1=self._port(x_turn, y, 180), port2=self._port(x_design - r, y_low, 0),
                                cross_section=self.adapter.cross_section,
                                waypoints=[(x_turn - 2 * r, y), (x_turn - 2 * r, y_low)])
        return Terminal(x_design - r, y_low, f"bias{k}")

    def _port(self, x: float, y: float, orientation: float) -> gf.Port:
        return gf.Port(name="p", center=(x, y), orientation=orientation, width=self.g.wg_width,
                       layer=gf.kcl.layer(*self.adapter.layers.wg), port_type="optical")

    # --- checks ----------------------------------------------------------------------------

    def _check_clear(self, top: gf.Component, design_ref, routes: gf.Component, n_routes: int) -> None:
        layout = top.kcl.layout
        wg = layout.find_layer(*self.adapter.layers.wg)
        design = kdb.Region(design_ref.cell.kdb_cell.begin_shapes_rec(wg)).transformed(design_ref.trans)
        drawn = kdb.Region(routes.kdb_cell.begin_shapes_rec(wg))
        if not (drawn & design).is_empty():
            raise OptincError(f"--die {self.die.name}: a fibre route overlaps the design's waveguides")
        outline = kdb.Box(-round(self.die.width / 2 / layout.dbu), -round(self.die.height / 2 / layout.dbu),
                          round(self.die.width / 2 / layout.dbu), round(self.die.height / 2 / layout.dbu))
        if not outline.contains(top.bbox().p1) or not outline.contains(top.bbox().p2):
            raise OptincError(f"--die {self.die.name}: the design ({design_ref.dbbox().width() / 1000:.2f} x "
                              f"{design_ref.dbbox().height() / 1000:.2f} mm) does not fit the die "
                              f"({self.die.width / 1000:g} x {self.die.height / 1000:g} mm)")
        if drawn.merged().count() != n_routes:  # each route one piece: fewer means two routes touch
            raise OptincError(f"--die {self.die.name}: {n_routes} fibre routes drawn as {drawn.merged().count()} "
                              "separate waveguides: two routes touch")
