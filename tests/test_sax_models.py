"""The sax models against docs/conventions.md's formulas, power conservation, and the cells' own netlists."""

from __future__ import annotations

import numpy as np
import pytest
import sax

from optinc_pdk.core.topology import digit_weights, group_size, input_channels
from optinc_pdk.pdk import activate_pdk, get_pdk
from optinc_pdk.pdk import models as m
from optinc_pdk.pdk.netlists import sax_inputs
from optinc_pdk.pdk.ports import east_port, west_port

B = np.array([[1, 1j], [1j, 1]]) / np.sqrt(2)
ANGLES = np.random.default_rng(7).uniform(-2 * np.pi, 2 * np.pi, size=(12, 2))


def _dense(sdict) -> tuple[np.ndarray, list[str]]:
    ports = sorted({p for pair in sdict for p in pair}, key=lambda p: (p[0], int(p[1:])))
    index = {p: i for i, p in enumerate(ports)}
    s = np.zeros((len(ports), len(ports)), dtype=complex)
    for (a, b), value in sdict.items():
        s[index[b], index[a]] = complex(value)
    return s, ports


def _design_transfer(theta: float, phi: float) -> np.ndarray:
    """docs/conventions.md (MZI), both forms: the product and the closed form must agree."""
    product = B @ np.diag([np.exp(1j * theta), 1]) @ B @ np.diag([np.exp(1j * phi), 1])
    closed = 1j * np.exp(1j * theta / 2) * np.array([
        [np.exp(1j * phi) * np.sin(theta / 2), np.cos(theta / 2)],
        [np.exp(1j * phi) * np.cos(theta / 2), -np.sin(theta / 2)],
    ])
    np.testing.assert_allclose(product, closed, atol=1e-14)
    return closed


# --- MZI convention ----------------------------------------------------------------------------

@pytest.mark.parametrize("model", [m.mzi2x2, m.mzi_attenuator])
@pytest.mark.parametrize(("theta", "phi"), ANGLES)
def test_mzi_model_is_the_design_formula(model, theta, phi):
    t = _design_transfer(theta, phi)
    s = model(theta=theta, phi=phi)
    # mode m = upper: in o2, out o3; mode m+1 = lower: in o1, out o4
    got = np.array([[s[("o2", "o3")], s[("o1", "o3")]], [s[("o2", "o4")], s[("o1", "o4")]]], dtype=complex)
    np.testing.assert_allclose(got, t, atol=1e-12)
    for (a, b), value in s.items():
        assert complex(s[(b, a)]) == complex(value), "models must be reciprocal"


def test_mzi_bar_and_cross_states():
    bar = m.mzi2x2(theta=np.pi, phi=0.0)
    cross = m.mzi2x2(theta=0.0, phi=0.0)
    assert abs(complex(bar[("o2", "o3")])) == pytest.approx(1, abs=1e-12)
    assert abs(complex(cross[("o2", "o4")])) == pytest.approx(1, abs=1e-12)
    assert abs(complex(cross[("o2", "o3")])) == pytest.approx(0, abs=1e-12)


def test_mzi_transfer_broadcasts_over_arrays():
    t = np.asarray(m.mzi_transfer(ANGLES[:, 0], ANGLES[:, 1]))
    assert t.shape == (len(ANGLES), 2, 2)
    for k, (theta, phi) in enumerate(ANGLES):
        np.testing.assert_allclose(t[k], _design_transfer(theta, phi), atol=1e-12)


@pytest.mark.parametrize("value", [1.0, 0.25, -0.5, 0.3j, 0.0, -1.0, 0.6 - 0.2j])
def test_attenuator_setting_realises_the_value(value):
    theta, phi = m.attenuator_setting(value)
    assert _design_transfer(float(theta), float(phi))[0, 0] == pytest.approx(value, abs=1e-12)


def test_attenuator_setting_refuses_gain():
    with pytest.raises(ValueError, match="amplify"):
        m.attenuator_setting(1.2)


def test_dc_coupler_is_b_and_phase_shifter_is_a_phase():
    s = m.dc_coupler()
    got = np.array([[s[("o2", "o3")], s[("o1", "o3")]], [s[("o2", "o4")], s[("o1", "o4")]]], dtype=complex)
    np.testing.assert_allclose(got, B, atol=1e-15)
    assert complex(m.phase_shifter(phase=0.8)[("o1", "o2")]) == pytest.approx(np.exp(0.8j), abs=1e-12)


