"""How far a weight matrix is from the block diagonal×unitary form of eq. 4–6.

The approximation itself lives in :mod:`optinc_pdk.decompose.blocks` (one source for training,
evaluation and layer mapping); this module re-exports it for the training code and adds the
check that `optinc evaluate` reports.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.decompose.blocks import BlockLayout, block_approximation, block_factors

__all__ = ["BlockLayout", "block_approximation", "block_factors", "block_form_error"]


def block_form_error(weight: np.ndarray) -> dict[str, float]:
    """max |W − projection(W)| and the largest entry of |ÛᴴÛ − I| over the blocks."""
    layout, d, unitary = block_factors(weight)
    gram = np.einsum("bji,bjk->bik", unitary.conj(), unitary)
    return {
        "projection_residual": float(np.max(np.abs(layout.join(d[:, :, None] * unitary) - weight))),
        "unitarity_error": float(np.max(np.abs(gram - np.eye(layout.k)))),
    }
