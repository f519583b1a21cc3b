"""Netlists of optinc cells in the form sax expects."""

from __future__ import annotations

from typing import Any

import gdsfactory as gf


def optical_netlist(component: gf.Component) -> dict[str, Any]:
    """``component.get_netlist()`` without its electrical ports.

    sax models describe optical ports only, and ``sax.circuit`` rejects a top-level port that
    points at a port the instance's model lacks (the heater contacts). Small cells only:
    get_netlist costs ~0.6 ms per instance (DESIGN.md §4).
    """
    netlist = component.get_netlist()
    electrical = {p.name for p in component.ports if p.port_type == "electrical"}
    netlist["ports"] = {name: ref for name, ref in netlist["ports"].items() if name not in electrical}
    return netlist
