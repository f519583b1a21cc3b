"""PDK adapters: the one interface the layout draws through, whichever PDK (``--pdk``) is chosen.

An adapter supplies the cells by name (the same names for every PDK: ``CELLS``), the device
geometry those cells really have (so the analytic plan and footprint match the drawing), the
layers, the KLayout layer views and, where the PDK has one, an MPW die frame with fibre couplers
(``mpw_frame``) to mount a design on. The floorplan's die cells (``die_frame``, ``edge_coupler``) are
cells like the others: each process draws them on its own layers.

* ``optinc`` — the embedded PDK (the default); the scenario's geometry as given;
* ``cornerstone-si220`` — CORNERSTONE 220 nm SOI from cspdk 2.1 (``pdk/cornerstone.py``), imported
  only when chosen.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from optinc_pdk.errors import OptincError
from optinc_pdk.spec.dies import DieSpec
from optinc_pdk.spec.geometry import DeviceGeometry

if TYPE_CHECKING:  # the cells import gdsfactory; this module stays light (the CLI reads PDK_CHOICES)
    from optinc_pdk.pdk.cells._cell import ProcessLayers

DEFAULT_PDK = "optinc"
PDK_CHOICES = (DEFAULT_PDK, "cornerstone-si220")
#: the PDKs whose adapter draws a die frame with fibre couplers (a test keeps this equal to the adapters)
DIE_FRAMES = ("cornerstone-si220",)
_NEEDS = {"cornerstone-si220": ("cspdk", "pip install '.[cornerstone]' (cspdk 2.1, Python >= 3.12)")}


@dataclass(frozen=True)
class PdkAdapter:
    name: str  # the --pdk value
    activate: Callable[[], object]
    geometry: Callable[[DeviceGeometry], DeviceGeometry]  # the scenario's device geometry as this PDK draws it
    layers: ProcessLayers  # wg, heater, metal, nonlinear, text
    write_layer_views: Callable[[Path], Path]  # writes the KLayout .lyp into a folder (atomically), returns it
    cells: Mapping[str, Callable] = field(default_factory=dict)  # cell name → factory (same names for every PDK)
    mpw_frame: Callable | None = None  # (size, fibre_pitch, n_fibres) → MPW die frame with fibre couplers to mount on
    versions: Callable[[], dict[str, str]] = dict
    cross_section: str = "strip"  # the PDK's waveguide cross-section name (routes between cells)
    cell_suffix: str = ""  # ends the names of the layout cells drawn with it ("" for the default PDK)


def _copy_lyp(folder: Path) -> Path:
    from optinc_pdk.core.atomic import write_text_atomic
    from optinc_pdk.paths import LAYER_VIEWS_PATH

    return write_text_atomic(Path(folder) / LAYER_VIEWS_PATH.name, LAYER_VIEWS_PATH.read_text())


def _optinc() -> PdkAdapter:
    from optinc_pdk.pdk.cells import CELLS
    from optinc_pdk.pdk.pdk import PROCESS, activate_pdk

    return PdkAdapter(name=DEFAULT_PDK, activate=activate_pdk, geometry=lambda device: device, layers=PROCESS.layers,
                      write_layer_views=_copy_lyp, cells=CELLS)


def _cornerstone() -> PdkAdapter:
    from optinc_pdk.pdk import cornerstone as cs
    from optinc_pdk.pdk.cells import CELLS

    cs.cspdk()  # one line now, before any work, when the extra is not installed
    return PdkAdapter(name=cs.CHOICE, activate=cs.activate, geometry=cs.cornerstone_geometry, layers=cs.LAYERS,
                      write_layer_views=cs.write_layer_views, cells=CELLS, mpw_frame=cs.mpw_frame, versions=cs.versions,
                      cross_section=cs.CROSS_SECTION, cell_suffix=cs.PROCESS.suffix)


_FACTORIES = {DEFAULT_PDK: _optinc, "cornerstone-si220": _cornerstone}


def check_choice(name: str | None, die: DieSpec | None = None) -> None:
    """One line, without importing any PDK, when ``name`` is unknown, its extra is not installed, or it cannot
    draw ``die`` (the build checks this before any work: cspdk alone takes seconds to import)."""
    name = name or DEFAULT_PDK
    if name not in PDK_CHOICES:
        raise OptincError(f"--pdk: {name!r}: choose from {', '.join(PDK_CHOICES)}")
    if name in _NEEDS and importlib.util.find_spec(_NEEDS[name][0]) is None:
        raise OptincError(f"--pdk {name} needs the {_NEEDS[name][0]} package: {_NEEDS[name][1]}")
    if die is None:
        return
    if name not in DIE_FRAMES:
        raise OptincError(f"--die {die.name}: the {name} PDK has no die frame with fibre couplers; use --pdk "
                          f"{' or '.join(DIE_FRAMES)}")
    if die.pdk not in (None, name):
        raise OptincError(f"--die {die.name}: a {die.pdk} die; use --pdk {die.pdk}")


def get_adapter(name: str | None = None) -> PdkAdapter:
    """The adapter of PDK ``name`` (default: the embedded optinc PDK); one line for an unknown name."""
    name = name or DEFAULT_PDK
    if name not in _FACTORIES:
        raise OptincError(f"--pdk: {name!r}: choose from {', '.join(PDK_CHOICES)}")
    return _FACTORIES[name]()
