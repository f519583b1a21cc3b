"""The pinned MZI formula (docs/conventions.md, MZI), its attenuator inverse and phase wrapping."""

import numpy as np
import pytest

from optinc_pdk.core.mzi import TWO_PI, attenuator_phases, attenuator_value, mzi_transfer, wrap_phase
from optinc_pdk.errors import OptincError

COUPLER = np.array([[1, 1j], [1j, 1]]) / np.sqrt(2)


def transfer_by_products(theta: float, phi: float) -> np.ndarray:
    return COUPLER @ np.diag([np.exp(1j * theta), 1]) @ COUPLER @ np.diag([np.exp(1j * phi), 1])


def test_transfer_matches_coupler_products_and_is_unitary():
    rng = np.random.default_rng(0)
    theta, phi = rng.uniform(-7, 7, size=(2, 50))
    transfer = mzi_transfer(theta, phi)
    assert transfer.shape == (50, 2, 2)
    for k in range(50):
        np.testing.assert_allclose(transfer[k], transfer_by_products(theta[k], phi[k]), atol=1e-14)
    identity = np.broadcast_to(np.eye(2), (50, 2, 2))
    np.testing.assert_allclose(transfer @ np.conj(np.swapaxes(transfer, -1, -2)), identity, atol=1e-14)


def test_transfer_broadcasts_and_states():
    assert mzi_transfer(np.zeros((3, 4)), 0.5).shape == (3, 4, 2, 2)
    bar = mzi_transfer(np.pi, 0.0)
    cross = mzi_transfer(0.0, 0.0)
    assert abs(bar[0, 1]) < 1e-15 and abs(abs(bar[0, 0]) - 1) < 1e-15
    assert abs(cross[0, 0]) < 1e-15 and abs(abs(cross[0, 1]) - 1) < 1e-15


def test_wrap_phase_range():
    values = np.array([-1e-17, -TWO_PI, 0.0, TWO_PI, 3 * TWO_PI + 0.5, -0.5, 1e6])
    wrapped = wrap_phase(values)
    assert np.all(wrapped >= 0) and np.all(wrapped < TWO_PI)
    np.testing.assert_allclose(np.exp(1j * wrapped), np.exp(1j * values), atol=1e-9)
    assert wrap_phase(-1e-17) == 0.0


@pytest.mark.parametrize(
    "value", [0.0, 1.0, -1.0, 0.5, -0.25, 1j, -0.3 - 0.4j, np.exp(2.5j), 1e-300, -1e-300, 1 + 1e-12]
)
def test_attenuator_phases_realise_the_value(value):
    theta, phi = attenuator_phases(value)
    assert 0 <= theta <= np.pi + 1e-15 and 0 <= phi < TWO_PI
    expected = value / max(1.0, abs(value))
    assert abs(transfer_by_products(theta, phi)[0, 0] - expected) < 1e-12
    assert abs(attenuator_value(theta, phi) - expected) < 1e-12


def test_attenuator_phases_vectorised():
    rng = np.random.default_rng(1)
    values = rng.uniform(-1, 1, 100) * np.exp(1j * rng.uniform(0, 7, 100))
    theta, phi = attenuator_phases(values)
    np.testing.assert_allclose(attenuator_value(theta, phi), values, atol=1e-14)


@pytest.mark.parametrize("value", [1.01, 2j, np.nan, np.inf])
def test_attenuator_rejects_gain_and_non_finite(value):
    with pytest.raises(OptincError):
        attenuator_phases(np.array([0.5, value]))
