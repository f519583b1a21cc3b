"""Decomposition engine: unitaries -> MZI meshes, weight matrices -> layer mappings.

Public API:
    MeshPhases, MeshBatch, DiagonalColumn            phases and their matrices (mesh.py)
    decompose_unitary(U, mesh="clements"|"reck")      one unitary (unitary.py)
    decompose_unitaries_batched(Us)                   (B, k, k) unitaries at once -> MeshBatch
    block_approximation(W), block_factors(W)          eq. 4–6, pure numpy (blocks.py)
    map_layer_svd(W), map_layer_blocks(W)             -> LayerMapping (layer.py)
"""

from optinc_pdk.decompose.blocks import BlockLayout, block_approximation, block_factors
from optinc_pdk.decompose.layer import BlockPhases, LayerMapping, map_layer_blocks, map_layer_svd
from optinc_pdk.decompose.mesh import DiagonalColumn, MeshBatch, MeshPhases, mesh_matrices
from optinc_pdk.decompose.topology import MESH_KINDS
from optinc_pdk.decompose.unitary import (
    UNITARY_ATOL,
    as_matrix,
    decompose_unitaries_batched,
    decompose_unitary,
    unitarity_error,
)

__all__ = [
    "BlockLayout",
    "BlockPhases",
    "DiagonalColumn",
    "LayerMapping",
    "MESH_KINDS",
    "MeshBatch",
    "MeshPhases",
    "UNITARY_ATOL",
    "as_matrix",
    "block_approximation",
    "block_factors",
    "decompose_unitaries_batched",
    "decompose_unitary",
    "map_layer_blocks",
    "map_layer_svd",
    "mesh_matrices",
    "unitarity_error",
]
