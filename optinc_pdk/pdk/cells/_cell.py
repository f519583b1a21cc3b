"""The decorator every optinc cell uses: ``gf.cell`` plus a normalised ``geometry`` argument.

Cells take ``geometry`` as a ``DeviceGeometry``, a mapping of overrides, or None (defaults).
It reaches ``gf.cell`` as a complete plain dict, so the cell's settings (and netlists) record
every dimension as data — a pydantic object would be stored as an opaque string — and equal
geometries hit the same cache entry however the caller spelled them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import gdsfactory as gf

from optinc_pdk.errors import OptincError
from optinc_pdk.spec.geometry import DeviceGeometry

type GeometrySpec = DeviceGeometry | Mapping[str, Any] | None

PDK_NAME = "optinc"


def geometry_dict(geometry: GeometrySpec) -> dict[str, Any]:
    """Complete, validated geometry as a plain dict (the form stored in cell settings)."""
    if geometry is None:
        return DeviceGeometry().model_dump()
    if isinstance(geometry, DeviceGeometry):
        return geometry.model_dump()
    return DeviceGeometry(**geometry).model_dump()


def as_geometry(geometry: GeometrySpec) -> DeviceGeometry:
    return geometry if isinstance(geometry, DeviceGeometry) else DeviceGeometry(**geometry_dict(geometry))


def geometry_cell(func: Callable[..., gf.Component]) -> Callable[..., gf.Component]:
    """Register ``func`` as a gdsfactory cell whose ``geometry`` keyword is normalised first."""
    cell = gf.cell(func)

    @functools.wraps(func)
    def factory(*args: Any, geometry: GeometrySpec = None, **kwargs: Any) -> gf.Component:
        if _active_pdk_name() != PDK_NAME:
            raise OptincError(
                f"cell {func.__name__!r} needs the optinc PDK active (active: {_active_pdk_name()!r}); "
                "call optinc_pdk.pdk.activate_pdk() first"
            )
        return cell(*args, geometry=geometry_dict(geometry), **kwargs)

    return factory


def _active_pdk_name() -> str | None:
    try:
        return gf.get_active_pdk().name
    except ValueError:  # gdsfactory raises ValueError when no PDK is active
        return None


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    """Corner list of an axis-aligned rectangle (µm)."""
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
