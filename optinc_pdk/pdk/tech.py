"""optinc technology: layer map, layer views (from ``layers.yaml``) and cross-sections.

Run ``python -m optinc_pdk.pdk.tech`` to re-export ``layouts/optinc.lyp`` from ``layers.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import gdsfactory as gf
from gdsfactory.cross_section import CrossSection, port_names_electrical, port_types_electrical
from gdsfactory.technology import LayerMap, LayerViews
from gdsfactory.typings import Layer

from optinc_pdk.core.atomic import atomic_path
from optinc_pdk.paths import LAYER_VIEWS_PATH
from optinc_pdk.spec.geometry import DeviceGeometry

LAYER_VIEWS_YAML = Path(__file__).with_name("layers.yaml")
LYP_PATH = LAYER_VIEWS_PATH

_DEFAULT = DeviceGeometry()


class LayerMapOptinc(LayerMap):
    """GDS layers of the optinc PDK (must match ``layers.yaml``; a test checks it)."""

    WG: Layer = (1, 0)  # type: ignore[assignment]  # silicon strip waveguide core
    HEATER: Layer = (39, 0)  # type: ignore[assignment]  # TiN thermo-optic heater
    METAL: Layer = (41, 0)  # type: ignore[assignment]  # routing metal and contact pads
    VIA1: Layer = (44, 0)  # type: ignore[assignment]  # via from METAL up to the redistribution layer (flip-chip)
    M2: Layer = (45, 0)  # type: ignore[assignment]  # redistribution metal (RDL): bump capture pads and traces
    UBM: Layer = (46, 0)  # type: ignore[assignment]  # under-bump metallisation: one per flip-chip bump site
    NONLINEAR: Layer = (60, 0)  # type: ignore[assignment]  # nonlinear-unit black box
    TEXT: Layer = (66, 0)  # type: ignore[assignment]  # human-readable labels
    FLOORPLAN: Layer = (99, 0)  # type: ignore[assignment]
    LABEL_SETTINGS: Layer = (100, 0)  # type: ignore[assignment]  # gdsfactory's settings labels
    LABEL_INSTANCE: Layer = (101, 0)  # type: ignore[assignment]  # gdsfactory's instance labels


LAYER = LayerMapOptinc
# Layer views stay in YAML: LayerViews built in code export a .lyp with empty names.
LAYER_VIEWS = LayerViews(filepath=LAYER_VIEWS_YAML)


def strip(width: float = _DEFAULT.wg_width, radius: float = _DEFAULT.bend_radius) -> CrossSection:
    """Silicon strip waveguide; ``radius`` is also the minimum bend radius."""
    return gf.cross_section.cross_section(width=width, layer=LAYER.WG, radius=radius, radius_min=radius)


def heater_metal(width: float = _DEFAULT.heater_width) -> CrossSection:
    """TiN heater strip (electrical ports)."""
    return gf.cross_section.cross_section(
        width=width, layer=LAYER.HEATER, port_names=port_names_electrical, port_types=port_types_electrical
    )


def metal_routing(width: float = _DEFAULT.heater_pad_size) -> CrossSection:
    """Routing metal from heater contacts to bond pads (electrical ports)."""
    return gf.cross_section.cross_section(
        width=width, layer=LAYER.METAL, port_names=port_names_electrical, port_types=port_types_electrical
    )


CROSS_SECTIONS = {"strip": strip, "heater_metal": heater_metal, "metal_routing": metal_routing}


def write_lyp(path: Path = LYP_PATH) -> Path:
    """Export the YAML layer views to a KLayout layer-properties file (atomically)."""
    with atomic_path(path) as tmp:
        LAYER_VIEWS.to_lyp(tmp)
    return path


if __name__ == "__main__":
    print(write_lyp())
