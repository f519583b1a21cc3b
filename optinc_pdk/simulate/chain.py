"""The end-to-end optical chain of a circuit description: server digits in, receiver levels out.

The description compiles once (every layer's optical matrix and bias from the phases, see
:mod:`optinc_pdk.simulate.stages`); a batch of server field vectors then runs through the
averager, every layer (one matmul, the bias, the nonlinear units) and the splitter array. Each
server's receiver takes the real part of its fields (coherent detection), multiplies by the
description's receiver gain and decides each digit to the nearest PAM4 level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.core.signals import PAM4_LEVELS, decide_levels
from optinc_pdk.simulate.stages import AffineStage, GraphStage, compile_block

BATCH = 4096  # samples per pass: smaller passes stay cache- and page-friendly (16384 was slower on b8n8)


@dataclass
class OpticalChain:
    description: CircuitDescription  # or a CascadeDescription (same server-facing interface)
    stage: GraphStage  # the whole OptINC (or cascade)

    @property
    def layer_matrices(self) -> list[AffineStage]:
        """Each layer's weight-matrix stage (trees, meshes, diagonals) as one optical matrix."""
        return [self._layer_stage(i).stages[0] for i in range(len(self.description.layers))]

    @property
    def layer_biases(self) -> list[AffineStage]:
        """Each layer's bias stage: signal × 1/√2 plus the injected bias field."""
        return [self._layer_stage(i).stages[1] for i in range(len(self.description.layers))]

    def _layer_stage(self, index: int) -> GraphStage:
        return self.stage.stages[1 + index]

    def run_fields(self, fields: np.ndarray, batch: int = BATCH) -> np.ndarray:
        """(B, N·b/2) input fields on the west channels → (B, N·b/2) complex east fields."""
        fields = np.asarray(fields)
        out = np.empty((fields.shape[0], self.description.top.n_out), dtype=np.complex128)
        for start in range(0, fields.shape[0], batch):
            out[start : start + batch] = self.stage.apply(fields[start : start + batch])
        return out

    def server_fields(self, digits: np.ndarray) -> np.ndarray:
        """Server digits (servers, B, b/2) → west field vectors (B, N·b/2), digit d sent as field d."""
        d = self.description
        digits = np.asarray(digits)
        fields = np.zeros((digits.shape[1], d.servers * d.digits))  # real: lasers in phase
        fields[:, d.server_input_channels().ravel()] = (
            digits.transpose(1, 0, 2).reshape(digits.shape[1], -1)
        )
        return fields

    def received_levels(self, east: np.ndarray) -> np.ndarray:
        """East fields (B, N·b/2) → (servers, B, b/2) levels after each receiver's gain."""
        d = self.description
        levels = np.real(east[:, d.server_output_channels()]) * d.receiver_gain  # (B, N, D)
        return levels.transpose(1, 0, 2)

    def decide(self, digits: np.ndarray, batch: int = BATCH) -> tuple[np.ndarray, dict]:
        """Server digits (servers, B, b/2) → decided digits (servers, B, b/2) at every receiver, plus diagnostics."""
        decided = np.empty(digits.shape, dtype=np.uint8)
        worst_imag = 0.0
        for start in range(0, digits.shape[1], batch):
            part = digits[:, start : start + batch]
            east = self.run_fields(self.server_fields(part), batch)
            worst_imag = max(worst_imag, float(np.abs(east.imag).max(initial=0.0)) * self.description.receiver_gain)
            decided[:, start : start + batch] = decide_levels(self.received_levels(east), 1.0, PAM4_LEVELS - 1)
        return decided, {"max_imag_level": worst_imag}


def compile_chain(description: CircuitDescription) -> OpticalChain:
    stage = compile_block(description.top)
    if not isinstance(stage, GraphStage):
        raise TypeError("an OptINC has nonlinear units or a single layer with bias; expected a graph stage")
    return OpticalChain(description, stage)


def group_sums_to_digits(sums: np.ndarray, servers: int, group: int) -> np.ndarray:
    """One set of server digits realising the given per-group sums.

    ``sums`` (B, M) integers in 0..(4^G−1)·N. Servers fill greedily: server i takes
    clip(S_j − i·(4^G−1), 0, 4^G−1) of group j, so the first servers saturate and the rest carry
    what is left. Returns digits (servers, B, M·G), LSB first within each group.
    """
    top = PAM4_LEVELS**group - 1
    sums = np.asarray(sums, dtype=np.int64)
    values = np.clip(sums[None] - top * np.arange(servers)[:, None, None], 0, top)  # (N, B, M)
    shifts = 2 * np.arange(group)
    digits = (values[..., None] >> shifts) & 3  # (N, B, M, G)
    return digits.reshape(servers, sums.shape[0], -1).astype(np.uint8)
