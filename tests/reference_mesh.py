"""Dense, one-MZI-at-a-time mesh products: a slow reference for tests of ``mesh_transfer`` only.

Not part of the package: optinc computes every mesh matrix with
:func:`optinc_pdk.decompose.transfer.mesh_transfer`.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.core.mzi import mzi_transfer


def mesh_transfer_reference(n_modes, theta, phi, top_mode, column, output_phase=None) -> np.ndarray:
    """diag(e^{iψ})·T_K···T_1 by full-matrix products, one embedded 2×2 per MZI (in column order)."""
    n = int(n_modes)
    result = np.eye(n, dtype=np.complex128)
    order = np.argsort(np.asarray(column), kind="stable")
    for index in order:
        m = int(top_mode[index])
        embed = np.eye(n, dtype=np.complex128)
        embed[m : m + 2, m : m + 2] = mzi_transfer(theta[index], phi[index])
        result = embed @ result
    if output_phase is not None:
        result = np.exp(1j * np.asarray(output_phase, dtype=np.float64))[:, None] * result
    return result
