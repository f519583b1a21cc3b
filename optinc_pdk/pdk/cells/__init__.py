"""The optinc cells, each a gdsfactory cell with geometry parameters only (never phases).

``CELLS`` maps every registered cell name to its factory; ``optinc_pdk.pdk.models`` holds a
sax model of the same name for each.
"""

from __future__ import annotations

from optinc_pdk.pdk.cells.blocks import averager, bias_injector, splitter_array
from optinc_pdk.pdk.cells.couplers import combiner_2x1, dc_coupler, splitter_1x2
from optinc_pdk.pdk.cells.crossing import crossing
from optinc_pdk.pdk.cells.delays import phase_delay
from optinc_pdk.pdk.cells.die import die_frame, edge_coupler
from optinc_pdk.pdk.cells.heaters import phase_shifter
from optinc_pdk.pdk.cells.mzis import mzi2x2, mzi2x2_fixed, mzi_attenuator, mzi_attenuator_fixed
from optinc_pdk.pdk.cells.nonlinear import nonlinear_unit
from optinc_pdk.pdk.cells.trees import combiner_tree, splitter_tree
from optinc_pdk.pdk.cells.waveguides import sbend, straight

CELLS = {
    cell.__name__: cell
    for cell in (
        straight, sbend, phase_shifter, dc_coupler, splitter_1x2, combiner_2x1, mzi2x2, mzi_attenuator,
        splitter_tree, combiner_tree, averager, splitter_array, bias_injector, nonlinear_unit, crossing,
        edge_coupler, die_frame, phase_delay, mzi2x2_fixed, mzi_attenuator_fixed,
    )
}

__all__ = ["CELLS", *CELLS]
