"""Block approximation of a weight matrix (docs/conventions.md, Block approximation, eq. 4–6), pure numpy.

W (out×in) is split along its longer side into square k×k blocks, k = min(out, in), the last one
zero-padded when k does not divide the longer side. Each block B ≈ diag(d)·Û with Û = P·Qᴴ from the
SVD B = P·Σ·Qᴴ (the closest unitary) and d_r = Re(b_r·û_rᴴ) (row-wise least squares).
Tall W (out > in): blocks stacked, block b = rows b·k..b·k+k−1, the input fanned out to every block.
Wide W (in > out): blocks side by side, block b = columns b·k..b·k+k−1, block outputs summed.

The approximation is a fixed point (block_approximation(W_approx) = W_approx, so its mapping is
exact) for square and tall layers and for wide layers whose width k divides. A padded wide
remainder block is approximated on its zero-padded k×k form and its padded columns are dropped
(they see no light), which is not idempotent: re-approximating changes that block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optinc_pdk.decompose.unitary import as_matrix
from optinc_pdk.errors import OptincError


@dataclass(frozen=True)
class BlockLayout:
    out_dim: int
    in_dim: int
    k: int
    orientation: str  # "tall", "wide" or "square"
    n_blocks: int
    padding: int  # zero rows (tall) or zero columns (wide) added to fill the last block

    @classmethod
    def of(cls, out_dim: int, in_dim: int) -> BlockLayout:
        if out_dim < 1 or in_dim < 1:
            raise OptincError(f"weight matrix: shape ({out_dim}, {in_dim}) has an empty side")
        from optinc_pdk.core.area import block_partition  # one partition rule for area, training and mapping

        part = block_partition(out_dim, in_dim)
        return cls(out_dim, in_dim, part.k, part.orientation, part.blocks, part.padding)

    def split(self, matrix: np.ndarray) -> np.ndarray:
        """(n_blocks, k, k) blocks, zero-padded."""
        if self.orientation == "wide":
            padded = np.zeros((self.k, self.n_blocks * self.k), dtype=matrix.dtype)
            padded[:, : self.in_dim] = matrix
            return padded.reshape(self.k, self.n_blocks, self.k).transpose(1, 0, 2)
        padded = np.zeros((self.n_blocks * self.k, self.k), dtype=matrix.dtype)
        padded[: self.out_dim] = matrix
        return padded.reshape(self.n_blocks, self.k, self.k)

    def join(self, blocks: np.ndarray) -> np.ndarray:
        """Inverse of split: place the blocks and drop the padding (out×in)."""
        if self.orientation == "wide":
            joined = blocks.transpose(1, 0, 2).reshape(self.k, self.n_blocks * self.k)
            return joined[:, : self.in_dim]
        return blocks.reshape(self.n_blocks * self.k, self.k)[: self.out_dim]


def block_factors(weights: np.ndarray) -> tuple[BlockLayout, np.ndarray, np.ndarray]:
    """(layout, d (n_blocks, k) real, Û (n_blocks, k, k)) with block b ≈ diag(d[b])·Û[b]."""
    weights = np.asarray(weights)
    if weights.ndim != 2:
        raise OptincError(f"weight matrix: must be 2-D, got shape {weights.shape}")
    layout = BlockLayout.of(*weights.shape)
    blocks = layout.split(weights)
    left, _, right_h = np.linalg.svd(blocks)
    unitary = left @ right_h
    diagonal = np.real(np.einsum("brj,brj->br", blocks, unitary.conj()))
    return layout, diagonal, unitary


def block_approximation(weights) -> np.ndarray:
    """W_approx (same shape as W; float64, or complex128 for complex W): every block -> diag(d)·Û."""
    layout, diagonal, unitary = block_factors(as_matrix(weights, "weight matrix"))
    return layout.join(diagonal[:, :, None] * unitary)
