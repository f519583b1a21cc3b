"""Design rules of a PDK, one table: the KLayout DRC deck and the build's DRC both read it.

A rule is one row: ``width`` and ``space`` on one layer, ``inside`` (every shape of ``layer`` lies inside
``other``: a heater contact pad on its heater). Values are in µm. A PDK adapter registers its own table
under its PDK name (``RULES_BY_PDK``), so a foundry PDK brings its foundry's rules through the same code.

The optinc PDK is a generic 220-nm SOI process. Its silicon rules are CORNERSTONE's strip-waveguide
minimums (cspdk 2.1, ``cspdk/model/constraints.json``: WG width 0.20 µm, space 0.20 µm), the process its
dimensions follow (the directional-coupler gap is 0.2 µm); its heater and metal rules are our own
statement for a TiN heater under a routing metal, set below the drawn 2 µm heater and 10 µm pads.

Flip-chip layers of the optinc PDK (``--pads bumps:PITCH``, ``layout/bumps.py``): a via from the heater
metal up (VIA1 44/0), one redistribution metal (M2 45/0, the RDL) and the under-bump metallisation
(UBM 46/0). Their rules are our statement for a wafer-level RDL and copper-pillar microbumps, not a
foundry's deck:

* VIA1 width and space 2 µm, inside METAL and inside M2: a polymer-passivation via of a wafer-level
  RDL is a few µm (2 µm is the small end; 5–10 µm is common on coarser RDL);
* M2 width and space 2 µm: the 2/2 µm line/space of fine-pitch RDL (fan-out and interposer RDLs reach
  2/2 µm; 5/5–10/10 µm is the mainstream), the finest line the traces here need;
* UBM width and space 10 µm, inside M2: the smallest microbumps in volume use are about 10 µm across
  at 20 µm pitch; a microbump is about half its pitch across (25 µm at 50 µm, 20 µm at 40 µm), which is
  how ``layout/bumps.py`` draws them, so the smallest pitch the table allows is width + space (20 µm,
  ``min_bump_pitch``).
CORNERSTONE si220 (``--pdk cornerstone-si220``): cspdk 2.1 ships only the waveguide minimums
(``cspdk/model/constraints.json``: WG width and space 0.20 µm). The heater filament (39/0) and contact
pad / routing metal (41/0) minimums come from CORNERSTONE's own pre-DRC deck for its passive SOI
platforms with heaters (cornerstone-uos/cornerstone-pdk, ``Si_220nm_passive/drc_rules.lydrc``, version
3.1, released 03/03/25): filament width 0.6 µm, space 10 µm; pad width 2 µm, space 10 µm. The same deck
asks 0.35 µm for the light-field waveguide width (stricter than cspdk's 0.20 µm): the table keeps the
stricter value. Layer numbers are cspdk's (``cspdk.si220.tech.LAYER``; a test keeps them equal).
"""

from __future__ import annotations

from dataclasses import dataclass

from optinc_pdk.pdk.dimensions import EDGE_COUPLER_TIP_UM

#: angle (degrees) below which two edges are checked against each other: KLayout's default is 90°, which
#: flags the near-90° corners where a polygonal arc meets its end edge; every real violation here is parallel
ANGLE_LIMIT = 80.0


@dataclass(frozen=True)
class Rule:
    kind: str  # "width", "space" or "inside"
    layer: str  # layer name in the PDK's layer map
    value: float = 0.0  # µm (width and space)
    other: str | None = None  # the enclosing layer of an "inside" rule
    source: str = ""

    @property
    def name(self) -> str:
        if self.kind == "inside":
            return f"{self.layer}.inside.{self.other}"
        return f"{self.layer}.{self.kind}.{self.value:g}um"


_CORNERSTONE = "CORNERSTONE si220 strip minimum (cspdk 2.1 model/constraints.json)"
_OPTINC = "optinc PDK statement (heater/metal process, below the drawn dimensions)"
_RDL = "optinc PDK statement: fine-pitch wafer-level RDL, 2/2 µm line/space (assumption, no foundry deck)"
_BUMP = "optinc PDK statement: microbumps about 10 µm across at 20 µm pitch at the smallest (assumption)"

