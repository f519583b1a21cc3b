"""The decorator every optinc cell uses: ``gf.cell`` plus a normalised ``geometry`` argument.

Cells take ``geometry`` as a ``DeviceGeometry``, a mapping of overrides, or None (defaults).
It reaches ``gf.cell`` as a complete plain dict, so the cell's settings (and netlists) record
every dimension as data — a pydantic object would be stored as an opaque string — and equal
geometries hit the same cache entry however the caller spelled them.

A cell draws for the *process* of the active gdsfactory PDK (``Process``): the layers it draws
on, and the cells that process draws itself (a foundry PDK's MMI in place of the optinc
coupler, say). Every other cell — the MZIs, trees and blocks composed of those — is the same
code for every process, so one composition serves both PDKs. Each process has its own cell
cache and name suffix, so equal geometries on two processes never share a cell.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import gdsfactory as gf

from optinc_pdk.errors import OptincError
from optinc_pdk.spec.geometry import DeviceGeometry

type GeometrySpec = DeviceGeometry | Mapping[str, Any] | None

PDK_NAME = "optinc"


class ProcessLayers(NamedTuple):
    """The GDS layers the optinc cells draw on (layer, datatype)."""

    wg: tuple[int, int]  # waveguide core
    heater: tuple[int, int]  # heater filament
    metal: tuple[int, int]  # heater contact pads
    nonlinear: tuple[int, int]  # nonlinear-unit placeholder box
    text: tuple[int, int]  # human-readable labels
    floorplan: tuple[int, int]  # die outline


@dataclass(frozen=True)
class Process:
    """How the optinc cells draw under one gdsfactory PDK (``pdk_name``, the ``gf.Pdk``'s name)."""

    pdk_name: str
    layers: ProcessLayers
    drawings: Mapping[str, Callable[..., gf.Component]] = field(default_factory=dict)  # cell name → drawing
    suffix: str = ""  # appended to cell names (cell-name prefixes such as "mzi" stay)


_PROCESSES: dict[str, Process] = {}


def register_process(process: Process) -> Process:
    """Make the optinc cells draw for ``process`` whenever its PDK is the active one."""
    _PROCESSES[process.pdk_name] = process
    return process


def active_process(cell_name: str = "") -> Process:
    """The process of the active PDK; one line naming the cell when no optinc process is active."""
    name = _active_pdk_name()
    if name not in _PROCESSES:
        raise OptincError(
            f"cell {cell_name!r} needs an optinc PDK active (active: {name!r}); "
            "call optinc_pdk.pdk.activate_pdk() or an adapter's activate() first"
        )
    return _PROCESSES[name]


def process_layers() -> ProcessLayers:
    """The layers of the active process (for cells and ports shared by every process)."""
    return active_process().layers


def geometry_dict(geometry: GeometrySpec) -> dict[str, Any]:
    """Complete, validated geometry as a plain dict (the form stored in cell settings)."""
    if geometry is None:
        return DeviceGeometry().model_dump()
    if isinstance(geometry, DeviceGeometry):
        return geometry.model_dump()
    return DeviceGeometry(**geometry).model_dump()


def as_geometry(geometry: GeometrySpec) -> DeviceGeometry:
    return geometry if isinstance(geometry, DeviceGeometry) else DeviceGeometry(**geometry_dict(geometry))


def geometry_cell(func: Callable[..., gf.Component] | None = None, *, childless: bool = False):
    """Register ``func`` as a gdsfactory cell whose ``geometry`` keyword is normalised first.

    The active process may draw the cell its own way (``Process.drawings``, same signature).
    ``childless=True`` (``@geometry_cell(childless=True)``) marks a cell drawn in thousands of variants
    that holds polygons only: kfactory's checks of child cells and instances are skipped for it, KLayout
    hierarchy walks that grows with the layout (about 13 ms per cell once 4 000 cells exist).
    """
    if func is None:
        return functools.partial(geometry_cell, childless=childless)
    cells: dict[str, Callable[..., gf.Component]] = {}

    @functools.wraps(func)
    def factory(*args: Any, geometry: GeometrySpec = None, **kwargs: Any) -> gf.Component:
        process = active_process(func.__name__)
        cell = cells.get(process.pdk_name)
        if cell is None:
            cell = cells[process.pdk_name] = _decorated(process.drawings.get(func.__name__, func), func.__name__,
                                                        process, childless)
        return cell(*args, geometry=geometry_dict(geometry), **kwargs)

    return factory


def _decorated(drawing: Callable[..., gf.Component], name: str, process: Process, childless: bool):
    import kfactory as kf

    saved = kf.config.check_unnamed_cells
    options: dict[str, Any] = {} if not process.suffix else {"basename": name + process.suffix, "register_factory": False}
    if childless:  # nothing to check; kfactory reads the unnamed-cells setting when it decorates
        kf.config.check_unnamed_cells = kf.conf.CheckUnnamedCells.IGNORE
        options["check_instances"] = kf.conf.CheckInstances.IGNORE
    try:
        return gf.cell(drawing, **options)
    finally:
        kf.config.check_unnamed_cells = saved


def _active_pdk_name() -> str | None:
    try:
        return gf.get_active_pdk().name
    except ValueError:  # gdsfactory raises ValueError when no PDK is active
        return None


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    """Corner list of an axis-aligned rectangle (µm)."""
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
