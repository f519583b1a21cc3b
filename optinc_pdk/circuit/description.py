"""The circuit description of one OptINC: its block tree plus the per-layer scale bookkeeping."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from optinc_pdk.circuit.model import Block, Composite
from optinc_pdk.core.topology import input_channels, output_channels
from optinc_pdk.decompose import LayerMapping
from optinc_pdk.decompose.blockform import block_approximation
from optinc_pdk.spec.scenario import Scenario


@dataclass(frozen=True, eq=False, kw_only=True)
class LayerInfo:
    """What layer ``index`` (1-based) realises and at which field scale (see :mod:`optinc_pdk.circuit.gains`)."""

    index: int
    name: str  # "L3"
    out_dim: int
    in_dim: int
    approximated: bool
    orientation: str  # "full", "square", "tall" or "wide"
    k: int  # block size (min(out, in))
    blocks: int  # 1 for a full layer
    padding: int
    mapping: LayerMapping  # the decomposition (phases, scale s_l)
    weight: np.ndarray | None  # out×in trained W_l (None when built from phases alone)
    bias: np.ndarray  # (out,) trained bias b_l (or, from phases alone, the bias the light injects)
    matrix_gain: float  # A_l = 1/(s_l·√nb): optical matrix = A_l · target
    input_gain: float  # α_{l−1}
    output_gain: float  # α_l
    bias_source: float  # P_l, field of the bias light
    bias_amplitudes: np.ndarray  # (out,) a_r, the bias attenuators' signed amplitudes
    hidden: bool  # a nonlinear unit follows

    @property
    def scale(self) -> float:
        return float(self.mapping.scale)

    @cached_property
    def target(self) -> np.ndarray:
        """out×in: what the optics realise up to ``matrix_gain`` — W, or for an approximated layer its
        block projection (eq. 4–6); from phases alone, the design's own matrix. Computed on first use."""
        if self.weight is None:
            return np.real_if_close(self.mapping.matrix() * self.mapping.scale)
        if self.approximated:
            return block_approximation(self.weight)
        return np.asarray(self.weight, dtype=np.float64)


class NamedBlocks:
    """Lookup of a description's blocks by name (``top`` is its root composite)."""

    top: Composite

    def walk(self) -> Iterator[Block]:
        return self.top.walk()

    def block(self, name: str) -> Block:
        for item in self.walk():
            if item.name == name:
                return item
        raise KeyError(f"{self.top.name}: no block named {name!r}")

    def blocks_by_name(self) -> dict[str, Block]:
        return {item.name: item for item in self.walk()}


@dataclass(frozen=True, eq=False, kw_only=True)
class CircuitDescription(NamedBlocks):
    scenario: Scenario
    servers: int  # N served by this OptINC
    bits: int
    onn_inputs: int  # M
    group: int  # G
    widths: tuple[int, ...]
    top: Composite
    layers: tuple[LayerInfo, ...]
    averager_gain: float  # α_0
    broadcast_gain: float  # 1/√N
    receiver_gain: float  # √N / α_L
    mesh_kind: str
    weights_digest: str
    weights_source: str

    @property
    def digits(self) -> int:
        return self.bits // 2

    def server_input_channels(self) -> np.ndarray:
        """(servers, digits): the west channel of digit k of server i."""
        return input_channels(self.servers, self.digits, self.onn_inputs)

    def server_output_channels(self) -> np.ndarray:
        """(servers, digits): the east channel that delivers digit k to server i."""
        return output_channels(self.servers, self.digits)
