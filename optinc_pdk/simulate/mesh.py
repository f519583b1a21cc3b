"""Transfer matrix of an MZI mesh from its phases: the simulator's name for the one implementation.

The banded, BLAS-tiled product lives in :mod:`optinc_pdk.decompose.transfer` (a low-level module
that imports only numpy and :mod:`optinc_pdk.core.mzi`), so the decomposer's reconstruction checks and the
simulator share it without an import cycle; see that module for the algorithm.
"""

from __future__ import annotations

from optinc_pdk.decompose.transfer import CHUNK_COLUMNS, TILE_ROWS, check_columns, column_groups, mesh_transfer

__all__ = ["CHUNK_COLUMNS", "TILE_ROWS", "check_columns", "column_groups", "mesh_transfer"]
