"""Tunable heaters or fixed delay sections: what each option of ``optinc build --phases`` costs.

Both options realise the same description's phases: a tunable build puts a heater with two contact pads
(``pdk/cells/heaters.py``) on every phase and holds it at P_π·wrap(phase)/π (``analysis/power.py``); a
fixed build draws each phase, quantised to 2π/levels, as a delay section in the heater's slot
(``pdk/delay.py``): no heater, no pad, no static power. The footprints come from the layout plans of both
(``layout/footprint.py``): the delay fits the heater slot, so only the pads that stuck out above a stack of
cells can change the bounding box.
"""

from __future__ import annotations

import math

import numpy as np

from optinc_pdk.analysis.pads import pads_for
from optinc_pdk.analysis.power import heater_power, stage_phases
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.quantise import quantised_description
from optinc_pdk.layout.footprint import analytic_footprint
from optinc_pdk.pdk.delay import DelayModel
from optinc_pdk.pdk.neff import TABLE, neff
from optinc_pdk.spec.scenario import Scenario

# the phase shifter's two contact pads (METAL), one per end of the heater: drawn on the chip; the bond pads a
# die must offer are fewer, one per heater and one shared ground (analysis/pads.py)
PADS_PER_HEATER = 2


def _footprint(description: CircuitDescription, fixed=None) -> dict:
    width, height = analytic_footprint(description, fixed=fixed)
    return {"width_mm": width / 1000, "height_mm": height / 1000, "area_mm2": width * height / 1e6}


def delay_model_summary(model: DelayModel) -> dict:
    """The delay sections' model numbers and the largest gap between a drawn level and its nominal phase."""
    residual = max(abs((model.realised_phase(k) - k * 2 * math.pi / model.levels + math.pi) % (2 * math.pi) - math.pi)
                   for k in range(model.levels))
    n_strip, n_wide = (float(v) for v in neff([model.strip_width, model.wide_width]))
    return {"strip_width_um": model.strip_width, "wide_width_um": model.wide_width,
            "taper_length_um": model.taper_length, "neff_strip": n_strip, "neff_wide": n_wide,
            "neff_source": f"femwell TE0 table {TABLE.name} (optinc_pdk/pdk/neff.py)",
            "taper_phase_rad": model.taper_phase, "wide_rad_per_um": model.beta_difference,
            "longest_section_um": max(model.section_length(k) for k in range(model.levels)),
            "largest_drawn_residual_rad": residual}


def phase_options(exact: CircuitDescription, scenario: Scenario, chosen: str,
                  heaters: CircuitDescription | None = None) -> dict:
    """Heaters, pads, static power and footprint of both options for the exact description ``exact``; the tunable
    option's power is that of ``heaters`` when given (a ``--min-power`` build's arms: the heaters it draws)."""
    spec = scenario.fixed_phases
    phases = stage_phases(exact.top).size
    power = heater_power((heaters or exact).top)
    model = DelayModel.of(spec, scenario.device)
    quantised = quantised_description(exact, spec.levels)
    return {
        "chosen": chosen,
        "tunable": {"heaters": phases, "pads": PADS_PER_HEATER * phases, "bond_pads_needed": pads_for(phases),
                    "static_power_w": power["total_w"],
                    "p_pi_mw": power["p_pi_mw"], "footprint": _footprint(exact)},
        "fixed": {"heaters": 0, "pads": 0, "bond_pads_needed": 0, "static_power_w": 0.0, "delay_sections": phases,
                  "levels": spec.levels,
                  "step_rad": spec.step, "quantisation_sigma_rad": spec.step / math.sqrt(12),
                  "footprint": _footprint(quantised, spec), "delay_model": delay_model_summary(model),
                  "distinct_levels_used": int(np.unique(np.rint(stage_phases(quantised.top) / spec.step)
                                                        % spec.levels).size)},
    }
