"""Effective index of the optinc strip waveguide's TE0 mode against its width, at 1550 nm.

The fixed-phase delay sections (:mod:`optinc_pdk.pdk.delay`) widen the waveguide; their phase follows
from n_eff(width). The table ``neff_si_strip220.yaml`` beside this module holds n_eff on a width grid,
solved with femwell's finite-element mode solver (full-vector, second-order Nédélec elements) for a
220 nm silicon strip in silica cladding: n_Si = 3.476 (Li, J. Phys. Chem. Ref. Data 9, 561 (1980)),
n_SiO2 = 1.444 (Malitson, JOSA 55, 1205 (1965)), both at 1550 nm. Between grid points the builds
interpolate with a cubic spline (numpy/scipy only: femwell is needed only to regenerate the table,
``python -m optinc_pdk.pdk.neff``, which comes with the cornerstone extra).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import yaml

TABLE = Path(__file__).with_name("neff_si_strip220.yaml")
N_SI, N_SIO2 = 3.476, 1.444
THICKNESS_UM, WAVELENGTH_UM = 0.22, 1.55
TABLE_WIDTHS_UM = np.round(np.arange(0.40, 1.2001, 0.025), 3)


def solve_te0_neff(width_um: float, wavelength_um: float = WAVELENGTH_UM, resolution_um: float = 0.03) -> float:
    """n_eff of the TE0 mode of a ``width_um`` × 220 nm Si strip in SiO2, with femwell (a few seconds)."""
    from collections import OrderedDict

    import shapely
    from femwell.maxwell.waveguide import compute_modes
    from femwell.mesh import mesh_from_OrderedDict
    from skfem import Basis, ElementTriP0
    from skfem.io.meshio import from_meshio

    polygons = OrderedDict(core=shapely.box(-width_um / 2, 0, width_um / 2, THICKNESS_UM),
                           cladding=shapely.box(-3.0, -2.0, 3.0, 2.5))
    mesh = from_meshio(mesh_from_OrderedDict(polygons, {"core": {"resolution": resolution_um, "distance": 0.5}},
                                             default_resolution_max=0.4))
    basis = Basis(mesh, ElementTriP0())
    epsilon = basis.zeros()
    for region, index in (("core", N_SI), ("cladding", N_SIO2)):
        epsilon[basis.get_dofs(elements=region)] = index**2
    modes = compute_modes(basis, epsilon, wavelength=wavelength_um, num_modes=2, order=2)
    te = [m for m in modes if m.te_fraction > 0.5]  # the fundamental TE mode: the highest-index TE-like one
    return float(max(m.n_eff.real for m in te))


@functools.cache
def _table():
    """(widths, the cubic spline through the table), read once per process."""
    from scipy.interpolate import CubicSpline

    data = yaml.safe_load(TABLE.read_text())
    widths = np.asarray(data["width_um"], dtype=np.float64)
    return widths, CubicSpline(widths, np.asarray(data["neff"], dtype=np.float64))


def neff(width_um) -> np.ndarray:
    """TE0 n_eff at 1550 nm for widths inside the table's range (cubic spline through the femwell table)."""
    widths, spline = _table()
    w = np.asarray(width_um, dtype=np.float64)
    if np.any(w < widths[0]) or np.any(w > widths[-1]):
        raise ValueError(f"width {w} µm outside the n_eff table ({widths[0]}–{widths[-1]} µm, {TABLE.name})")
    return spline(w)


def write_table(path: Path = TABLE) -> Path:
    """Solve every width of ``TABLE_WIDTHS_UM`` and write the table (about 2 minutes on 2 cores)."""
    values = [round(solve_te0_neff(float(w)), 6) for w in TABLE_WIDTHS_UM]
    header = ("# TE0 effective index of a 220 nm Si strip in SiO2 at 1550 nm, against the strip width.\n"
              "# Written by `python -m optinc_pdk.pdk.neff` (femwell FEM, optinc_pdk/pdk/neff.py states the model).\n")
    body = {"wavelength_um": WAVELENGTH_UM, "thickness_um": THICKNESS_UM, "n_si": N_SI, "n_sio2": N_SIO2,
            "solver": "femwell compute_modes, order 2, core mesh 0.03 um",
            "width_um": [float(w) for w in TABLE_WIDTHS_UM], "neff": values}
    path.write_text(header + yaml.safe_dump(body, sort_keys=False))
    return path


if __name__ == "__main__":
    print(write_table())
