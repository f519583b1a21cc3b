"""Netlists of optinc cells in the form sax expects (small cells only: get_netlist costs
~0.6 ms per instance, docs/conventions.md, Tool costs; big meshes go through the numpy evaluator)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import gdsfactory as gf

from optinc_pdk.pdk.models import MODELS, PORT_COUNT_PARAMETERS

#: Digits kept for float settings (ratios, phases) when gdsfactory serialises a netlist: all of a float64.
SETTINGS_DIGITS = 17


def optical_netlist(component: gf.Component) -> dict[str, Any]:
    """``component.get_netlist()`` without its electrical ports.

    sax models describe optical ports only, and ``sax.circuit`` rejects a top-level port that
    points at a port the instance's model lacks (the heater contacts).
    """
    # gdsfactory rounds settings to 3 digits by default; a 2/3 splitter or a phase needs them all
    netlist = component.get_netlist(serialization_max_digits=SETTINGS_DIGITS)
    electrical = {p.name for p in component.ports if p.port_type == "electrical"}
    netlist["ports"] = {name: ref for name, ref in netlist["ports"].items() if name not in electrical}
    return netlist


def sax_inputs(component: gf.Component) -> tuple[dict[str, Any], dict[str, Callable[..., Any]]]:
    """(netlist, models) for ``sax.circuit(netlist, models=models)``.

    Instances of cells whose port count depends on a setting (a 3-way tree, say) get a model of
    their own with that setting bound, because sax sizes each model from a call with defaults.
    Per-instance phases are then passed as ``circuit(instance_name={"theta": ..., "phi": ...})``.
    """
    netlist = copy.deepcopy(optical_netlist(component))
    models: dict[str, Callable[..., Any]] = dict(MODELS)
    for instance in netlist["instances"].values():
        name = instance["component"]
        if name not in PORT_COUNT_PARAMETERS:
            continue
        bound = {key: instance["settings"][key] for key in PORT_COUNT_PARAMETERS[name]}
        key = "_".join([name, *(f"{k}{v}" for k, v in bound.items())])
        models[key] = functools.partial(MODELS[name], **bound)
        instance["component"] = key
    return netlist, models
