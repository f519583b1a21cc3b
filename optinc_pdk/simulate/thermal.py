"""Thermal crosstalk between heaters, from the layout's heater distances (``optinc yield --crosstalk layout``).

A thermo-optic heater is a long line source of heat above the buried oxide; the silicon substrate under
the BOX is the heat sink (isothermal). In the cross-section the temperature of a line source above an
isothermal plane follows from the method of images (a source at height h above the plane and a sink at
h below it): T(r) ∝ ln(r_image / r_source). A waveguide at lateral distance x from a heater therefore
warms by

    κ(x) = ln(ρ_image(x) / ρ_source(x)) / ln(ρ_image(0) / ρ_source(0)),
    ρ_source(x) = √(x² + (z_heater − z_core)²),  ρ_image(x) = √(x² + (z_heater + z_core + 2·t_box)²)

of what its own heater's waveguide (x = 0) does, and since phase ∝ temperature rise, κ is the phase it
gains per rad of the neighbour's phase. Heights are measured from the bottom of the silicon core. The
stack (stated so a foundry's thermal data can replace it): the heater 1.1 µm above the core bottom and
a 0.22 µm core (cspdk 2.1 si220 layer stack: ``zmin_heater``, ``thickness_wg``), on a 2 µm buried oxide
(CORNERSTONE 220 nm SOI). Neglected: the heat the top surface loses (an adiabatic top would add more
images, raising κ far away), the heater's finite length (fine for x below the 100 µm heater length),
and trenches (which lower κ). It gives 1.9 % at 20 µm, 0.31 % at 50 µm and 0.079 % at 100 µm; check
it against your foundry's measurements (Jacques et al., Opt. Express 27:10456, 2019, measure thermal
crosstalk of SOI heaters against distance and trenches).

Distances come from the same geometry the layout draws with (``device.mode_pitch``): a mesh MZI's
heater neighbours sit two mode pitches above and below it in its column, a mesh output phase shifter's
one pitch away.
"""

from __future__ import annotations

import math

from optinc_pdk.spec.geometry import DeviceGeometry

HEATER_HEIGHT_UM = 1.1  # above the bottom of the Si core (cspdk 2.1 si220 LAYER_STACK, zmin_heater)
CORE_CENTRE_UM = 0.11  # half the 220 nm core
BOX_UM = 2.0  # buried oxide under the core (CORNERSTONE 220 nm SOI)


def heater_coupling(distance_um: float, heater_height_um: float = HEATER_HEIGHT_UM, core_centre_um: float = CORE_CENTRE_UM,
                    box_um: float = BOX_UM) -> float:
    """κ(x): the phase a waveguide ``distance_um`` to the side of a heater gains per rad of that heater's own phase."""
    above = heater_height_um - core_centre_um  # heater above the core centre
    below = heater_height_um + core_centre_um + 2 * box_um  # the image heater under the substrate plane

    def rise(x: float) -> float:
        return 0.5 * math.log((x * x + below * below) / (x * x + above * above))

    return rise(distance_um) / rise(0.0)


def layout_crosstalk(device: DeviceGeometry) -> tuple[float, float]:
    """(κ between neighbouring MZI heaters of a mesh column, κ between adjacent output phase shifters)."""
    return heater_coupling(2 * device.mode_pitch), heater_coupling(device.mode_pitch)
