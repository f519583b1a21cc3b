"""Build the circuit description of a scenario from its trained weights (docs/conventions.md, Data flow: the hub).

Averager → layers 1..L → splitter array, each layer = weight matrix (Vᴴ mesh, Σ column, U mesh for
a full layer; fan-out trees, per-block Û mesh then diagonal column, summing trees for a block
layer) → bias injection → nonlinear units (hidden layers). Phases come from the decomposition
engine (:mod:`optinc_pdk.decompose`); the scale bookkeeping is :mod:`optinc_pdk.circuit.gains`;
names follow :mod:`optinc_pdk.circuit.naming`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optinc_pdk.circuit import gains, naming
from optinc_pdk.circuit.description import CircuitDescription, LayerInfo
from optinc_pdk.circuit.model import AttenuatorColumn, Composite, MeshBlock, NonlinearArray, Source, TreeArray
from optinc_pdk.circuit.wiring import chain_links, links, straight_inputs, straight_outputs
from optinc_pdk.core.topology import digit_weights, group_size, output_channels
from optinc_pdk.core.weights import OnnWeights, check_against_scenario, portable_source
from optinc_pdk.decompose import DiagonalColumn, LayerMapping, map_layer_blocks, map_layer_svd
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import Scenario

LayerMapper = Callable[[np.ndarray, bool, str], LayerMapping]


def decompose_layer(weight: np.ndarray, approximated: bool, mesh: str) -> LayerMapping:
    """The decomposition engine's mapping: block approximation or full SVD."""
    return map_layer_blocks(weight, mesh) if approximated else map_layer_svd(weight, mesh)


# --- averager and splitter array ------------------------------------------------------------


def averager_block(servers: int, digits: int, onn_inputs: int) -> Composite:
    """N·b/2 server channels (see :mod:`optinc_pdk.core.topology`) → M ONN inputs."""
    group = group_size(2 * digits, onn_inputs)
    width = servers * digits
    leaves = servers * group
    children = []
    if group > 1:
        offset = np.arange(width) % group  # digit offset t of every west channel
        attenuated = np.flatnonzero(offset < group - 1)
        values = DiagonalColumn.from_values(digit_weights(group)[offset[attenuated]])
        column = DiagonalColumn(values.theta, values.phi, attenuated, width)
        children.append(AttenuatorColumn(naming.AVERAGER_WEIGHTS, width, width, column=column, role="digit_weight"))
    children.append(TreeArray(
        naming.AVERAGER_SUM, width, onn_inputs, n_trees=onn_inputs, n_leaves=leaves,
        leaf_channels=np.arange(width).reshape(onn_inputs, leaves), splitting=False,
    ))
    last = len(children) - 1
    return Composite(
        naming.AVERAGER, width, onn_inputs, children=tuple(children), inputs=straight_inputs(0, width),
        links=chain_links([width] * last), outputs=straight_outputs(last, onn_inputs), role="averager",
    )


def broadcast_block(servers: int, digits: int) -> TreeArray:
    """Every one of the b/2 outputs split to the N servers: leaf i of tree k is digit k for server i."""
    return TreeArray(
        naming.BROADCAST, digits, servers * digits, n_trees=digits, n_leaves=servers,
        leaf_channels=output_channels(servers, digits).T, splitting=True,
    )


# --- one layer ---------------------------------------------------------------------------------


def block_chain(index: int, block_index: int, mapping_block) -> Composite:
    """Block b of a block layer: Û mesh, then its diagonal column (the block is diag(d)·Û)."""
    k = mapping_block.mesh.n_modes
    mesh = MeshBlock(naming.block_part(index, block_index, "U"), k, k, phases=mapping_block.mesh, role="Uhat")
    diagonal = AttenuatorColumn(naming.block_part(index, block_index, "D"), k, k, column=mapping_block.diagonal, role="diag")
    return Composite(
        naming.block(index, block_index), k, k, children=(mesh, diagonal), inputs=straight_inputs(0, k),
        links=chain_links([k]), outputs=straight_outputs(1, k), role="block",
    )


