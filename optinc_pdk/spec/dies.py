"""Die presets for ``--die`` (µm): one small table, shared by the layout and the CLI.

``cornerstone-full`` and ``cornerstone-half`` are the CORNERSTONE MPW design areas
(cspdk 2.1, ``cspdk.si220.submission.DESIGN_AREAS``; a test keeps them equal); ``reticle`` is a
26 x 33 mm lithography field. ``pdk`` names the PDK whose die frame (outline, fibre couplers,
bond pads) the preset is drawn with; ``fibre_pitch`` is the fibre-array pitch of its couplers.
"""

from __future__ import annotations

from typing import NamedTuple

from optinc_pdk.errors import OptincError


class DieSpec(NamedTuple):
    name: str
    width: float  # µm
    height: float  # µm
    pdk: str | None  # the PDK whose die frame draws it (None: any)
    fibre_pitch: float = 127.0  # µm, standard fibre-array pitch
    fibres: int = 28  # fibre couplers of the die frame (cspdk die_with_pads: 28 beside its loopbacks)


DIES = {
    d.name: d
    for d in (
        DieSpec("reticle", 26000.0, 33000.0, None),
        DieSpec("cornerstone-full", 11470.0, 4900.0, "cornerstone-si220"),
        DieSpec("cornerstone-half", 5500.0, 4900.0, "cornerstone-si220"),
    )
}


def get_die(name: str) -> DieSpec:
    """The preset ``name``; one line naming ``--die`` and the choices otherwise."""
    if name not in DIES:
        raise OptincError(f"--die: {name!r}: choose from {', '.join(DIES)}")
    return DIES[name]
