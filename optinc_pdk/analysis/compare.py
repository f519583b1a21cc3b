"""Area studies across scenarios: settings applied to scenarios, footprints, the `optinc compare` table.

The MZI counts come from :mod:`optinc_pdk.core.area` (the paper's definition); footprints come
from the layout's cell dimensions alone (no GDS), so a sweep over many configurations is fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from optinc_pdk.core.area import onn_area
from optinc_pdk.spec.scenario import Scenario

# --- Comparisons for scripts and `optinc compare` ------------------------------------------


def footprint_um(scenario: Scenario) -> tuple[float, float]:
    """(width, height) in µm of the scenario's layout, from the cell dimensions alone (no GDS).

    Geometry does not depend on phases, so a random-phase description of the scenario's shapes
    gives exactly the bounding box that `optinc build` writes (a test checks the equality).
    """
    from optinc_pdk.layout import analytic_footprint
    from optinc_pdk.layout.synthetic import random_phase_description

    return analytic_footprint(random_phase_description(scenario))


def parse_setting(expression: str) -> tuple[str, object]:
    """``approx_layers=2,3,4`` / ``servers=8`` / ``device.mode_pitch=30`` -> (key, value)."""
    import yaml

    from optinc_pdk.errors import OptincError

    key, sep, raw = expression.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key or not raw and key != "approx_layers":
        raise OptincError(f"--set {expression!r}: expected KEY=VALUE, e.g. approx_layers=2,3,4")
    if key in ("approx_layers", "widths"):
        try:
            value: object = [int(part) for part in raw.replace("-", ",").split(",") if part.strip()] \
                if key == "widths" else _layer_list(raw)
        except ValueError:
            raise OptincError(f"--set {expression!r}: {key} must be integers separated by commas") from None
        return key, value
    try:
        return key, yaml.safe_load(raw)
    except yaml.YAMLError:
        raise OptincError(f"--set {expression!r}: cannot read the value") from None


def _layer_list(raw: str) -> list[int]:
    """'2,3,4', '2-7', 'none' or 'all' (all is resolved by the caller)."""
    if raw.lower() in ("none", ""):
        return []
    if raw.lower() == "all":
        return [-1]
    out: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            out.extend(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    return out


def apply_settings(scenario: Scenario, settings: list[tuple[str, object]]) -> Scenario:
    """A validated variant of ``scenario``; nested keys (``device.mode_pitch``) update sub-models."""
    from optinc_pdk.errors import OptincError

    if not settings:
        return scenario
    data = scenario.model_dump()
    for key, value in settings:
        if key == "approx_layers" and value == [-1]:
            value = list(range(1, len(data["widths"]))) if "widths" in data else []
        target = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                raise OptincError(f"--set {key}: {part} is not a group of settings")
            target = target[part]
        if parts[-1] not in target:
            raise OptincError(f"--set {key}: unknown setting (scenario fields: {', '.join(sorted(data))})")
        target[parts[-1]] = value
    changed = {key.split(".")[0] for key, _ in settings}
    return scenario.with_updates(**{k: data[k] for k in changed})


@dataclass(frozen=True)
class ComparisonRow:
    scenario: str
    changes: str
    bits: int
    servers: int
    widths: str
    approx_layers: str
    full_mzis: int
    approx_mzis: int
    ratio: float
    paper_ratio: float | None
    periphery_mzis: int
    passives: int
    optincs: int
    width_mm: float | None
    height_mm: float | None
    footprint_mm2: float | None


def compare(scenarios: list[Scenario], settings: list[tuple[str, object]] | None = None,
            footprint: bool = True) -> list[ComparisonRow]:
    """MZI counts, ratios and analytic footprints of each scenario (with ``settings`` applied)."""
    rows = []
    changes = ", ".join(f"{k}={v}" for k, v in (settings or []))
    for base in scenarios:
        s = apply_settings(base, settings or [])
        a = onn_area(s)
        width = height = mm2 = None
        if footprint and s.cascade is None:
            w_um, h_um = footprint_um(s)
            width, height, mm2 = w_um / 1000, h_um / 1000, w_um * h_um / 1e6
        rows.append(ComparisonRow(
            s.name, changes, s.bits, s.servers, "-".join(map(str, s.widths)),
            ",".join(map(str, s.approx_layers)) or "none", a.full_mzis, a.approx_mzis, a.ratio,
            s.paper.area_ratio if s.paper and not settings else None, a.periphery.mzis, a.periphery.passives, a.optincs,
            width, height, mm2,
        ))
    return rows
