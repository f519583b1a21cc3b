"""The circuit description: the hub between decomposition and simulation, area, netlists and layout.

Public API::

    from optinc_pdk.circuit import build_description, CircuitDescription
    d = build_description(scenario, weights)        # decomposes every layer (optinc_pdk.decompose)
    d.top                                          # Composite "optinc": averager, L1..LL, broadcast
    d.block("L3/B1/U")                             # any block by name (optinc_pdk.circuit.naming)
    d.layers[2].matrix_gain                        # scale bookkeeping (optinc_pdk.circuit.gains)

Data model: :mod:`optinc_pdk.circuit.model`; exports: :mod:`optinc_pdk.circuit.export`.
"""

from optinc_pdk.circuit.builder import (
    LayerParameters,
    assemble,
    build_description,
    decompose_layer,
    design_parameters,
)
from optinc_pdk.circuit.description import CircuitDescription, LayerInfo
from optinc_pdk.circuit.model import (
    AttenuatorColumn,
    Block,
    Composite,
    MeshBlock,
    NonlinearArray,
    Source,
    TreeArray,
)

__all__ = [
    "AttenuatorColumn", "Block", "CircuitDescription", "Composite", "LayerInfo", "LayerParameters", "MeshBlock",
    "NonlinearArray", "Source", "TreeArray", "assemble", "build_description", "decompose_layer", "design_parameters",
]
