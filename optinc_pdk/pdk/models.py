"""Ideal sax models, one per cell and named like it: plain functions returning S-dicts.

An S-dict maps (port, port) to a complex amplitude; missing pairs are zero. All devices are
passive, lossless where physics allows, and reciprocal (both orders of every pair are listed).
Port names follow ``ports.py``. Phases enter only here, never in the cells.

The MZI follows docs/conventions.md (MZI) exactly: with B = (1/√2)[[1, i], [i, 1]] and mode m = upper
(in o2, out o3), mode m+1 = lower (in o1, out o4),

    T(θ, φ) = B·diag(e^{iθ}, 1)·B·diag(e^{iφ}, 1)
            = i·e^{iθ/2}·[[e^{iφ} sin(θ/2), cos(θ/2)], [e^{iφ} cos(θ/2), −sin(θ/2)]],

and S[(o2, o3)] = T[0, 0], S[(o1, o3)] = T[0, 1], S[(o2, o4)] = T[1, 0], S[(o1, o4)] = T[1, 1].
That formula is :func:`optinc_pdk.core.mzi.mzi_transfer` itself, evaluated with ``jax.numpy``: the models,
the decomposer and the simulator share one implementation.

jax is imported on the first model call, not on import: ``MODELS`` are plain functions, so the PDK
(and ``optinc build``, which only draws) works without jax or sax installed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optinc_pdk.core import mzi as _mzi
from optinc_pdk.core.topology import digit_weights, group_size, input_channels, tree_leaf_amplitudes
from optinc_pdk.errors import OptincError
from optinc_pdk.pdk.ports import east_port, west_port

SDict = dict[tuple[str, str], complex]

_UPPER_IN, _LOWER_IN, _UPPER_OUT, _LOWER_OUT = "o2", "o1", "o3", "o4"


def _reciprocal(transmissions: dict[tuple[str, str], object]) -> SDict:
    s = dict(transmissions)
    s.update({(b, a): v for (a, b), v in transmissions.items()})
    return s  # type: ignore[return-value]


_JNP = None


def _jnp():
    """jax.numpy, imported on first use, in double precision.

    x64 is what sax itself switches on when imported: without it the models would be complex64 or
    complex128 depending on whether sax happened to be imported first.
    """
    global _JNP
    if _JNP is None:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        _JNP = jnp
    return _JNP


def mzi_transfer(theta, phi):
    """The 2x2 transfer matrix T(θ, φ) of docs/conventions.md (rows/cols: mode m, mode m+1); broadcasts.

    :func:`optinc_pdk.core.mzi.mzi_transfer` evaluated with jax.numpy.
    """
    return _mzi.mzi_transfer(theta, phi, xp=_jnp())


def _mzi_sdict(theta, phi, theta_lower: bool = False, phi_lower: bool = False) -> SDict:
    t = (_mzi.mzi_transfer_arms(theta, phi, theta_lower, phi_lower, xp=_jnp()) if theta_lower or phi_lower
         else mzi_transfer(theta, phi))
    return _reciprocal({
        (_UPPER_IN, _UPPER_OUT): t[..., 0, 0],
        (_LOWER_IN, _UPPER_OUT): t[..., 0, 1],
        (_UPPER_IN, _LOWER_OUT): t[..., 1, 0],
        (_LOWER_IN, _LOWER_OUT): t[..., 1, 1],
    })


def attenuator_setting(value) -> tuple[np.ndarray, np.ndarray]:
    """(θ, φ) that make an attenuator's T[0, 0] (o2 → o3) equal ``value`` (|value| <= 1, complex allowed).

    T00 = i·e^{iθ/2}·e^{iφ}·sin(θ/2), so θ = 2·arcsin|value| and φ = arg(value) − π/2 − θ/2: the
    inverse formula :func:`optinc_pdk.core.mzi.attenuator_phases` (phases wrapped to [0, 2π)).
    """
    try:
        return _mzi.attenuator_phases(np.asarray(value, dtype=complex))
    except OptincError as error:
        raise ValueError(f"an attenuator cannot amplify: |value| must be <= 1 ({error})") from None


# --- leaf cells ----------------------------------------------------------------------------

def straight(length: float = 10.0) -> SDict:
    """Ideal waveguide: unit transmission (propagation phase is absorbed into calibration)."""
    jnp = _jnp()
    return _reciprocal({("o1", "o2"): jnp.ones_like(jnp.asarray(length), dtype=complex)})


def sbend(dx: float | None = None, dy: float = 25.0) -> SDict:
    """Ideal S-bend: unit transmission."""
    jnp = _jnp()
    return _reciprocal({("o1", "o2"): jnp.asarray(1.0 + 0j)})


def phase_shifter(phase: float = 0.0) -> SDict:
    """Thermo-optic phase shifter: o1 → o2 picks up e^{i·phase}."""
    jnp = _jnp()
    return _reciprocal({("o1", "o2"): jnp.exp(1j * jnp.asarray(phase))})


def phase_delay(level: int = 0, levels: int = 4096, width: float = 0.8, taper_length: float = 10.0) -> SDict:
    """Fixed-phase delay section: o1 → o2 picks up e^{i·level·2π/levels} relative to a plain strip."""
    jnp = _jnp()
    return _reciprocal({("o1", "o2"): jnp.exp(2j * jnp.pi * jnp.asarray(level) / levels)})


def dc_coupler(spacing: float | None = None) -> SDict:
    """50:50 directional coupler B = (1/√2)[[1, i], [i, 1]]: bar 1/√2, cross i/√2."""
    jnp = _jnp()
    bar, cross = jnp.asarray(1 / np.sqrt(2) + 0j), jnp.asarray(1j / np.sqrt(2))
    return _reciprocal({
        (_UPPER_IN, _UPPER_OUT): bar, (_LOWER_IN, _LOWER_OUT): bar,
        (_LOWER_IN, _UPPER_OUT): cross, (_UPPER_IN, _LOWER_OUT): cross,
    })


def mzi2x2(theta: float = 0.0, phi: float = 0.0, theta_lower: bool = False, phi_lower: bool = False) -> SDict:
    """Mesh MZI, T(θ, φ) of docs/conventions.md; θ = 0 cross, θ = π bar. A heater on the lower arm
    (``theta_lower``/``phi_lower``, a ``--min-power`` build) adds its phase there
    (:func:`optinc_pdk.core.mzi.mzi_transfer_arms`)."""
    return _mzi_sdict(theta, phi, theta_lower, phi_lower)


def mzi_attenuator(theta: float = 0.0, phi: float = 0.0) -> SDict:
    """Σ attenuator: the same T(θ, φ); used o2 → o3 with |T00| = sin(θ/2)."""
    return _mzi_sdict(theta, phi)


def mzi2x2_fixed(theta: float = 0.0, phi: float = 0.0) -> SDict:
    """The fixed-phase frame with its two ``phase_delay`` cells of θ and φ in place: the same T(θ, φ)."""
    return _mzi_sdict(theta, phi)


def mzi_attenuator_fixed(theta: float = 0.0, phi: float = 0.0) -> SDict:
    """As :func:`mzi2x2_fixed`, for the Σ attenuator."""
    return _mzi_sdict(theta, phi)


def splitter_1x2(ratio: float = 0.5) -> SDict:
    """1x2 splitter sending the power share ``ratio`` to its upper output o2 (1/2: the symmetric MMI)."""
    jnp = _jnp()
    ratio = jnp.asarray(ratio, dtype=float)
    return _reciprocal({("o1", "o2"): jnp.sqrt(ratio) + 0j, ("o1", "o3"): jnp.sqrt(1.0 - ratio) + 0j})


def combiner_2x1(ratio: float = 0.5) -> SDict:
    """2x1 combiner, the splitter's reciprocal: out = √ratio·upper (o2) + √(1 − ratio)·lower (o1)
    (the rest of the light is radiated)."""
    jnp = _jnp()
    ratio = jnp.asarray(ratio, dtype=float)
    return _reciprocal({("o2", "o3"): jnp.sqrt(ratio) + 0j, ("o1", "o3"): jnp.sqrt(1.0 - ratio) + 0j})


def crossing(loss_db: float = 0.0) -> SDict:
    """Waveguide crossing: o1 ↔ o3 (west–east) and o2 ↔ o4 (north–south), each 10^(−loss_db/20); no crosstalk
    (the foundry crossings' −40 dB and below is beyond this model)."""
    jnp = _jnp()
    through = jnp.asarray(10.0 ** (-jnp.asarray(loss_db, dtype=float) / 20.0) + 0j)
    return _reciprocal({("o1", "o3"): through, ("o2", "o4"): through})


def nonlinear_unit() -> SDict:
    """Linear pass-through. The behavioural simulator applies the ReLU; a linear S-matrix cannot."""
    jnp = _jnp()
    return _reciprocal({("o1", "o2"): jnp.asarray(1.0 + 0j)})


#: Edge-coupler insertion loss (dB) of the model: typical SOI inverse tapers to a cleaved or lensed
#: fibre reach 1-3 dB per facet; a foundry PDK's model replaces this with its own.
EDGE_COUPLER_LOSS_DB = 2.0


def edge_coupler(facet: str = "west") -> SDict:
    """Chip waveguide o1 to fibre o2 with EDGE_COUPLER_LOSS_DB (the facet side does not change it)."""
    jnp = _jnp()
    return _reciprocal({("o1", "o2"): jnp.asarray(10 ** (-EDGE_COUPLER_LOSS_DB / 20) + 0j)})


def die_frame(width: float = 1000.0, height: float = 1000.0, label: str = "die") -> SDict:
    """The die outline has no optical ports: an empty S-matrix."""
    return {}


# --- composite cells -----------------------------------------------------------------------

def splitter_tree(n_outputs: int = 4) -> SDict:
    """1→n tree of ratio-weighted splitters: every output channel receives 1/√n of the input field."""
    jnp = _jnp()
    amps = tree_leaf_amplitudes(n_outputs)
    return _reciprocal({("o1", east_port(j, 1, n_outputs)): jnp.asarray(a + 0j) for j, a in enumerate(amps)})


def combiner_tree(n_inputs: int = 4) -> SDict:
    """n→1 tree of ratio-weighted combiners: out = Σ_j in_j/√n."""
    jnp = _jnp()
    amps = tree_leaf_amplitudes(n_inputs)
    out = east_port(0, n_inputs, 1)
    return _reciprocal({(west_port(j, n_inputs), out): jnp.asarray(a + 0j) for j, a in enumerate(amps)})


def averager(n_servers: int = 4, bits: int = 8, n_outputs: int = 4) -> SDict:
    """Averager with its attenuators at the design setting: output j = Σ_{i,t} 4^{t−(G−1)}·a·in(i, jG+t),
    a = 1/√(N·G), the combiner-tree amplitude of every input."""
    jnp = _jnp()
    groups = group_size(bits, n_outputs)
    n_in, per_group = n_servers * bits // 2, n_servers * groups
    weights = digit_weights(groups).tolist()
    channels = input_channels(n_servers, bits // 2, n_outputs)
    amps = tree_leaf_amplitudes(per_group)
    s = {}
    for server in range(n_servers):
        for digit in range(bits // 2):
            ch = int(channels[server, digit])
            group, offset = divmod(digit, groups)
            s[(west_port(ch, n_in), east_port(group, n_in, n_outputs))] = jnp.asarray(
                weights[offset] * amps[ch - group * per_group] + 0j
            )
    return _reciprocal(s)


def splitter_array(n_inputs: int = 4, n_servers: int = 4) -> SDict:
    """M independent 1→N trees: east channel i·N + s receives input i times its tree amplitude."""
    jnp = _jnp()
    amps = tree_leaf_amplitudes(n_servers)
    n_out = n_inputs * n_servers
    return _reciprocal({
        (west_port(i, n_inputs), east_port(i * n_servers + s, n_inputs, n_out)): jnp.asarray(amps[s] + 0j)
        for i in range(n_inputs) for s in range(n_servers)
    })


def bias_injector(
    n_modes: int = 4, theta: Sequence[float] | None = None, phi: Sequence[float] | None = None
) -> SDict:
    """1→n tree then one attenuator per output: output c = tree amplitude · T00(θ_c, φ_c).

    Default θ = π, φ = −π (T00 = 1, full transmission); pass per-output arrays (e.g. from
    ``attenuator_setting``) to set the bias amplitudes.
    """
    jnp = _jnp()
    theta = jnp.full(n_modes, jnp.pi) if theta is None else jnp.asarray(theta, dtype=float)
    phi = jnp.full(n_modes, -jnp.pi) if phi is None else jnp.asarray(phi, dtype=float)
    if theta.shape != (n_modes,) or phi.shape != (n_modes,):
        raise ValueError(f"bias_injector needs {n_modes} theta and phi values")
    t00 = _mzi.attenuator_value(theta, phi, xp=jnp)
    amps = tree_leaf_amplitudes(n_modes) if n_modes > 1 else np.ones(1)
    return _reciprocal({("o1", east_port(c, 1, n_modes)): amps[c] * t00[c] for c in range(n_modes)})


MODELS = {
    model.__name__: model
    for model in (
        straight, sbend, phase_shifter, dc_coupler, splitter_1x2, combiner_2x1, mzi2x2, mzi_attenuator,
        splitter_tree, combiner_tree, averager, splitter_array, bias_injector, nonlinear_unit, crossing,
        edge_coupler, die_frame, phase_delay, mzi2x2_fixed, mzi_attenuator_fixed,
    )
}

#: Parameters that change a model's port set. sax analyses every model called with its
#: defaults, so in a circuit these must be bound per instance (``netlists.sax_inputs`` does it).
PORT_COUNT_PARAMETERS = {
    "splitter_tree": ("n_outputs",),
    "combiner_tree": ("n_inputs",),
    "averager": ("n_servers", "bits", "n_outputs"),
    "splitter_array": ("n_inputs", "n_servers"),
    "bias_injector": ("n_modes",),
}
