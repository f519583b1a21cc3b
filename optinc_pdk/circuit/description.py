"""The circuit description of one OptINC: its block tree plus the per-layer scale bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from optinc_pdk.circuit.model import Block, Composite
from optinc_pdk.decompose import LayerMapping
from optinc_pdk.scenario import Scenario


@dataclass(frozen=True, eq=False)
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
    target: np.ndarray  # out×in: the matrix the optics realise up to matrix_gain (W, or its block projection)
    bias: np.ndarray  # (out,) trained bias b_l
    matrix_gain: float  # A_l = 1/(s_l·√nb): optical matrix = A_l · target
    input_gain: float  # α_{l−1}
    output_gain: float  # α_l
    bias_source: float  # P_l, field of the bias light
    bias_amplitudes: np.ndarray  # (out,) a_r, the bias attenuators' signed amplitudes
    hidden: bool  # a nonlinear unit follows

    @property
    def scale(self) -> float:
        return float(self.mapping.scale)


@dataclass(frozen=True, eq=False)
class CircuitDescription:
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

    def walk(self) -> Iterator[Block]:
        return self.top.walk()

    def block(self, name: str) -> Block:
        for item in self.walk():
            if item.name == name:
                return item
        raise KeyError(f"{self.scenario.name}: no block named {name!r}")

    def blocks_by_name(self) -> dict[str, Block]:
        return {item.name: item for item in self.walk()}
