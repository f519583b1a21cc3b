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


def sax_flat(netlists: dict[str, dict[str, Any]], top: str) -> tuple[dict[str, Any], dict[str, Callable[..., Any]]]:
    """(flat netlist, models) of netlist ``top`` for ``sax.circuit(netlist, models=models)``.

    ``netlists`` maps names to gdsfactory-schema netlists whose instances are PDK cells (their
    settings are the models' settings: θ/φ, phases, ratios, tree sizes) or other netlists of the
    dict. Levels are inlined (instance ``a__b`` is instance ``b`` of level instance ``a``), because
    sax 0.18 mis-evaluates a nested level whose instances share no connection (an averager's
    separate trees). Cells whose port count depends on a setting get a model with that setting
    bound, as in :func:`sax_inputs`.
    """
    models: dict[str, Callable[..., Any]] = dict(MODELS)
    instances: dict[str, Any] = {}
    connections: dict[str, str] = {}

    def inline(name: str, prefix: str) -> dict[str, str]:
        """Add level ``name``'s cells under ``prefix``; returns its ports → flat 'instance,port'."""
        netlist = netlists[name]
        exposed: dict[str, dict[str, str]] = {}
        for instance_name, instance in netlist["instances"].items():
            component, settings = instance["component"], dict(instance.get("settings", {}))
            if component in netlists:
                exposed[instance_name] = inline(component, f"{prefix}{instance_name}__")
                continue
            settings.pop("geometry", None)  # geometry is the layout's, never a model's parameter
            if component in PORT_COUNT_PARAMETERS:
                bound = {key: settings.pop(key) for key in PORT_COUNT_PARAMETERS[component] if key in settings}
                key = "_".join([component, *(f"{k}{v}" for k, v in bound.items())])
                models.setdefault(key, functools.partial(MODELS[component], **bound))
                component = key
            instances[prefix + instance_name] = {"component": component, "settings": settings}

        def resolve(ref: str) -> str | None:
            instance_name, port = ref.rsplit(",", 1)
            if instance_name in exposed:
                return exposed[instance_name].get(port)
            return f"{prefix}{instance_name},{port}"

        for net in netlist["nets"]:
            a, b = resolve(net["p1"]), resolve(net["p2"])
            if a is not None and b is not None:
                connections[a] = b
        return {port: flat for port, ref in netlist["ports"].items() if (flat := resolve(ref)) is not None}

    ports = inline(top, "")
    return {"instances": instances, "connections": connections, "ports": ports}, models
