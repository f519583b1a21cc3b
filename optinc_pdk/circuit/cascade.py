"""The circuit description of a two-level cascade (Sec. III-C, Fig. 5): N² servers, N + 1 OptINCs.

Top composite ``cascade`` (N²·b/2 west channels, one per server digit; N²·b/2 east)::

    level1.0 … level1.{N-1}   basic OptINCs without their splitter array: averager + layers,
                              N·b/2 server channels in, b/2 analog outputs out (LSB keeps the decimal)
    level2                    basic OptINC without its splitter array: its averager takes the
                              N·b/2 level-1 outputs (OptINC q plays "server" q), no receiver between
    broadcast                 b/2 splitter trees of N² leaves: every server gets every output digit

All level-1 OptINCs carry the same phases (one set of level-1 weights); level 2 has its own. Each
level is first built as a plain OptINC description (:func:`~optinc_pdk.circuit.builder.assemble`,
used for its per-layer checks and phase map); the cascade reuses their blocks under prefixed names.
Level 2's bias light is set for the field it really receives: level 1's output gain times its
averager gain (``input_scale``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np

from optinc_pdk.circuit.builder import assemble, broadcast_block, decompose_layer, design_parameters
from optinc_pdk.circuit.description import CircuitDescription, NamedBlocks
from optinc_pdk.circuit.model import Block, Composite
from optinc_pdk.circuit.wiring import links, straight_outputs
from optinc_pdk.core.topology import input_channels, output_channels
from optinc_pdk.core.weights import OnnWeights
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import Scenario

CASCADE = "cascade"
LEVEL2 = "level2"


def level1_name(group: int) -> str:
    return f"level1.{group}"


def prefixed(block: Block, prefix: str) -> Block:
    """A copy of ``block`` with every name inside it under ``prefix/`` (arrays are shared, not copied)."""
    if isinstance(block, Composite):
        children = tuple(prefixed(child, prefix) for child in block.children)
        return dataclasses.replace(block, name=f"{prefix}/{block.name}", children=children)
    return dataclasses.replace(block, name=f"{prefix}/{block.name}")


def optinc_core(description: CircuitDescription, name: str) -> Composite:
    """The OptINC of ``description`` without its splitter array: server channels in, ONN outputs out."""
    top = description.top
    core = top.children[:-1]  # averager, L1..LL
    keep = top.links[top.links[:, 2] < len(core)]
    last = len(core) - 1
    inner = Composite(name, top.n_in, core[-1].n_out, children=core, inputs=top.inputs, links=keep,
                      outputs=straight_outputs(last, core[-1].n_out), role="optinc")
    return dataclasses.replace(inner, children=tuple(prefixed(child, name) for child in core))


def cascade_input_channels(per: int, digits: int, onn_inputs: int) -> np.ndarray:
    """(N², b/2): west channel of digit k of server s. Server s is local server s mod N of level-1
    OptINC s // N, whose N·b/2 channels are contiguous and ordered as a basic OptINC's."""
    local = input_channels(per, digits, onn_inputs)  # (N, D)
    block = per * digits
    return (np.arange(per)[:, None, None] * block + local[None]).reshape(per * per, digits)


@dataclass(frozen=True, eq=False)
class CascadeDescription(NamedBlocks):
    scenario: Scenario
    level1: CircuitDescription  # the basic OptINC every level-1 position realises
    level2: CircuitDescription  # the level-2 OptINC (input_scale = level 1's output field per level)
    top: Composite
    receiver_gain: float  # √(N²) / α_L of level 2
    mesh_kind: str

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def servers(self) -> int:
        return self.scenario.servers

    @property
    def per_optinc(self) -> int:
        return self.scenario.cascade.servers_per_optinc

    @property
    def bits(self) -> int:
        return self.scenario.bits

    @property
    def digits(self) -> int:
        return self.bits // 2

    @property
    def onn_inputs(self) -> int:
        return self.scenario.onn_inputs

    @property
    def levels(self) -> tuple[CircuitDescription, CircuitDescription]:
        return self.level1, self.level2

    @property
    def weights_digest(self) -> str:
        return hashlib.sha256((self.level1.weights_digest + self.level2.weights_digest).encode()).hexdigest()

    @property
    def weights_source(self) -> str:
        return f"{self.level1.weights_source} + {self.level2.weights_source}"

    def server_input_channels(self) -> np.ndarray:
        return cascade_input_channels(self.per_optinc, self.digits, self.onn_inputs)

    def server_output_channels(self) -> np.ndarray:
        return output_channels(self.servers, self.digits)


def build_cascade_description(
    scenario: Scenario, level1_weights: OnnWeights, level2_weights: OnnWeights, mesh: str = "clements",
    mapper=decompose_layer,
) -> CascadeDescription:
    """Five (for N = 4) OptINCs wired as Fig. 5 from the two levels' trained weights."""
    if scenario.cascade is None:
        raise OptincError(f"{scenario.name}: cascade: the scenario is not a cascade")
    s1, s2 = scenario.level_scenario(1), scenario.level_scenario(2)
    if s2.group != 1:
        raise OptincError(f"{scenario.name}: cascade: level 2 needs one PAM4 digit per ONN input (G = 1)")
    level1 = assemble(s1, design_parameters(s1, level1_weights, mesh, mapper), level1_weights, mesh)
    # level 2 sees level 1's analog outputs: field α_L(level 1) per PAM4 level, not 1
    scale = level1.layers[-1].output_gain
    level2 = assemble(s2, design_parameters(s2, level2_weights, mesh, mapper, input_scale=scale), level2_weights,
                      mesh, input_scale=scale)

    top = cascade_top(scenario, level1, level2)
    receiver = float(np.sqrt(scenario.servers) / level2.layers[-1].output_gain)
    return CascadeDescription(scenario, level1, level2, top, receiver, mesh)


def cascade_top(scenario: Scenario, level1: CircuitDescription, level2: CircuitDescription) -> Composite:
    """The cascade's top block: ``servers_per_optinc`` copies of level 1, level 2 and the broadcast, wired."""
    per, digits = scenario.cascade.servers_per_optinc, scenario.digits
    s2 = scenario.level_scenario(2)
    cores = [optinc_core(level1, level1_name(q)) for q in range(per)]
    second = optinc_core(level2, LEVEL2)
    broadcast = broadcast_block(scenario.servers, digits)
    children = (*cores, second, broadcast)
    block_width = per * digits
    west = np.arange(per * block_width)
    inputs = np.stack([west // block_width, west % block_width], axis=1)
    # level-1 OptINC q's output k enters level 2 where "server" q's digit k would
    into_level2 = input_channels(per, digits, s2.onn_inputs)  # (N, D)
    wires = [links(q, np.arange(digits), per, into_level2[q]) for q in range(per)]
    wires.append(links(per, np.arange(digits), per + 1, np.arange(digits)))
    top = Composite(CASCADE, scenario.servers * digits, scenario.servers * digits, children=children, inputs=inputs,
                    links=np.concatenate(wires), outputs=straight_outputs(per + 1, scenario.servers * digits),
                    role="cascade")
    return top
