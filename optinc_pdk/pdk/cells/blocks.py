"""OptINC building blocks made of trees and attenuators: averager, splitter array, bias injector.

Channels count from the top (channel c at y = (n_channels−1−c)·mode_pitch); optical port names
follow ``ports.py``. Attenuators inside a block are ``mzi_attenuator`` instances placed with
their upper arm (o2 → o3) on the channel; their heater contacts are re-exported as
e{4k+1}..e{4k+4} for the k-th attenuator from the top (``ports.heater_ports(k)``). Their o1/o4
ports stay inside the block, unconnected.
"""

from __future__ import annotations

from typing import Any

import gdsfactory as gf

from optinc_pdk.core.topology import group_size
from optinc_pdk.pdk.cells._cell import geometry_cell
from optinc_pdk.pdk.cells.mzis import mzi_attenuator
from optinc_pdk.pdk.cells.trees import combiner_tree, splitter_tree
from optinc_pdk.pdk.cells.waveguides import straight
from optinc_pdk.pdk.dimensions import mzi_length, tree_length
from optinc_pdk.pdk.ports import east_port, heater_ports, west_port
from optinc_pdk.spec.geometry import DeviceGeometry


def _add_attenuator(c: gf.Component, cell: gf.Component, name: str, x: float, y_channel: float,
                    g: DeviceGeometry, index: int) -> gf.ComponentReference:
    ref = c.add_ref(cell, name=name).dmove((x, y_channel - g.attenuator_arm_spacing))
    for new, old in zip(heater_ports(index), ("e1", "e2", "e3", "e4"), strict=True):
        c.add_port(new, port=ref.ports[old])
    return ref


@geometry_cell
def averager(
    n_servers: int = 4, bits: int = 8, n_outputs: int = 4, geometry: dict[str, Any] | None = None
) -> gf.Component:
    """Preprocessing averager: N·b/2 server inputs → M outputs (docs/conventions.md, Preprocessing).

    Input channel ``core.topology.input_channels(...)[server, digit]`` carries that server's PAM4
    digit; output j (east channel j) combines group j's N·G inputs through a combiner tree.
    For G > 1 the digits with offset t < G−1 first pass an attenuator (to realise the 4^t
    weights, ``core.topology.digit_weights``); the top digit passes a straight of equal length.
    """
    g = DeviceGeometry(**geometry)
    groups = group_size(bits, n_outputs)
    n_in, per_group = n_servers * bits // 2, n_servers * groups
    pitch = g.mode_pitch
    weighting = mzi_length(g) if groups > 1 else 0.0
    tree = combiner_tree(n_inputs=per_group, geometry=geometry)
    c = gf.Component()

    def channel_y(ch: int) -> float:
        return (n_in - 1 - ch) * pitch

    attenuators = 0
    for j in range(n_outputs):
        tree_ref = c.add_ref(tree, name=f"tree{j}").dmove((weighting, channel_y((j + 1) * per_group - 1)))
        c.add_port(east_port(j, n_in, n_outputs), port=tree_ref.ports[east_port(0, per_group, 1)])
        for k in range(per_group):
            ch = j * per_group + k
            tree_in = tree_ref.ports[west_port(k, per_group)]
            if groups == 1:
                c.add_port(west_port(ch, n_in), port=tree_in)
            elif k % groups < groups - 1:
                ref = _add_attenuator(c, mzi_attenuator(geometry=geometry), f"weight{ch}", 0.0, channel_y(ch), g,
                                      attenuators)
                attenuators += 1
                c.add_port(west_port(ch, n_in), port=ref.ports["o2"])
            else:
                ref = c.add_ref(straight(length=weighting, geometry=geometry), name=f"pass{ch}")
                ref.dmove((0.0, channel_y(ch)))
                c.add_port(west_port(ch, n_in), port=ref.ports["o1"])
    return c


@geometry_cell
def splitter_array(n_inputs: int = 4, n_servers: int = 4, geometry: dict[str, Any] | None = None) -> gf.Component:
    """M inputs, each split to N servers by its own 1→N tree; east channel i·N + s carries input i to server s."""
    g = DeviceGeometry(**geometry)
    tree = splitter_tree(n_outputs=n_servers, geometry=geometry)
    n_out = n_inputs * n_servers
    c = gf.Component()
    for i in range(n_inputs):
        ref = c.add_ref(tree, name=f"tree{i}").dmove((0.0, (n_inputs - 1 - i) * n_servers * g.mode_pitch))
        c.add_port(west_port(i, n_inputs), port=ref.ports[west_port(0, 1)])
        for s in range(n_servers):
            c.add_port(east_port(i * n_servers + s, n_inputs, n_out), port=ref.ports[east_port(s, 1, n_servers)])
    return c


@geometry_cell
def bias_injector(n_modes: int = 4, geometry: dict[str, Any] | None = None) -> gf.Component:
    """Constant-amplitude bias source: input o1 split 1→n_modes, then one attenuator per output
    channel (its θ, φ set the bias amplitude and sign); east channel c is o{2+c}."""
    g = DeviceGeometry(**geometry)
    if n_modes < 1:
        raise ValueError(f"bias_injector n_modes={n_modes} must be >= 1")
    x_att = tree_length(n_modes, g) if n_modes > 1 else 0.0
    attenuator = mzi_attenuator(geometry=geometry)
    c = gf.Component()
    if n_modes > 1:
        tree_ref = c.add_ref(splitter_tree(n_outputs=n_modes, geometry=geometry), name="tree")
        c.add_port(west_port(0, 1), port=tree_ref.ports[west_port(0, 1)])
    for ch in range(n_modes):
        ref = _add_attenuator(c, attenuator, f"bias{ch}", x_att, (n_modes - 1 - ch) * g.mode_pitch, g, ch)
        if n_modes == 1:
            c.add_port(west_port(0, 1), port=ref.ports["o2"])
        c.add_port(east_port(ch, 1, n_modes), port=ref.ports["o3"])
    return c