# --- splitters, combiners, trees ---------------------------------------------------------------

def test_splitter_and_combiner_amplitudes():
    split = m.splitter_1x2()
    assert complex(split[("o1", "o2")]) == pytest.approx(1 / np.sqrt(2))
    assert complex(split[("o1", "o3")]) == pytest.approx(1 / np.sqrt(2))
    comb = m.combiner_2x1()
    a, b = 0.3 + 0.1j, -0.2 + 0.4j
    out = complex(comb[("o1", "o3")]) * a + complex(comb[("o2", "o3")]) * b
    assert out == pytest.approx((a + b) / np.sqrt(2))


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 12])
def test_trees_conserve_power_and_weight_powers_of_two_equally(n):
    split = m.splitter_tree(n_outputs=n)
    amps = np.array([complex(split[("o1", east_port(j, 1, n))]) for j in range(n)])
    assert np.sum(np.abs(amps) ** 2) == pytest.approx(1.0)
    comb = m.combiner_tree(n_inputs=n)
    out = east_port(0, n, 1)
    weights = np.array([complex(comb[(west_port(j, n), out)]) for j in range(n)])
    # in-phase inputs shaped like the splitter's outputs recombine without loss
    assert abs(np.sum(weights * amps)) == pytest.approx(1.0)
    if n & (n - 1) == 0:
        np.testing.assert_allclose(weights, 1 / np.sqrt(n))


# --- power: lossless devices are unitary, every model is passive --------------------------------

LOSSLESS = [
    (m.straight, {}), (m.sbend, {}), (m.phase_shifter, {"phase": 1.3}), (m.dc_coupler, {}),
    (m.mzi2x2, {"theta": 0.4, "phi": 2.2}), (m.mzi_attenuator, {"theta": 2.0, "phi": -1.0}), (m.nonlinear_unit, {}),
]


@pytest.mark.parametrize(("model", "kwargs"), LOSSLESS, ids=[f.__name__ for f, _ in LOSSLESS])
def test_lossless_models_are_unitary(model, kwargs):
    s, _ = _dense(model(**kwargs))
    np.testing.assert_allclose(s.conj().T @ s, np.eye(len(s)), atol=1e-12)


@pytest.mark.parametrize("name", sorted(m.MODELS))
def test_every_model_is_passive(name):
    s, _ = _dense(m.MODELS[name]())
    assert np.linalg.norm(s, 2) <= 1 + 1e-12


def test_nonlinear_unit_is_a_linear_pass_through():
    assert complex(m.nonlinear_unit()[("o1", "o2")]) == 1


# --- composite models against docs/conventions.md -----------------------------------------------

