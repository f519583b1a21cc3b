"""Map a weight matrix W (out×in) onto MZI hardware: the full SVD path or the block approximation.

Passive optics cannot amplify, so every mapping realises W / s with all attenuator values |d| ≤ 1
and records the layer scale s (docs/conventions.md "Scale and bias": s = the largest σ or |d|; s = 1 for
W = 0). ``LayerMapping.matrix()`` is the realised out×in matrix; s·matrix() = W for the SVD path.

SVD path, optical order Vᴴ mesh (in modes) -> Σ column -> U mesh (out modes), r = min(out, in):
the Σ column's r attenuators sit on modes 0..r−1. When in > out, Vᴴ outputs r..in−1 are dropped;
when out > in, U inputs r..out−1 receive no light. The Vᴴ mesh's output phase screen is folded into
the Σ attenuators' φ (the residual phases cost no extra shifters), so its ``output_phase`` is zero.

Block path (see :mod:`optinc_pdk.decompose.blocks`): per block b, light crosses the Û mesh then the
diagonal column; ``blocks[b]`` is (diagonal, mesh). Tall: input fanned out to every block, block b
drives outputs b·k..b·k+k−1. Wide: block b reads inputs b·k..b·k+k−1, block outputs are summed.
Padding rows/columns are zero. Fan-out and summing losses are not part of this mapping: matrix()
is the ideal Σ_blocks (the circuit description accounts for tree losses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optinc_pdk.decompose.blocks import BlockLayout, block_factors
from optinc_pdk.decompose.mesh import DiagonalColumn, MeshPhases
from optinc_pdk.decompose.unitary import as_matrix, decompose_unitaries_batched, decompose_unitary


@dataclass(frozen=True, eq=False)
class BlockPhases:
    index: int
    diagonal: DiagonalColumn
    mesh: MeshPhases


@dataclass(frozen=True, eq=False)
class LayerMapping:
    kind: str  # "svd" or "blocks"
    out_dim: int
    in_dim: int
    scale: float
    v_mesh: MeshPhases | None = None
    sigma: DiagonalColumn | None = None
    u_mesh: MeshPhases | None = None
    k: int | None = None
    orientation: str | None = None  # "tall", "wide" or "square"
    padding: int = 0  # zero rows (tall) or columns (wide) added to fill the last block
    blocks: tuple[BlockPhases, ...] = ()

    @property
    def n_mzi(self) -> int:
        """Weight-matrix MZIs (meshes and attenuators), the paper's area measure."""
        if self.kind == "svd":
            return self.v_mesh.n_mzi + self.sigma.n_mzi + self.u_mesh.n_mzi
        return sum(block.mesh.n_mzi + block.diagonal.n_mzi for block in self.blocks)

    def matrix(self) -> np.ndarray:
        """The realised out×in matrix (W / scale)."""
        if self.kind == "svd":
            rank = self.sigma.n_modes
            u = self.u_mesh.matrix()[:, :rank]
            vh = self.v_mesh.matrix()[:rank, :]
            return (u * self.sigma.values()[None, :]) @ vh
        layout = BlockLayout.of(self.out_dim, self.in_dim)
        blocks = np.stack([block.diagonal.values()[:, None] * block.mesh.matrix() for block in self.blocks])
        return layout.join(blocks)


def _scale(largest: float) -> float:
    return float(largest) if largest > 0 else 1.0


def map_layer_svd(weights, mesh: str = "clements") -> LayerMapping:
    """W = s · U·Σ·Vᴴ with Vᴴ and U as meshes and Σ/s as one attenuator column."""
    weights = as_matrix(weights, "weight matrix")
    out_dim, in_dim = weights.shape
    left, singular, right_h = np.linalg.svd(weights)
    scale = _scale(singular.max())
    v_mesh = decompose_unitary(right_h, mesh, name="Vᴴ")
    u_mesh = decompose_unitary(left, mesh, name="U")
    rank = singular.size
    folded = (singular / scale) * np.exp(1j * v_mesh.output_phase[:rank])
    v_mesh = MeshPhases(
        v_mesh.n_modes, v_mesh.theta, v_mesh.phi, v_mesh.top_mode, v_mesh.column,
        np.zeros(v_mesh.n_modes), v_mesh.kind,
    )
    return LayerMapping(
        "svd", out_dim, in_dim, scale, v_mesh=v_mesh, sigma=DiagonalColumn.from_values(folded), u_mesh=u_mesh,
    )


def map_layer_blocks(weights, mesh: str = "clements") -> LayerMapping:
    """The block approximation of W as per-block (Û mesh, diagonal column) pairs.

    Uses exactly the d and Û of block_approximation, so a W that already is a block
    approximation maps exactly.
    """
    weights = as_matrix(weights, "weight matrix")
    layout, diagonal, unitary = block_factors(weights)
    scale = _scale(np.abs(diagonal).max())
    meshes = decompose_unitaries_batched(unitary, mesh, name="block unitaries")
    blocks = tuple(
        BlockPhases(index, DiagonalColumn.from_values(diagonal[index] / scale), meshes[index])
        for index in range(layout.n_blocks)
    )
    return LayerMapping(
        "blocks", layout.out_dim, layout.in_dim, scale, k=layout.k, orientation=layout.orientation,
        padding=layout.padding, blocks=blocks,
    )