def _svd_matrix(index: int, mapping: LayerMapping) -> Composite:
    out_dim, in_dim = mapping.out_dim, mapping.in_dim
    children = (
        MeshBlock(naming.layer_part(index, "VH"), in_dim, in_dim, phases=mapping.v_mesh, role="VH"),
        AttenuatorColumn(naming.layer_part(index, "S"), in_dim, out_dim, column=mapping.sigma, role="sigma"),
        MeshBlock(naming.layer_part(index, "U"), out_dim, out_dim, phases=mapping.u_mesh, role="U"),
    )
    return Composite(
        naming.layer_part(index, "matrix"), in_dim, out_dim, children=children, inputs=straight_inputs(0, in_dim),
        links=chain_links([in_dim, out_dim]), outputs=straight_outputs(2, out_dim), role="matrix",
    )


def _block_matrix(index: int, mapping: LayerMapping) -> Composite:
    out_dim, in_dim, k = mapping.out_dim, mapping.in_dim, mapping.k
    n_blocks = len(mapping.blocks)
    blocks = [block_chain(index, b, mapping.blocks[b]) for b in range(n_blocks)]
    # channel b·k + r of the stacked side belongs to row/column r of block b
    stacked = np.arange(n_blocks * k).reshape(n_blocks, k)
    name = naming.layer_part(index, "matrix")
    if mapping.orientation == "tall":
        fanout = TreeArray(naming.layer_part(index, "fanout"), k, n_blocks * k, n_trees=k, n_leaves=n_blocks,
                           leaf_channels=stacked.T, splitting=True)
        wires = links(0, stacked.ravel(), 1 + np.repeat(np.arange(n_blocks), k), np.tile(np.arange(k), n_blocks))
        rows = np.arange(out_dim)  # padding rows of the last block stay unconnected (terminated)
        outputs = np.stack([1 + rows // k, rows % k], axis=1)
        return Composite(name, in_dim, out_dim, children=(fanout, *blocks), inputs=straight_inputs(0, in_dim),
                         links=wires, outputs=outputs, role="matrix")
    if mapping.orientation == "wide":
        summing = TreeArray(naming.layer_part(index, "sum"), n_blocks * k, k, n_trees=k, n_leaves=n_blocks,
                            leaf_channels=stacked.T, splitting=False)
        cols = np.arange(in_dim)  # padding columns of the last block receive no light
        inputs = np.stack([cols // k, cols % k], axis=1)
        wires = links(np.repeat(np.arange(n_blocks), k), np.tile(np.arange(k), n_blocks), n_blocks, stacked.ravel())
        return Composite(name, in_dim, out_dim, children=(*blocks, summing), inputs=inputs, links=wires,
                         outputs=straight_outputs(n_blocks, out_dim), role="matrix")
    return Composite(name, in_dim, out_dim, children=tuple(blocks), inputs=straight_inputs(0, in_dim),
                     outputs=straight_outputs(0, out_dim), role="matrix")


def bias_block(index: int, source: float, amplitudes: DiagonalColumn) -> Composite:
    """Signal r → upper input of combiner r; bias light → 1→out tree → attenuator r → lower input."""
    width = amplitudes.n_modes
    children = (
        Source(naming.layer_part(index, "bias/source"), 0, 1, amplitude=float(source)),
        TreeArray(naming.layer_part(index, "bias/split"), 1, width, n_trees=1, n_leaves=width,
                  leaf_channels=np.arange(width)[None, :], splitting=True),
        AttenuatorColumn(naming.layer_part(index, "bias/amplitude"), width, width,
                         column=amplitudes, role="bias"),
        TreeArray(naming.layer_part(index, "bias/merge"), 2 * width, width, n_trees=width, n_leaves=2,
                  leaf_channels=np.stack([np.arange(width), width + np.arange(width)], axis=1), splitting=False),
    )
    channels = np.arange(width)
    wires = np.concatenate([links(0, [0], 1, [0]), links(1, channels, 2, channels), links(2, channels, 3, width + channels)])
    return Composite(naming.layer_part(index, "bias"), width, width, children=children,
                     inputs=straight_inputs(3, width), links=wires, outputs=straight_outputs(3, width), role="bias")


def layer_block(index: int, matrix: Composite, bias: Composite, hidden: bool) -> Composite:
    out_dim = matrix.n_out
    children = [matrix, bias]
    if hidden:
        children.append(NonlinearArray(naming.layer_part(index, "relu"), out_dim, out_dim, function="relu"))
    return Composite(
        naming.layer(index), matrix.n_in, out_dim, children=tuple(children), inputs=straight_inputs(0, matrix.n_in),
        links=chain_links([out_dim] * (len(children) - 1)), outputs=straight_outputs(len(children) - 1, out_dim),
        role="layer",
    )


@dataclass(frozen=True, eq=False)
class LayerParameters:
    """Everything about a layer that is not fixed by the scenario: its phases and its bias light."""

    mapping: LayerMapping
    bias_source: float  # P_l
    bias_column: DiagonalColumn  # one attenuator per neuron, values a_r


def _tree_blocks(mapping: LayerMapping) -> int:
    return len(mapping.blocks) if mapping.kind == "blocks" and mapping.orientation in ("tall", "wide") else 1


def layer_output_gain(mapping: LayerMapping, input_gain: float) -> float:
    """α_l from α_{l−1} (see :mod:`optinc_pdk.circuit.gains`)."""
    return input_gain * gains.matrix_gain(mapping.scale, _tree_blocks(mapping)) * gains.MERGE_GAIN


def layer_parameters(mapping: LayerMapping, bias: np.ndarray, input_gain: float) -> LayerParameters:
    source, amplitudes = gains.bias_light(layer_output_gain(mapping, input_gain), bias)
    return LayerParameters(mapping, source, DiagonalColumn.from_values(amplitudes))


def _layer(index: int, params: LayerParameters, approximated: bool, hidden: bool, input_gain: float,
           weight: np.ndarray | None, bias: np.ndarray | None) -> tuple[Composite, LayerInfo]:
    mapping = params.mapping
    out_dim, in_dim = mapping.out_dim, mapping.in_dim
    if (mapping.kind == "blocks") != approximated:
        raise OptincError(f"layer {index}: mapping kind {mapping.kind!r} does not match approximated={approximated}")
    if approximated:
        matrix = _block_matrix(index, mapping)
        n_blocks, k, padding, orientation = len(mapping.blocks), mapping.k, mapping.padding, mapping.orientation
    else:
        matrix = _svd_matrix(index, mapping)
        n_blocks, k, padding, orientation = 1, min(out_dim, in_dim), 0, "full"
    a_l = gains.matrix_gain(mapping.scale, _tree_blocks(mapping))
    output_gain = layer_output_gain(mapping, input_gain)
    amplitudes = np.real(params.bias_column.values())
    if bias is None:  # from phases alone: the bias the light injects
        bias = params.bias_source * amplitudes / (np.sqrt(2.0 * out_dim) * output_gain)
    block = layer_block(index, matrix, bias_block(index, params.bias_source, params.bias_column), hidden)
    info = LayerInfo(
        index=index, name=naming.layer(index), out_dim=out_dim, in_dim=in_dim, approximated=approximated,
        orientation=orientation, k=k, blocks=n_blocks, padding=padding, mapping=mapping,
        weight=None if weight is None else np.asarray(weight, dtype=np.float64),
        bias=np.asarray(bias, dtype=np.float64), matrix_gain=a_l, input_gain=input_gain, output_gain=output_gain,
        bias_source=params.bias_source, bias_amplitudes=amplitudes, hidden=hidden,
    )
    return block, info


# --- the whole OptINC ------------------------------------------------------------------------


def _check_plain(scenario: Scenario) -> None:
    if scenario.cascade is not None:
        raise OptincError(f"{scenario.name}: cascade: not yet (the circuit description covers one basic OptINC)")


def design_parameters(scenario: Scenario, weights: OnnWeights, mesh: str = "clements",
                      mapper: LayerMapper = decompose_layer, input_scale: float = 1.0) -> list[LayerParameters]:
    """Decompose every layer and set its bias light (the gains need the layers in order).

    ``input_scale`` multiplies the field of the averager's inputs (1 for server lasers; a cascade's
    level 2 receives level 1's outputs at level 1's output gain)."""
    _check_plain(scenario)
    check_against_scenario(weights, scenario)
    gain = input_scale * gains.averager_gain(scenario.servers, scenario.group)
    approx = set(scenario.approx_layers)
    params = []
    for index, (weight, bias) in enumerate(zip(weights.weights, weights.biases), start=1):
        layer = layer_parameters(mapper(weight, index in approx, mesh), bias, gain)
        params.append(layer)
        gain = layer_output_gain(layer.mapping, gain)
    return params


def assemble(
    scenario: Scenario, params: list[LayerParameters], weights: OnnWeights | None = None, mesh: str = "clements",
    averager: Composite | None = None, weights_digest: str = "", weights_source: str = "", input_scale: float = 1.0,
) -> CircuitDescription:
    """The description from the scenario's structure and the layers' parameters.

    ``weights`` (optional) supplies each layer's target matrix and bias for simulation reports;
    without them the targets are the design's own (from its phases and bias light).
    """
    _check_plain(scenario)
    servers, digits, m = scenario.servers, scenario.digits, scenario.onn_inputs
    if len(params) != scenario.n_layers:
        raise OptincError(f"{scenario.name}: {len(params)} layers given, the scenario has {scenario.n_layers}")
    averager = averager if averager is not None else averager_block(servers, digits, m)
    gain = input_scale * gains.averager_gain(servers, scenario.group)
    approx = set(scenario.approx_layers)
    layer_blocks, infos = [], []
    for index, (layer, shape) in enumerate(zip(params, scenario.layer_shapes()), start=1):
        if (layer.mapping.out_dim, layer.mapping.in_dim) != shape:
            raise OptincError(f"{scenario.name}: layer {index} is {shape[0]}x{shape[1]}, its mapping "
                              f"{layer.mapping.out_dim}x{layer.mapping.in_dim}")
        weight = weights.weights[index - 1] if weights is not None else None
        bias = weights.biases[index - 1] if weights is not None else None
        block, info = _layer(index, layer, index in approx, index < scenario.n_layers, gain, weight, bias)
        layer_blocks.append(block)
        infos.append(info)
        gain = info.output_gain
    broadcast = broadcast_block(servers, digits)
    children = (averager, *layer_blocks, broadcast)
    widths = [c.n_out for c in children[:-1]]
    top = Composite(
        naming.TOP, averager.n_in, broadcast.n_out, children=children, inputs=straight_inputs(0, averager.n_in),
        links=chain_links(widths), outputs=straight_outputs(len(children) - 1, broadcast.n_out), role="optinc",
    )
    return CircuitDescription(
        scenario=scenario, servers=servers, bits=scenario.bits, onn_inputs=m, group=scenario.group,
        widths=tuple(scenario.widths), top=top, layers=tuple(infos),
        averager_gain=input_scale * gains.averager_gain(servers, scenario.group),
        broadcast_gain=gains.tree_gain(servers), receiver_gain=gains.receiver_gain(servers, gain), mesh_kind=mesh,
        weights_digest=weights_digest or (weights.digest() if weights is not None else ""),
        weights_source=weights_source or (portable_source(weights.source) if weights is not None else ""),
    )


def build_description(
    scenario: Scenario, weights: OnnWeights, mesh: str = "clements", mapper: LayerMapper = decompose_layer,
) -> CircuitDescription:
    """The circuit description of one (non-cascaded) OptINC with the given trained weights."""
    params = design_parameters(scenario, weights, mesh, mapper)
    return assemble(scenario, params, weights, mesh)
