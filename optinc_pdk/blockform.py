"""The block approximation of eq. 4–6 (DESIGN.md §3), batched numpy: one source for training,
evaluation and layer mapping.

W (out×in) is split along its longer side into k×k blocks, k = min(out, in), zero-padding a
remainder (partition rules: :func:`optinc_pdk.area.block_partition`). Each block B = P Σ Qᴴ is
approximated by diag(d)·Û with Û = P Qᴴ (the closest unitary) and d_r = Re(b_r · û_rᴴ), the
row-wise least-squares fit. The approximation is idempotent: a matrix already of that form maps
to itself, so shipped weights can store the plain W.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.area import BlockPartition, block_partition


def split_blocks(weight: np.ndarray) -> tuple[BlockPartition, np.ndarray]:
    """(partition, blocks (nb, k, k)) with the remainder zero-padded."""
    w = np.asarray(weight)
    part = block_partition(*w.shape)
    k, nb = part.k, part.blocks
    if part.orientation == "wide":
        padded = np.zeros((k, nb * k), dtype=w.dtype)
        padded[:, : w.shape[1]] = w
        blocks = padded.reshape(k, nb, k).transpose(1, 0, 2)
    else:  # tall or square: stacked rows
        padded = np.zeros((nb * k, k), dtype=w.dtype)
        padded[: w.shape[0]] = w
        blocks = padded.reshape(nb, k, k)
    return part, blocks


def join_blocks(blocks: np.ndarray, part: BlockPartition) -> np.ndarray:
    """Inverse of :func:`split_blocks`, cropping the padding."""
    nb, k, _ = blocks.shape
    if part.orientation == "wide":
        return blocks.transpose(1, 0, 2).reshape(k, nb * k)[:, : part.in_dim]
    return blocks.reshape(nb * k, k)[: part.out_dim]


def block_factors(weight: np.ndarray) -> tuple[BlockPartition, np.ndarray, np.ndarray]:
    """(partition, d (nb, k), Û (nb, k, k)) with every block ≈ diag(d_b) Û_b (eq. 4–6)."""
    part, blocks = split_blocks(weight)
    p, _, qh = np.linalg.svd(blocks)
    unitary = p @ qh
    d = np.real(np.einsum("brc,brc->br", blocks, unitary.conj()))
    return part, d, unitary


def compose_blocks(part: BlockPartition, d: np.ndarray, unitary: np.ndarray) -> np.ndarray:
    """The out×in matrix realised by per-block diag(d)·Û."""
    return join_blocks(d[:, :, None] * unitary, part)


def block_approximation(weight: np.ndarray) -> np.ndarray:
    """Project W onto the block diagonal×unitary form (the closest fit of eq. 4–6)."""
    part, d, unitary = block_factors(weight)
    return compose_blocks(part, d, unitary).astype(np.result_type(weight, np.float64) if np.iscomplexobj(weight) else np.float64)


def block_form_error(weight: np.ndarray) -> dict[str, float]:
    """How far W is from block diag×unitary: max |W − projection(W)| and max ‖ÛᴴÛ − I‖ entry."""
    part, d, unitary = block_factors(weight)
    eye = np.eye(part.k)
    gram = np.einsum("bji,bjk->bik", unitary.conj(), unitary)
    return {
        "projection_residual": float(np.max(np.abs(compose_blocks(part, d, unitary) - weight))),
        "unitarity_error": float(np.max(np.abs(gram - eye))),
    }