OPTINC_RULES: tuple[Rule, ...] = (
    Rule("width", "WG", 0.20, source=_CORNERSTONE),
    Rule("space", "WG", 0.20, source=_CORNERSTONE),
    Rule("width", "HEATER", 1.0, source=_OPTINC),
    Rule("space", "HEATER", 1.0, source=_OPTINC),
    Rule("width", "METAL", 2.0, source=_OPTINC),
    Rule("space", "METAL", 2.0, source=_OPTINC),
    Rule("inside", "METAL", other="HEATER", source="optinc PDK: every contact pad sits on its heater"),
    Rule("width", "VIA1", 2.0, source=_RDL),
    Rule("space", "VIA1", 2.0, source=_RDL),
    Rule("inside", "VIA1", other="METAL", source="optinc PDK: a via lands on heater metal"),
    Rule("inside", "VIA1", other="M2", source="optinc PDK: a via is covered by the RDL"),
    Rule("width", "M2", 2.0, source=_RDL),
    Rule("space", "M2", 2.0, source=_RDL),
    Rule("width", "UBM", 10.0, source=_BUMP),
    Rule("space", "UBM", 10.0, source=_BUMP),
    Rule("inside", "UBM", other="M2", source="optinc PDK: every bump sits on an RDL capture pad"),
)

_CS_DECK = "CORNERSTONE pre-DRC deck v3.1 (cornerstone-pdk Si_220nm_passive/drc_rules.lydrc)"
_CSPDK = "cspdk 2.1 model/constraints.json"

CORNERSTONE_RULES: tuple[Rule, ...] = (
    Rule("width", "WG", 0.35, source=f"{_CS_DECK}; cspdk's own minimum is 0.20 ({_CSPDK})"),
    Rule("space", "WG", 0.20, source=f"{_CSPDK} and {_CS_DECK}"),
    Rule("width", "HEATER", 0.6, source=_CS_DECK),
    Rule("space", "HEATER", 10.0, source=_CS_DECK),
    Rule("width", "PAD", 2.0, source=_CS_DECK),
    Rule("space", "PAD", 10.0, source=_CS_DECK),
)

RULES_BY_PDK: dict[str, tuple[Rule, ...]] = {"optinc": OPTINC_RULES, "cornerstone-si220": CORNERSTONE_RULES}

#: GDS layer of each rule layer name, per PDK (optinc: ``pdk/tech.py``'s LAYER; CORNERSTONE: cspdk's LAYER)
LAYERS_BY_PDK: dict[str, dict[str, tuple[int, int]]] = {
    "optinc": {"WG": (1, 0), "HEATER": (39, 0), "METAL": (41, 0), "VIA1": (44, 0), "M2": (45, 0), "UBM": (46, 0)},
    "cornerstone-si220": {"WG": (3, 0), "HEATER": (39, 0), "PAD": (41, 0)},
}


def rules_for(pdk: str) -> tuple[Rule, ...]:
    try:
        return RULES_BY_PDK[pdk]
    except KeyError:
        raise KeyError(f"no design rules for PDK {pdk!r} (known: {', '.join(RULES_BY_PDK)})") from None


def layer_map(pdk: str) -> dict[str, tuple[int, int]]:
    return LAYERS_BY_PDK[pdk]


def min_width(pdk: str, layer_name: str) -> float:
    """The PDK's minimum width (µm) on its layer ``layer_name`` (0 where its table has none)."""
    return max((r.value for r in RULES_BY_PDK.get(pdk, ()) if r.kind == "width" and r.layer == layer_name), default=0.0)


def edge_coupler_tip_um(pdk: str) -> float:
    """The edge coupler's facet tip: the design value, or the narrowest waveguide the PDK's rules allow if wider
    (a tip below the minimum width is a DRC violation on every die edge)."""
    return max(EDGE_COUPLER_TIP_UM, min_width(pdk, "WG"))


def min_space(pdk: str, layer: tuple[int, int]) -> float:
    """The PDK's minimum spacing (µm) on the GDS ``layer`` (0 where its table has none)."""
    names = {name for name, gds in LAYERS_BY_PDK.get(pdk, {}).items() if gds == tuple(layer)}
    return max((r.value for r in RULES_BY_PDK.get(pdk, ()) if r.kind == "space" and r.layer in names), default=0.0)


def rule_value(pdk: str, kind: str, layer_name: str) -> float:
    """The value of the ``kind`` rule on ``layer_name`` in ``pdk``'s table (0 where it has none)."""
    return max((r.value for r in RULES_BY_PDK.get(pdk, ()) if r.kind == kind and r.layer == layer_name), default=0.0)


#: the layers a flip-chip bump array needs (``--pads bumps:PITCH``); a PDK without them cannot take bumps
BUMP_LAYERS = ("VIA1", "M2", "UBM")


def has_bump_layers(pdk: str) -> bool:
    return all(name in LAYERS_BY_PDK.get(pdk, {}) for name in BUMP_LAYERS)


def min_bump_pitch(pdk: str) -> float:
    """The smallest bump pitch (µm) the rules allow: a bump is drawn half a pitch across, so both its width and
    its space to the next bump are half the pitch; the pitch must hold the larger of twice each rule."""
    return 2 * max(rule_value(pdk, "width", "UBM"), rule_value(pdk, "space", "UBM"))
