"""Thermal crosstalk from the layout's heater distances (issue 29, error model 1): the image-method coupling
against a finite-difference solution of the same heat problem, and the CLI's `--crosstalk layout`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from optinc_pdk.simulate.thermal import BOX_UM, CORE_CENTRE_UM, HEATER_HEIGHT_UM, heater_coupling, layout_crosstalk
from optinc_pdk.spec.scenario import load_scenario


def _finite_difference_rise(distances: list[float], step: float = 0.25, half_width: float = 150.0,
                            height: float = 150.0) -> np.ndarray:
    """Temperature rise at the core centre ``distances`` to the side of a heater, relative to right under it.

    Laplace's equation in the cross-section on a uniform grid: the substrate plane (the top of the BOX's
    bottom, z = −BOX) and the far sides and top held at 0, a unit heat source in the heater's cell.
    """
    nx, nz = int(2 * half_width / step) + 1, int((height + BOX_UM) / step) + 1
    x = np.linspace(-half_width, half_width, nx)
    z = -BOX_UM + step * np.arange(nz)
    inner = (slice(1, nx - 1), slice(1, nz - 1))
    index = -np.ones((nx, nz), dtype=np.int64)
    index[inner] = np.arange((nx - 2) * (nz - 2)).reshape(nx - 2, nz - 2)
    rows, cols, values = [], [], []
    centre = index[inner].ravel()
    rows.append(centre), cols.append(centre), values.append(np.full(centre.size, -4.0))
    for dx, dz in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        neighbour = index[1 + dx : nx - 1 + dx, 1 + dz : nz - 1 + dz].ravel()
        keep = neighbour >= 0  # boundary neighbours are 0 (Dirichlet)
        rows.append(centre[keep]), cols.append(neighbour[keep]), values.append(np.ones(keep.sum()))
    laplacian = sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(centre.size, centre.size))
    source = np.zeros(centre.size)
    source[index[np.argmin(np.abs(x)), np.argmin(np.abs(z - HEATER_HEIGHT_UM))]] = -1.0
    temperature = spla.spsolve(laplacian.tocsc(), source)
    row = np.argmin(np.abs(z - CORE_CENTRE_UM))
    at = [temperature[index[np.argmin(np.abs(x - d)), row]] for d in [0.0, *distances]]
    return np.array(at[1:]) / at[0]


def test_image_method_coupling_matches_a_finite_difference_heat_solution():
    distances = [5.0, 10.0, 20.0]
    numeric = _finite_difference_rise(distances)
    analytic = np.array([heater_coupling(d) for d in distances])
    # the grid quantises the heater/core heights to 0.25 µm and truncates the domain: agreement within 15 %
    np.testing.assert_allclose(analytic, numeric, rtol=0.15)
    assert heater_coupling(0.0) == 1.0 and np.all(np.diff([heater_coupling(d) for d in (0, 5, 10, 20, 50, 100)]) < 0)


def test_layout_crosstalk_uses_the_drawn_heater_pitches():
    device = load_scenario("b8n4").device
    between_mzis, between_outputs = layout_crosstalk(device)
    assert between_mzis == heater_coupling(2 * device.mode_pitch)  # MZIs of a column: two mode pitches apart
    assert between_outputs == heater_coupling(device.mode_pitch)
    assert 0 < between_mzis < between_outputs < 0.01


def test_yield_takes_crosstalk_from_the_layout(run_cli):
    code, out, err = run_cli(["yield", "demo", "--crosstalk", "layout", "--sigma-phase", "0", "--samples", "2", "--json"])
    assert code == 0, err
    model = json.loads(out)["results"][0]["error_model"]
    expected = layout_crosstalk(load_scenario("demo").device)
    assert (model["crosstalk"], model["crosstalk_output"]) == pytest.approx(expected)
    code, _, err = run_cli(["yield", "demo", "--crosstalk", "hot"])
    assert code == 2 and "--crosstalk" in err
