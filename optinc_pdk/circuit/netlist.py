"""gdsfactory-schema netlists of description blocks, built from the PDK's cells.

:func:`block_netlist` flattens a block (leaf or composite) into instances of the PDK cells —
``mzi2x2``, ``mzi_attenuator``, ``phase_shifter``, ``splitter_1x2``, ``combiner_2x1``,
``nonlinear_unit`` — with ``nets`` between instance ports and ``ports`` on the block's edges,
the form ``gf.read.from_yaml`` and ``sax.circuit`` read. Meant for small blocks (gdsfactory and
sax cost milliseconds per instance, docs/conventions.md, Tool costs): the whole design's structure is the compact
netlist of :mod:`optinc_pdk.circuit.compact`.

Conventions:

* Block ports follow the PDK (``optinc_pdk.pdk.ports``): west channel c of an n-west-port block
  is ``o{n−c}``, east channel j is ``o{n+1+j}``; a bias source inside the block becomes an extra
  input port named after it (``source``, or ``bias_source`` seen from a layer).
* Each MZI's phases are in the instance's ``info`` (``theta``, ``phi``; a phase shifter's
  ``phase``): the PDK's cells are phase-free (one MZI cell serves every MZI), gdsfactory keeps
  ``info`` as data, and sax merges ``info`` into the model's settings.
* A mesh MZI takes mode m on o2 (upper in) / o3 (upper out) and mode m+1 on o1 / o4; an
  attenuator uses o2 → o3 only; a splitter's o2/o3 are its upper/lower branch, a combiner's
  o2/o1 its upper/lower input. A tree element whose ratio is not 1/2 (trees whose leaf count is
  not a power of two) carries ``settings: {ratio: r}``, the power share of its upper branch.
* Instance names are the element names of :mod:`optinc_pdk.circuit.naming`, prefixed with the
  leaf block's path inside the exported block, ``/`` written as ``_`` (``B0_U_mzi3``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count

import numpy as np

from optinc_pdk.circuit import naming
from optinc_pdk.circuit.model import (
    AttenuatorColumn,
    Block,
    Composite,
    MeshBlock,
    NonlinearArray,
    Source,
    TreeArray,
)
from optinc_pdk.core.topology import NO_CHILD

HALF = 0.5
_wires = count()


@dataclass
class _Flat:
    """A block flattened into instances; its channels end at instance ports, wires or nothing."""

    instances: dict[str, dict] = field(default_factory=dict)
    joins: list[tuple[object, object]] = field(default_factory=list)  # terminals that are one node
    west: list[object] = field(default_factory=list)  # per west channel: a terminal or None
    east: list[object] = field(default_factory=list)
    sources: dict[str, object] = field(default_factory=dict)  # extra input port name -> terminal


def _port(instance: str, port: str) -> str:
    return f"{instance},{port}"


def _wire() -> tuple[str, int]:
    return ("wire", next(_wires))


def _mesh(block: MeshBlock, prefix: str) -> _Flat:
    flat = _Flat()
    n = block.n_modes
    current: list[object] = [None] * n
    first: list[object] = [None] * n
    order = np.argsort(block.column, kind="stable")
    for index in order.tolist():  # small blocks only: one entry per MZI is the netlist itself
        m = int(block.top_mode[index])
        name = prefix + naming.mzi_instance(index)
        phases = {"theta": float(block.theta[index]), "phi": float(block.phi[index])}
        flat.instances[name] = {"component": "mzi2x2", "info": phases}
        for mode, port_in, port_out in ((m, "o2", "o3"), (m + 1, "o1", "o4")):
            if current[mode] is None:
                first[mode] = _port(name, port_in)
            else:
                flat.joins.append((current[mode], _port(name, port_in)))
            current[mode] = _port(name, port_out)
    for mode in range(n):
        name = prefix + naming.phase_shifter_instance(mode)
        flat.instances[name] = {"component": "phase_shifter", "info": {"phase": float(block.output_phase[mode])}}
        if current[mode] is None:
            first[mode] = _port(name, "o1")
        else:
            flat.joins.append((current[mode], _port(name, "o1")))
        current[mode] = _port(name, "o2")
    flat.west, flat.east = first, current
    return flat


def _attenuators(block: AttenuatorColumn, prefix: str) -> _Flat:
    flat = _Flat(west=[None] * block.n_in, east=[None] * block.n_out)
    attenuated = set(block.mode.tolist())
    for channel in range(min(block.n_in, block.n_out)):  # plain waveguides unless an attenuator sits there
        if channel in attenuated:
            continue
        # an explicit straight, so a pass-through joins two instance ports even when this column is exported alone
        name = f"{prefix}wg{channel}"
        flat.instances[name] = {"component": "straight", "settings": {}}
        flat.west[channel], flat.east[channel] = _port(name, "o1"), _port(name, "o2")
    for index, mode in enumerate(block.mode.tolist()):
        name = prefix + naming.mzi_instance(index)
        phases = {"theta": float(block.theta[index]), "phi": float(block.phi[index])}
        flat.instances[name] = {"component": "mzi_attenuator", "info": phases}
        flat.west[mode], flat.east[mode] = _port(name, "o2"), _port(name, "o3")
    return flat


def _trees(block: TreeArray, prefix: str) -> _Flat:
    flat = _Flat(west=[None] * block.n_in, east=[None] * block.n_out)
    plan = block.plan
    leaf_side, trunk_side = (flat.east, flat.west) if block.splitting else (flat.west, flat.east)
    if plan.n_elements == 0:  # one-leaf trees are plain waveguides
        for tree in range(block.n_trees):
            wire = _wire()
            trunk_side[tree] = leaf_side[int(block.leaf_channels[tree, 0])] = wire
        return flat
    component = "splitter_1x2" if block.splitting else "combiner_2x1"
    trunk, upper, lower = ("o1", "o2", "o3") if block.splitting else ("o3", "o2", "o1")
    ratios = plan.ratio
    for tree in range(block.n_trees):
        names = [prefix + naming.tree_instance(tree, node) for node in range(plan.n_elements)]
        for node, name in enumerate(names):
            entry: dict = {"component": component}
            if ratios[node] != HALF:
                entry["settings"] = {"ratio": float(ratios[node])}
            flat.instances[name] = entry
            for child, leaf, port in ((plan.upper_node, plan.upper_leaf, upper), (plan.lower_node, plan.lower_leaf, lower)):
                if child[node] != NO_CHILD:
                    flat.joins.append((_port(name, port), _port(names[child[node]], trunk)))
                else:
                    leaf_side[int(block.leaf_channels[tree, leaf[node]])] = _port(name, port)
        trunk_side[tree] = _port(names[0], trunk)
    return flat


def _nonlinear(block: NonlinearArray, prefix: str) -> _Flat:
    flat = _Flat()
    for channel in range(block.n_in):
        name = prefix + naming.nonlinear_instance(channel)
        flat.instances[name] = {"component": "nonlinear_unit"}
        flat.west.append(_port(name, "o1"))
        flat.east.append(_port(name, "o2"))
    return flat


def _relative(block: Block, root: str) -> str:
    return block.name[len(root) + 1 :] if block.name.startswith(root + "/") else block.name


def _flatten(block: Block, root: str) -> _Flat:
    relative = _relative(block, root) if block.name != root else ""
    prefix = relative.replace("/", "_") + "_" if relative else ""
    if isinstance(block, MeshBlock):
        return _mesh(block, prefix)
    if isinstance(block, AttenuatorColumn):
        return _attenuators(block, prefix)
    if isinstance(block, TreeArray):
        return _trees(block, prefix)
    if isinstance(block, NonlinearArray):
        return _nonlinear(block, prefix)
    if isinstance(block, Source):
        wire = _wire()
        return _Flat(east=[wire], sources={relative.replace("/", "_") or naming.SOURCE_INSTANCE: wire})
    if isinstance(block, Composite):
        parts = [_flatten(child, root) for child in block.children]
        flat = _Flat()
        for part in parts:
            flat.instances.update(part.instances)
            flat.joins.extend(part.joins)
            flat.sources.update(part.sources)
        for src, src_ch, dst, dst_ch in block.links.tolist():
            a, b = parts[src].east[src_ch], parts[dst].west[dst_ch]
            if a is not None and b is not None:
                flat.joins.append((a, b))
        flat.west = [parts[c].west[ch] for c, ch in block.inputs.tolist()]
        flat.east = [parts[c].east[ch] for c, ch in block.outputs.tolist()]
        return flat
    raise TypeError(f"no netlist for block {block.name} of kind {block.kind}")


def _groups(joins: list[tuple[object, object]]) -> dict[object, object]:
    """Union-find over terminals: each terminal → its group's representative."""
    parent: dict[object, object] = {}

    def find(item):
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for a, b in joins:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    return {item: find(item) for item in list(parent)}


