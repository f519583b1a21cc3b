"""The optinc ``gf.Pdk``: every cell, its sax model, cross-sections, layers and layer views."""

from __future__ import annotations

from functools import lru_cache

import gdsfactory as gf

from optinc_pdk.pdk.cells import CELLS
from optinc_pdk.pdk.cells._cell import PDK_NAME, Process, ProcessLayers, register_process
from optinc_pdk.pdk.models import MODELS
from optinc_pdk.pdk.tech import CROSS_SECTIONS, LAYER, LAYER_VIEWS

PROCESS = register_process(Process(PDK_NAME, ProcessLayers(LAYER.WG, LAYER.HEATER, LAYER.METAL, LAYER.NONLINEAR,
                                                           LAYER.TEXT, LAYER.FLOORPLAN)))


@lru_cache
def get_pdk() -> gf.Pdk:
    """The optinc PDK (built once, not activated)."""
    return gf.Pdk(
        name=PDK_NAME,
        cells=dict(CELLS),
        cross_sections=dict(CROSS_SECTIONS),
        layers=LAYER,
        layer_views=LAYER_VIEWS,
        models=dict(MODELS),
    )


def activate_pdk() -> gf.Pdk:
    """Make the optinc PDK gdsfactory's active PDK and return it."""
    pdk = get_pdk()
    pdk.activate()
    return pdk
