"""Static heater power from the phases of a description, against sums written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from optinc_pdk.analysis.power import P_PI_MW, heater_power, phase_power_w
from optinc_pdk.circuit.model import AttenuatorColumn, Composite, MeshBlock
from optinc_pdk.decompose.mesh import DiagonalColumn, MeshPhases


def test_a_heater_costs_its_wrapped_phase():
    # −π/2 is reached by adding 3π/2 (a heater only adds phase); 2π is 0; 5π/2 is π/2
    phases = np.array([0.0, np.pi / 2, -np.pi / 2, 2 * np.pi, 2.5 * np.pi])
    expected_pi_units = 0 + 0.5 + 1.5 + 0 + 0.5
    assert phase_power_w(phases) == pytest.approx(expected_pi_units * P_PI_MW / 1000)
    assert phase_power_w(phases, p_pi_mw=10.0) == pytest.approx(expected_pi_units * 10.0 / 1000)


def test_every_mzi_phase_and_output_phase_is_a_heater():
    mesh = MeshPhases(2, np.array([np.pi / 4]), np.array([3 * np.pi / 2]), np.array([0]), np.array([0]),
                      np.array([np.pi, 0.0]), "clements")
    column = DiagonalColumn.from_values(np.array([0.5, -0.5]))
    stage = Composite("L1", 2, 2, children=(MeshBlock("L1/U", 2, 2, phases=mesh),
                                            AttenuatorColumn("L1/D", 2, 2, column=column, role="diag")),
                      inputs=np.array([[0, 0], [0, 1]]), links=np.array([[0, 0, 1, 0], [0, 1, 1, 1]]),
                      outputs=np.array([[1, 0], [1, 1]]), role="layer")
    top = Composite("optinc", 2, 2, children=(stage,), inputs=np.array([[0, 0], [0, 1]]),
                    links=np.zeros((0, 4), dtype=np.int64), outputs=np.array([[0, 0], [0, 1]]), role="optinc")
    power = heater_power(top)
    # mesh: θ π/4, φ 3π/2, outputs π and 0; attenuators: their own θ, φ (checked through the column's values)
    attenuator_pi_units = float(np.sum(np.mod(column.theta, 2 * np.pi)) + np.sum(np.mod(column.phi, 2 * np.pi))) / np.pi
    expected = (0.25 + 1.5 + 1.0 + 0.0 + attenuator_pi_units) * P_PI_MW / 1000
    assert power["heaters"] == 4 + 4
    assert power["total_w"] == pytest.approx(expected)
    assert [r["stage"] for r in power["stages"]] == ["L1"]


# -- least power: each MZI's heaters on the arms that cost least (issue 28, point 3) ----------------------

COUPLER = np.array([[1, 1j], [1j, 1]]) / np.sqrt(2)  # a 50:50 coupler, the pinned MZI's


def _physical_mesh(arms, n_modes: int, top_mode: np.ndarray, column: np.ndarray) -> np.ndarray:
    """The mesh from couplers and heaters written out one by one: each heater a phase on the arm it sits on."""
    matrix = np.eye(n_modes, dtype=complex)
    for k in np.argsort(column, kind="stable"):
        inner = [1.0, np.exp(1j * arms.theta[k])] if arms.theta_lower[k] else [np.exp(1j * arms.theta[k]), 1.0]
        outer = [1.0, np.exp(1j * arms.phi[k])] if arms.phi_lower[k] else [np.exp(1j * arms.phi[k]), 1.0]
        a = top_mode[k]
        matrix[a : a + 2] = COUPLER @ np.diag(inner) @ COUPLER @ np.diag(outer) @ matrix[a : a + 2]
    return np.diag(np.exp(1j * arms.output_phase)) @ matrix


@pytest.mark.parametrize("n_modes", [2, 5, 16])
def test_heaters_on_their_cheaper_arms_realise_the_same_mesh_for_less(n_modes):
    from scipy.stats import unitary_group

    from optinc_pdk.decompose import decompose_unitary
    from optinc_pdk.decompose.heater_arms import least_power_arms

    mesh = decompose_unitary(unitary_group.rvs(n_modes, random_state=n_modes), "clements")
    arms = least_power_arms(mesh.n_modes, mesh.theta, mesh.phi, mesh.top_mode, mesh.column, mesh.output_phase)
    np.testing.assert_allclose(_physical_mesh(arms, n_modes, mesh.top_mode, mesh.column), mesh.matrix(), atol=1e-12)
    np.testing.assert_allclose(arms.matrix(n_modes, mesh.top_mode, mesh.column), mesh.matrix(), atol=1e-12)
    assert np.all(arms.phi <= np.pi / 2 + 1e-12)  # the cheapest of ±x and ±x + π
    plain = phase_power_w(np.concatenate([mesh.theta, mesh.phi, mesh.output_phase]))
    assert phase_power_w(arms.phases()) <= plain
    if n_modes >= 5:  # a few MZIs already hold their cheapest setting; in a mesh most do not
        assert phase_power_w(arms.phases()) < 0.8 * plain


def test_decompose_min_power_writes_the_heaters_beside_the_phase_map(tmp_path, run_cli):
    from scipy.stats import unitary_group

    from optinc_pdk.decompose.phasemap import load_phase_map

    np.save(tmp_path / "u.npy", unitary_group.rvs(12, random_state=3))
    code, out, err = run_cli(["decompose", str(tmp_path / "u.npy"), "-o", str(tmp_path / "map"), "--min-power", "--json"])
    assert code == 0, err
    entries, _ = load_phase_map(tmp_path / "map")
    (name, mesh), = entries.items()
    with np.load(tmp_path / "map.heaters.npz", allow_pickle=False) as saved:
        arms = type("Arms", (), {field: saved[f"{name}/{field}"] for field in
                                 ("theta", "phi", "theta_lower", "phi_lower", "output_phase")})
    np.testing.assert_allclose(_physical_mesh(arms, 12, mesh.top_mode, mesh.column), mesh.matrix(), atol=1e-12)
    import json

    power = json.loads(out)["heater_power"]
    assert power["least_w"] == pytest.approx(phase_power_w(np.concatenate([arms.theta, arms.phi, arms.output_phase])))
    assert power["saving"] > 0.3 and power["max_matrix_error"] < 1e-9
