"""Connectivity of drawn layouts, extracted with gdsfactory's get_netlist, against the description.

get_netlist costs ~0.6 ms per instance (docs/conventions.md, Tool costs), so this runs on blocks of up to 32 modes:
meshes traced mode by mode through every MZI, and a small OptINC whose every link between leaf
blocks (meshes, attenuator columns, trees, sources, nonlinear units) is found in the layout,
through the routed waveguides, and nothing else is.
"""

from __future__ import annotations

import numpy as np
import pytest

from optinc_pdk.circuit.model import Block, Composite, MeshBlock
from optinc_pdk.layout import build_layout
from optinc_pdk.layout.labels import leaf_origins
from optinc_pdk.layout.synthetic import random_mesh, random_phase_description
from optinc_pdk.pdk import dimensions as dim
from optinc_pdk.pdk.ports import east_port, west_port
from optinc_pdk.spec.scenario import load_scenario

# how a mode crosses each PDK element of a mesh (entry port -> exit port)
THROUGH = {"straight": {"o1": "o2"}, "phase_shifter": {"o1": "o2"}, "mzi2x2": {"o2": "o3", "o1": "o4"}}
LEAF_BLOCK_CELLS = ("mesh_n", "attenuators_", "splitter_trees_", "combiner_trees_", "source", "nonlinear_", "wires_")


def _split(ref: str) -> tuple[str, str]:
    instance, port = ref.rsplit(",", 1)
    return instance, port


def flatten(netlists: dict, cell: str, is_leaf) -> tuple[dict, set, dict]:
    """(leaf elements path -> (component, x, y), edges between 'path,port' of leaves, exposed ports of ``cell``)."""
    net = netlists[cell]
    elements: dict[str, tuple[str, float, float]] = {}
    exposed_of: dict[str, dict] = {}
    edges: set[frozenset] = set()
    for name, inst in net["instances"].items():
        place = net["placements"][name]
        array = inst.get("array") or {"columns": 1, "rows": 1, "column_pitch": 0, "row_pitch": 0}
        for a in range(array["columns"]):
            for b in range(array["rows"]):
                path = f"{name}<{a}.{b}>" if inst.get("array") else name
                x = place["x"] + a * array["column_pitch"]
                y = place["y"] + b * array["row_pitch"]
                component = inst["component"]
                if is_leaf(component):
                    elements[path] = (component, x, y)
                    continue
                sub_elements, sub_edges, sub_exposed = flatten(netlists, component, is_leaf)
                elements.update({f"{path}/{p}": (c, x + sx, y + sy) for p, (c, sx, sy) in sub_elements.items()})
                edges |= {frozenset(f"{path}/{end}" for end in edge) for edge in sub_edges}
                exposed_of[path] = {port: f"{path}/{ref}" for port, ref in sub_exposed.items()}

    def resolve(ref: str) -> str:
        instance, port = _split(ref)
        return exposed_of[instance][port] if instance in exposed_of else ref

    for n in net["nets"]:
        edges.add(frozenset((resolve(n["p1"]), resolve(n["p2"]))))
    return elements, edges, {port: resolve(ref) for port, ref in net["ports"].items()}


def _neighbours(edges: set) -> dict[str, str]:
    out: dict[str, str] = {}
    for edge in edges:
        a, b = tuple(edge)
        assert a not in out and b not in out, f"port on two nets: {a} / {b}"
        out[a], out[b] = b, a
    return out


def _netlists(built):
    return built.component.get_netlist(recursive=True, on_dangling_port="ignore")


