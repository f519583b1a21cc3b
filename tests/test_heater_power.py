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
