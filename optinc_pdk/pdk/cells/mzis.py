"""The MZI cells: ``mzi2x2`` (mesh) and ``mzi_attenuator`` (Σ entries), and their fixed-phase frames
``mzi2x2_fixed`` and ``mzi_attenuator_fixed`` (open heater slots). Only these start with "mzi".

Balanced 2x2 MZI in light's order: external φ heater on the upper input arm, 50:50 coupler,
internal θ heater on the upper arm, 50:50 coupler (docs/conventions.md, MZI:
T(θ, φ) = B·diag(e^{iθ},1)·B·diag(e^{iφ},1)). Both arms have equal length.

Fixed footprint (``dimensions.mzi2x2_bbox``): optical ports at x = 0 and x = mzi_length, at
y = 0 (lower = mode m+1: o1 in, o4 out) and y = arm spacing (upper = mode m: o2 in, o3 out);
heater pads above the upper arm with electrical ports facing north: e1/e2 = φ heater
(west/east contact), e3/e4 = θ heater (a mesh MZI may carry either heater on its lower arm instead,
pads between the arms: ``mzi2x2(theta_lower=, phi_lower=)``). Mesh MZIs therefore tile with column pitch
mzi_length and row pitch 2·mode_pitch. Instances inside are named heater_phi, heater_theta,
arm_phi, arm_theta, dc_in, dc_out.
"""

from __future__ import annotations

from typing import Any

import gdsfactory as gf

from optinc_pdk.pdk.cells._cell import geometry_cell
from optinc_pdk.pdk.cells.couplers import dc_coupler
from optinc_pdk.pdk.cells.heaters import phase_shifter
from optinc_pdk.pdk.cells.waveguides import add_optical_port, straight
from optinc_pdk.pdk.dimensions import dc_length
from optinc_pdk.spec.geometry import DeviceGeometry


def _balanced_mzi(arm_spacing: float | None, geometry: dict[str, Any], heaters: bool = True,
                  lower: tuple[bool, bool] = (False, False)) -> gf.Component:
    """``lower`` = (φ heater, θ heater) on the lower arm; that slot's upper arm is then a plain straight."""
    g = DeviceGeometry(**geometry)
    spacing = g.mode_pitch if arm_spacing is None else arm_spacing
    heater = phase_shifter(geometry=geometry)
    arm = straight(length=g.heater_length, geometry=geometry)
    coupler = dc_coupler(spacing=arm_spacing, geometry=geometry)
    section = g.heater_length + dc_length(g)
    c = gf.Component()
    refs = {}
    for k, (phase, on_lower) in enumerate(zip(("phi", "theta"), lower)):
        x0 = k * section
        heater_y, arm_y = (0.0, spacing) if on_lower else (spacing, 0.0)
        if heaters:
            refs[f"heater_{phase}"] = c.add_ref(heater, name=f"heater_{phase}").dmove((x0, heater_y))
        refs[f"arm_{phase}"] = c.add_ref(arm, name=f"arm_{phase}").dmove((x0, arm_y))
        refs[f"dc_{('in', 'out')[k]}"] = c.add_ref(coupler, name=f"dc_{('in', 'out')[k]}").dmove(
            (x0 + g.heater_length, 0)
        )
    phi_lower = heaters and lower[0]  # then the φ heater is the lower arm's west end, the straight the upper's
    c.add_port("o1", port=refs["heater_phi" if phi_lower else "arm_phi"].ports["o1"])
    if heaters:
        c.add_port("o2", port=refs["arm_phi" if phi_lower else "heater_phi"].ports["o1"])
    else:  # the φ slot is open: the west port is where the delay section placed there begins
        add_optical_port(c, "o2", 0, spacing, 180, g.wg_width)
    c.add_port("o3", port=refs["dc_out"].ports["o3"])
    c.add_port("o4", port=refs["dc_out"].ports["o4"])
    for k, phase in enumerate(("phi", "theta") if heaters else ()):
        c.add_port(f"e{2 * k + 1}", port=refs[f"heater_{phase}"].ports["e1"])
        c.add_port(f"e{2 * k + 2}", port=refs[f"heater_{phase}"].ports["e2"])
    return c


def _with_phases(c: gf.Component, **phases: float) -> gf.Component:
    c.info.update({name: float(value) for name, value in phases.items()})
    return c


@geometry_cell
def mzi2x2(theta: float = 0.0, phi: float = 0.0, theta_lower: bool = False, phi_lower: bool = False,
           geometry: dict[str, Any] | None = None) -> gf.Component:
    """Mesh MZI; ports at y = 0 and y = mode_pitch (see module docstring).

    ``theta``/``phi`` are the MZI's operating point, recorded in its settings and ``info`` for
    netlists and models; phases are never geometry, so every setting draws the same cell.
    ``theta_lower``/``phi_lower`` draw that heater on the lower arm (``optinc build --min-power``): its
    contact pads then sit between the arms, still facing north, and its slot on the upper arm is a
    plain straight. Ports and footprint width are unchanged.
    """
    c = _balanced_mzi(None, geometry, lower=(bool(phi_lower), bool(theta_lower)))
    return _with_phases(c, theta=theta, phi=phi)


@geometry_cell
def mzi2x2_fixed(theta: float = 0.0, phi: float = 0.0, geometry: dict[str, Any] | None = None) -> gf.Component:
    """The mesh MZI of a fixed-phase build (``--phases fixed``): the two heater slots of the upper arm are
    left open, with no heater, pad or electrical port; the layout places a ``phase_delay`` of the MZI's φ
    and θ in them (x = 0 and x = heater_length + dc_length, y = mode_pitch). Ports as :func:`mzi2x2`."""
    return _with_phases(_balanced_mzi(None, geometry, heaters=False), theta=theta, phi=phi)


@geometry_cell
def mzi_attenuator(theta: float = 0.0, phi: float = 0.0, geometry: dict[str, Any] | None = None) -> gf.Component:
    """Σ-entry MZI: the same MZI with arms attenuator_arm_spacing apart, used upper-in (o2) to
    upper-out (o3), |T00| = sin(θ/2); o1/o4 stay unconnected (o4 carries the rejected light).
    ``theta``/``phi`` as for :func:`mzi2x2`."""
    g = DeviceGeometry(**geometry)
    return _with_phases(_balanced_mzi(g.attenuator_arm_spacing, geometry), theta=theta, phi=phi)


@geometry_cell
def mzi_attenuator_fixed(theta: float = 0.0, phi: float = 0.0, geometry: dict[str, Any] | None = None) -> gf.Component:
    """The Σ attenuator of a fixed-phase build: :func:`mzi_attenuator` with open heater slots, as
    :func:`mzi2x2_fixed`."""
    g = DeviceGeometry(**geometry)
    return _with_phases(_balanced_mzi(g.attenuator_arm_spacing, geometry, heaters=False), theta=theta, phi=phi)