@pytest.mark.parametrize(("servers", "bits"), [(4, 8), (8, 8), (4, 16), (3, 16)])
def test_averager_model_computes_the_weighted_group_sum(servers, bits):
    """Output j is Σ_{i,t} 4^(t−(G−1))·a·d_(i,jG+t) with a = 1/√(N·G) the ratio-weighted combiner tree's leaf
    amplitude (3 servers included), i.e. x_j = (1/N) Σ_i Σ_t 4^t d_(i,jG+t) (docs/conventions.md, Preprocessing)
    times N / (4^(G−1)·√(N·G))."""
    groups = group_size(bits, 4)
    n_in, per_group = servers * bits // 2, servers * groups
    s = m.averager(n_servers=servers, bits=bits, n_outputs=4)
    leaf = np.full(per_group, 1 / np.sqrt(per_group))
    digits = np.random.default_rng(servers + bits).integers(0, 4, size=(servers, bits // 2))
    field = np.zeros(n_in)
    for i in range(servers):
        for k in range(bits // 2):
            field[input_channels(servers, bits // 2, 4)[i, k]] = digits[i, k]
    for j in range(4):
        out = sum(complex(s.get((west_port(c, n_in), east_port(j, n_in, 4)), 0)) * field[c] for c in range(n_in))
        expected = sum(4.0 ** (t - groups + 1) * leaf[i * groups + t] * digits[i, j * groups + t]
                       for i in range(servers) for t in range(groups))
        assert out == pytest.approx(expected, abs=1e-12)
        x_j = sum(4 ** t * digits[i, j * groups + t] for i in range(servers) for t in range(groups)) / servers
        assert out.real == pytest.approx(servers / (4 ** (groups - 1) * np.sqrt(per_group)) * x_j)
    assert digit_weights(groups).tolist() == [4.0 ** (t - groups + 1) for t in range(groups)]


def test_bias_injector_applies_each_attenuator():
    values = np.array([0.5, -0.25, 0.1j])
    theta, phi = m.attenuator_setting(values)
    s = m.bias_injector(n_modes=3, theta=theta, phi=phi)
    amps = [complex(m.splitter_tree(n_outputs=3)[("o1", east_port(c, 1, 3))]) for c in range(3)]
    for c in range(3):
        assert complex(s[("o1", east_port(c, 1, 3))]) == pytest.approx(amps[c] * values[c], abs=1e-12)
    assert complex(m.bias_injector(n_modes=1)[("o1", "o2")]) == pytest.approx(1, abs=1e-12)


# --- models agree with the layouts' own netlists ------------------------------------------------

def _circuit(cell_name: str, **cell_kwargs):
    activate_pdk()
    component = get_pdk().cells[cell_name](**cell_kwargs)
    netlist, models = sax_inputs(component)
    circuit, _ = sax.circuit(netlist, models=models)
    return circuit


def _assert_same(sdict_a, sdict_b):
    for key in set(sdict_a) | set(sdict_b):
        assert complex(sdict_a.get(key, 0)) == pytest.approx(complex(sdict_b.get(key, 0)), abs=1e-12), key


@pytest.mark.parametrize("cell", ["mzi2x2", "mzi_attenuator"])
def test_mzi_netlist_reproduces_the_mzi_model(cell):
    """The drawn MZI (heaters, couplers, arms) composes to T(θ, φ): heaters sit where the formula says."""
    circuit = _circuit(cell)
    for theta, phi in ANGLES[:4]:
        _assert_same(circuit(heater_theta={"phase": theta}, heater_phi={"phase": phi}),
                     m.MODELS[cell](theta=theta, phi=phi))


@pytest.mark.parametrize(
    ("cell", "kwargs"),
    [("splitter_tree", {"n_outputs": 5}), ("combiner_tree", {"n_inputs": 6}),
     ("splitter_array", {"n_inputs": 2, "n_servers": 3})],
)
def test_tree_netlists_reproduce_their_models(cell, kwargs):
    _assert_same(_circuit(cell, **kwargs)(), m.MODELS[cell](**kwargs))


@pytest.mark.filterwarnings("ignore:Unconnected ports")  # the attenuators' o1/o4 stay open by design
def test_averager_netlist_with_design_attenuators_reproduces_its_model():
    kwargs = {"n_servers": 2, "bits": 16, "n_outputs": 4}
    groups, n_in = group_size(16, 4), 2 * 8
    circuit = _circuit("averager", **kwargs)
    weights = digit_weights(groups).tolist()
    settings = {}
    for ch in range(n_in):
        t = ch % groups
        if t < groups - 1:
            theta, phi = m.attenuator_setting(weights[t])
            settings[f"weight{ch}"] = {"theta": float(theta), "phi": float(phi)}
    _assert_same(circuit(**settings), m.averager(**kwargs))


@pytest.mark.filterwarnings("ignore:Unconnected ports")
def test_bias_injector_netlist_reproduces_its_model():
    theta, phi = m.attenuator_setting(np.array([0.9, -0.3, 0.5j]))
    circuit = _circuit("bias_injector", n_modes=3)
    settings = {f"bias{c}": {"theta": float(theta[c]), "phi": float(phi[c])} for c in range(3)}
    _assert_same(circuit(**settings), m.bias_injector(n_modes=3, theta=theta, phi=phi))


def test_models_evaluate_the_projects_one_mzi_formula():
    """The sax models call optinc_pdk.core.mzi with jax.numpy: same numbers as the numpy evaluation."""
    from optinc_pdk.core.mzi import attenuator_value
    from optinc_pdk.core.mzi import mzi_transfer as numpy_transfer

    np.testing.assert_allclose(np.asarray(m.mzi_transfer(ANGLES[:, 0], ANGLES[:, 1])),
                               numpy_transfer(ANGLES[:, 0], ANGLES[:, 1]), rtol=0, atol=1e-15)
    s = m.bias_injector(n_modes=3, theta=ANGLES[:3, 0], phi=ANGLES[:3, 1])
    amps = [complex(m.splitter_tree(n_outputs=3)[("o1", east_port(c, 1, 3))]) for c in range(3)]
    expected = np.array(amps) * attenuator_value(ANGLES[:3, 0], ANGLES[:3, 1])
    got = [complex(s[("o1", east_port(c, 1, 3))]) for c in range(3)]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