@pytest.mark.parametrize("n_modes", [8, 32])
def test_mesh_connects_every_mode_through_its_mzis_in_order(n_modes):
    block = MeshBlock("U", n_modes, n_modes, phases=random_mesh(n_modes, np.random.default_rng(n_modes)))
    built = build_layout(block, name=f"mesh{n_modes}")
    try:
        netlists = _netlists(built)
        elements, edges, exposed = flatten(netlists, built.name, lambda c: c in THROUGH)
    finally:
        built.close()
    neighbour = _neighbours(edges)
    inside = {ref: port for port, ref in exposed.items()}  # leaf port -> the mesh's own port
    g = built.planner.geometry
    length, pitch = dim.mzi_length(g), g.mode_pitch
    mzis = {path: (round(x / length), n_modes - 2 - round(y / pitch)) for path, (c, x, y) in elements.items() if c == "mzi2x2"}
    assert sorted(mzis.values()) == sorted(zip(block.column.tolist(), block.top_mode.tolist()))
    for mode in range(n_modes):
        ref = exposed[west_port(mode, n_modes)]
        seen = []
        while True:
            path, port = _split(ref)
            if path in mzis:
                seen.append(mzis[path])
            out = f"{path},{THROUGH[elements[path][0]][port]}"
            if out in inside:
                assert inside[out] == east_port(mode, n_modes, n_modes)
                break
            ref = neighbour[out]
        on_mode = (block.top_mode == mode) | (block.top_mode == mode - 1)
        expected = sorted(zip(block.column[on_mode].tolist(), block.top_mode[on_mode].tolist()))
        assert seen == expected


def _leaf_ports(top: Block) -> set[frozenset]:
    """Every link between leaf blocks of the description, as {(leaf, 'west'|'east', channel)} pairs."""
    def west(block: Block, channel: int):
        while isinstance(block, Composite):
            block, channel = block.children[block.inputs[channel, 0]], int(block.inputs[channel, 1])
        return block, "west", channel

    def east(block: Block, channel: int):
        while isinstance(block, Composite):
            block, channel = block.children[block.outputs[channel, 0]], int(block.outputs[channel, 1])
        return block, "east", channel

    links = set()
    for block in top.walk():
        if isinstance(block, Composite):
            for a, ca, b, cb in block.links.tolist():
                links.add((east(block.children[a], ca), west(block.children[b], cb)))
    return links


def test_small_optinc_links_every_leaf_block_as_described():
    """widths 4-8-16-8-4, every layer in blocks: tall fan-outs, wide sums, bias injection, ReLUs."""
    scenario = load_scenario("b8n4").with_updates(name="small", widths=[4, 8, 16, 8, 4], approx_layers=[1, 2, 3, 4])
    description = random_phase_description(scenario, seed=5)
    assert max(max(b.n_in, b.n_out) for b in description.walk()) <= 32
    built = build_layout(description)
    try:
        assert built.origin == (0.0, 0.0)
        netlists = _netlists(built)
        elements, edges, _ = flatten(netlists, built.name, lambda c: c.startswith(LEAF_BLOCK_CELLS))
    finally:
        built.close()
    # a routed signal crosses one wires cell per composite level (in{i} -> out{i}): join every
    # chain of nets and wires, and keep the chains that end on two leaf blocks
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(x: str, y: str) -> None:
        parent[root(x)] = root(y)

    for edge in edges:
        join(*tuple(edge))
    wires = {path for path, (component, _, _) in elements.items() if component.startswith("wires_")}
    for end in list(parent):
        path, port = _split(end)
        if path in wires and port.startswith("in"):
            join(end, f"{path},out{port[2:]}")
    chains: dict[str, list[str]] = {}
    for end in parent:
        if _split(end)[0] not in wires:
            chains.setdefault(root(end), []).append(end)
    joined = {frozenset(ends) for ends in chains.values() if len(ends) == 2}
    assert all(len(ends) <= 2 for ends in chains.values())
    # name each description leaf by its layout element (same cell, same place)
    where = {(component, x, y): path for path, (component, x, y) in elements.items()}
    planner = built.planner
    path_of = {}
    for block, x, y in leaf_origins(description.top, planner):
        path_of[id(block)] = where[(built.cell_names[planner.plan(block).key], x, y)]

    def ref(end) -> str:
        block, side, channel = end
        port = west_port(channel, block.n_in) if side == "west" else east_port(channel, block.n_in, block.n_out)
        return f"{path_of[id(block)]},{port}"

    expected = {frozenset((ref(a), ref(b))) for a, b in _leaf_ports(description.top)}
    assert joined == expected
    assert len(expected) > 200
