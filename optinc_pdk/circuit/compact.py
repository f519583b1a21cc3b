"""The compact netlist: the whole description's structure as one JSON document.

Every block appears once, depth-first in optical order, with its kind, its west/east channel
counts and what it holds; no per-MZI objects. A mesh or attenuator column refers to the phase
map entry of the same name for its arrays (theta, phi, top_mode, column / mode); a tree array
lists its leaf channels and its elements' structure (breadth-first: first leaf, leaf count,
power ratio of the upper branch, child elements); a composite lists its children and its wiring
(inputs ``[child, west channel]``, links ``[src, src east channel, dst, dst west channel]``,
outputs ``[child, east channel]``, children by index). Together with the phase map this is the
netlist of designs too big for per-instance YAML.
"""

from __future__ import annotations

from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.circuit.model import (
    AttenuatorColumn,
    Block,
    Composite,
    MeshBlock,
    NonlinearArray,
    Source,
    TreeArray,
)
from optinc_pdk.core.topology import input_channels, output_channels

FORMAT_NAME = "optinc-circuit"
FORMAT_VERSION = 1


def compact_block(block: Block) -> dict:
    entry: dict = {"name": block.name, "kind": block.kind, "n_in": block.n_in, "n_out": block.n_out}
    if isinstance(block, MeshBlock):
        entry.update(role=block.role, n_modes=block.n_modes, n_mzis=block.n_mzis, n_columns=block.n_columns,
                     phases=block.name)
    elif isinstance(block, AttenuatorColumn):
        entry.update(role=block.role, n_mzis=block.n_mzis, mode=block.mode.tolist(), phases=block.name)
    elif isinstance(block, TreeArray):
        plan = block.plan
        entry.update(
            splitting=block.splitting, n_trees=block.n_trees, n_leaves=block.n_leaves,
            leaf_channels=block.leaf_channels.tolist(), n_elements=block.n_elements,
            elements={"depth": plan.depth.tolist(), "first": plan.first.tolist(), "count": plan.count.tolist(),
                      "ratio": plan.ratio.tolist(), "upper_node": plan.upper_node.tolist(),
                      "lower_node": plan.lower_node.tolist()},
        )
    elif isinstance(block, Source):
        entry.update(amplitude=block.amplitude)
    elif isinstance(block, NonlinearArray):
        entry.update(function=block.function)
    elif isinstance(block, Composite):
        entry.update(role=block.role, children=[child.name for child in block.children],
                     inputs=block.inputs.tolist(), links=block.links.tolist(), outputs=block.outputs.tolist())
    return entry


def compact_netlist(description: CircuitDescription) -> dict:
    d = description
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "scenario": d.scenario.name,
        "servers": d.servers,
        "bits": d.bits,
        "widths": list(d.widths),
        "weights_sha256": d.weights_digest,
        "top": d.top.name,
        "ports": {
            "west": "channel of digit k of server i: input_channels[i][k]",
            "east": "channel of digit k delivered to server i: output_channels[i][k]",
            "input_channels": input_channels(d.servers, d.digits, d.onn_inputs).tolist(),
            "output_channels": output_channels(d.servers, d.digits).tolist(),
        },
        "gains": {"averager": d.averager_gain, "broadcast": d.broadcast_gain, "receiver": d.receiver_gain},
        "tree_elements": "node splits leaves [first, first+count): upper branch gets ceil(count/2) leaves, "
                         "power ratio upper_count/count; child -1 means the branch ends at a leaf",
        "blocks": [compact_block(block) for block in d.walk()],
    }