def block_netlist(block: Block) -> dict:
    """The block as a gdsfactory-schema netlist dict: name, instances, nets, ports."""
    from optinc_pdk.pdk.ports import east_port, west_port

    flat = _flatten(block, block.name)
    ports: dict[str, object] = {}
    for channel, terminal in enumerate(flat.west):
        ports[west_port(channel, block.n_in)] = terminal
    for channel, terminal in enumerate(flat.east):
        ports[east_port(channel, block.n_in, block.n_out)] = terminal
    ports.update(flat.sources)
    joins = list(flat.joins)
    # every port terminal joins its own node so wires (pass-throughs) resolve to instance ports
    port_nodes = {name: ("port", name) for name in ports}
    joins += [(port_nodes[name], terminal) for name, terminal in ports.items() if terminal is not None]
    group_of = _groups(joins)
    members: dict[object, list[object]] = {}
    for item, root in group_of.items():
        members.setdefault(root, []).append(item)
    nets, resolved = [], {}
    for items in members.values():
        instance_ports = sorted(i for i in items if isinstance(i, str))
        port_names = sorted(i[1] for i in items if isinstance(i, tuple) and i[0] == "port")
        # a node is a net (two instance ports), a block port (one of each), or unused (one alone)
        if len(instance_ports) + len(port_names) > 2 or (len(port_names) == 2 and not instance_ports):
            raise ValueError(f"{block.name}: a node joins {instance_ports + port_names}; a netlist joins two ports")
        if len(instance_ports) == 2:
            nets.append({"p1": instance_ports[0], "p2": instance_ports[1]})
        elif instance_ports and port_names:
            resolved[port_names[0]] = instance_ports[0]
    nets.sort(key=lambda net: (net["p1"], net["p2"]))
    return {
        "name": naming.file_stem(block.name),
        "instances": flat.instances,
        "nets": nets,
        "ports": {name: resolved[name] for name in ports if name in resolved},
    }
