"""`--pads`: where the heaters' pads are: the die's perimeter bond pads (default) or a flip-chip bump array.

``perimeter``: the bond pads of a foundry die frame (the only pads today; the optinc PDK's dies draw none).
``bumps:PITCH``: a square array of flip-chip bumps at PITCH µm over each die (or over the design without
``--die``), every heater end routed to a bump of its own (``layout/bumps.py``). Parsed here, by name, before any
work; whether the PDK has the layers and the pitch its rules allow is checked by the build (``flows/build.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from optinc_pdk.errors import OptincError

MODES = ("perimeter", "bumps")


@dataclass(frozen=True)
class PadChoice:
    mode: str = "perimeter"
    pitch_um: float | None = None  # bumps only

    @property
    def bumps(self) -> bool:
        return self.mode == "bumps"

    def to_dict(self) -> dict:
        return {"mode": self.mode, "pitch_um": self.pitch_um}


def parse_pads(text: str | None) -> PadChoice:
    """``perimeter`` or ``bumps:PITCH`` (PITCH in µm, a positive number); one line naming ``--pads`` otherwise."""
    value = (text or "perimeter").strip().lower()
    mode, _, pitch = value.partition(":")
    if mode == "perimeter" and not pitch:
        return PadChoice()
    if mode != "bumps":
        raise OptincError(f"--pads: {text!r}: expected perimeter or bumps:PITCH (PITCH in µm, e.g. bumps:50)")
    try:
        number = float(pitch)
    except ValueError:
        raise OptincError(f"--pads: {text!r}: the bump pitch must be a number of µm (e.g. bumps:50)") from None
    if not math.isfinite(number) or number <= 0:
        raise OptincError(f"--pads: {text!r}: the bump pitch must be a positive number of µm")
    return PadChoice("bumps", number)
