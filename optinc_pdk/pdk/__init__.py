"""The optinc PDK, in gdsfactory's conventions (modelled on gdsfactory's cspdk).

* ``tech.py`` — layer map, layer views from ``layers.yaml`` (exported to layouts/optinc.lyp),
  cross-sections ``strip``, ``heater_metal``, ``metal_routing``;
* ``cells/`` — the cells (geometry only); ``models.py`` — a sax model per cell, same names;
* ``dimensions.py`` — analytic footprints from ``DeviceGeometry``; ``ports.py`` — port names;
  ``topology.py`` — tree and averager connectivity shared by cells and models.

Nothing is activated on import: call ``activate_pdk()``. Importing this package is cheap;
gdsfactory (and jax, for the models) load when ``get_pdk``/``activate_pdk``/``PDK`` are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gdsfactory as gf


def get_pdk() -> gf.Pdk:
    """The optinc ``gf.Pdk`` (cached; not activated)."""
    from optinc_pdk.pdk.pdk import get_pdk as _get_pdk

    return _get_pdk()


def activate_pdk() -> gf.Pdk:
    """Activate the optinc PDK in gdsfactory and return it."""
    from optinc_pdk.pdk.pdk import activate_pdk as _activate_pdk

    return _activate_pdk()


def __getattr__(name: str) -> Any:
    if name == "PDK":
        return get_pdk()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PDK", "activate_pdk", "get_pdk"]
