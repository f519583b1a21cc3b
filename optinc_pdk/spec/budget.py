"""Per-element optical losses and the receiver of the link budget: a scenario's ``budget:`` block.

Every default is a published or foundry value, named beside it; a scenario overrides any field. They are
not device dimensions (the ``device:`` block), so changing a loss never changes a drawn cell.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_CSPDK = "cspdk 2.1 si220 models/foundry.py (CORNERSTONE Run-50 Standard Components, C-band strip)"


class ElementLosses(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    waveguide_db_per_cm: float = Field(3.0, ge=0, description=f"strip waveguide propagation loss ({_CSPDK}: 3 dB/cm)")
    bend_db_per_90: float = Field(0.0116, ge=0, description=f"per 90° of bend at R = 10 µm ({_CSPDK}: 0.011593 dB)")
    crossing_db: float = Field(0.1195, ge=0, description=f"waveguide crossing insertion loss ({_CSPDK}: 0.1195 dB)")
    splitter_db: float = Field(0.2953, ge=0, description=f"1x2 MMI excess loss ({_CSPDK}: 3.3056 dB - 3.0103 dB split)")
    coupler_db: float = Field(0.357, ge=0, description=f"2x2 coupler excess loss ({_CSPDK}: 2x2 MMI bar 3.3673 dB - 3.0103)")
    heater_db: float = Field(0.23, ge=0, description="thermo-optic phase shifter (Harris et al., Opt. Express 22:10487, 2014)")


class LinkReceiver(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    symbol_rate_gbd: float = Field(25.0, gt=0, description="PAM4 symbol rate (GBd); noise bandwidth = rate/2")
    responsivity_a_per_w: float = Field(1.0, gt=0, description="Ge photodiode at 1550 nm (typical 0.8–1.1 A/W)")
    noise_pa_per_rthz: float = Field(20.0, gt=0, description="input-referred TIA noise current density (typical 10–30)")
    ber: float = Field(1e-12, gt=0, lt=0.5, description="target bit-error ratio of a PAM4 decision (no FEC)")
    max_launch_dbm: float = Field(
        20.0, description="most optical power one server may launch (about 100 mW: two-photon absorption in Si strips)"
    )


class BudgetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    losses: ElementLosses = Field(default_factory=ElementLosses)
    receiver: LinkReceiver = Field(default_factory=LinkReceiver)
