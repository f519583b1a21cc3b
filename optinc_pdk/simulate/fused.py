"""The fused real path of a chip: its compiled stages as real matmuls between ReLU arrays (docs/yield.md).

A compiled OptINC is a series of affine stages and ReLU arrays; consecutive affine stages fuse into
one matrix, and because every segment's input is real (server digits, ReLU outputs) and its consumer
reads only the real part (the ReLU, the coherent receiver), Re(A·x + c) = Re(A)·x + Re(c) exactly:
each segment is one real matmul. A two-level cascade (:class:`CascadeDescription`) is N level-1
cores, level 2 and one broadcast: its level-1 outputs reach level 2 as light, with no receiver
between, so each core's last affine run is fused with level 2's first one in complex arithmetic
before the real part is taken (:class:`SystemPath`). :func:`chip_levels` is the one entry point:
a description (plain or cascade) and its leaf matrices in, every receiver's levels out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optinc_pdk.circuit.cascade import CascadeDescription
from optinc_pdk.circuit.description import CircuitDescription
from optinc_pdk.errors import OptincError
from optinc_pdk.simulate.stages import AffineStage, GraphStage, NonlinearStage, Stage, compile_block

ROW_BATCH = 8192  # inputs per matmul pass (keeps the intermediate fields in cache)
RELU = "relu"


@dataclass(frozen=True)
class Segment:
    """out = x @ weight.T + offset (real, float32 or float64), followed by a ReLU unless it is the last segment."""

    weight: np.ndarray  # (out, in)
    offset: np.ndarray  # (out,)


def _wiring(rows: np.ndarray, cols: np.ndarray, n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The 0/1 matrix of a composite's wiring; None for a straight connection (nothing to multiply)."""
    if n_out == n_in == rows.size and np.array_equal(rows, np.arange(n_out)) and np.array_equal(cols, rows):
        return None
    matrix = np.zeros((n_out, n_in), dtype=np.complex128)
    matrix[rows, cols] = 1.0
    return matrix, np.zeros(n_out, dtype=np.complex128)


def _serial_ops(stage: Stage) -> list:
    """The stage as a flat list of affine (matrix, offset) pairs and RELU markers, in optical order."""
    if isinstance(stage, AffineStage):
        diagonal = stage.diagonal  # a diagonal stage (bias merge, attenuators) composes as a row scaling
        return [(diagonal if diagonal is not None else stage.matrix, stage.offset)]
    if isinstance(stage, NonlinearStage):
        return [RELU]
    if not isinstance(stage, GraphStage):
        raise OptincError(f"yield: no fused model for stage {type(stage).__name__}")
    block, kids = stage.block, stage.block.children
    last = len(kids) - 1
    serial = (np.all(block.inputs[:, 0] == 0) and np.all(block.outputs[:, 0] == last)
              and np.all(block.links[:, 2] == block.links[:, 0] + 1))
    if not serial:
        raise OptincError(f"yield: {block.name} is not a chain of stages (a cascade goes through system_path)")
    ops = [_wiring(block.inputs[:, 1], np.arange(block.n_in), kids[0].n_in, block.n_in)]
    for index, child in enumerate(stage.stages):
        ops += _serial_ops(child)
        if index < last:
            links = block.links[block.links[:, 0] == index]
            ops.append(_wiring(links[:, 3], links[:, 1], kids[index + 1].n_in, kids[index].n_out))
    ops.append(_wiring(np.arange(block.n_out), block.outputs[:, 1], block.n_out, kids[-1].n_out))
    return ops


def fuse(stage: Stage) -> list[tuple[np.ndarray, np.ndarray]]:
    """Complex (matrix, offset) of each affine run between ReLU arrays."""
    segments, current = [], None
    for op in _serial_ops(stage):
        if op is None:  # a straight connection
            continue
        if op is RELU:
            segments.append(current)
            current = None
            continue
        matrix, offset = op
        if current is None:
            current = (np.diag(matrix) if matrix.ndim == 1 else matrix, offset)
        elif matrix.ndim == 1:
            current = (matrix[:, None] * current[0], matrix * current[1] + offset)
        else:
            current = (matrix @ current[0], matrix @ current[1] + offset)
    segments.append(current)
    return segments


def chip_segments(description: CircuitDescription, leaf_matrices: dict | None = None, dtype=np.float32) -> list[Segment]:
    """The real segments of one chip, the last one ending at every server's receivers (gain applied)."""
    stage = compile_block(description.top, leaf_matrices=leaf_matrices)
    fused = fuse(stage)
    receivers = description.server_output_channels().ravel()
    matrix, offset = fused[-1]
    fused[-1] = (matrix[receivers] * description.receiver_gain, offset[receivers] * description.receiver_gain)
    return [Segment(np.ascontiguousarray(m.real, dtype=dtype), o.real.astype(dtype)) for m, o in fused]


def received_levels(segments: list[Segment], fields: np.ndarray) -> np.ndarray:
    """(B, servers·digits) levels at the receivers for real input fields (B, channels)."""
    dtype = segments[-1].weight.dtype
    fields = fields.astype(dtype, copy=False)
    out = np.empty((fields.shape[0], segments[-1].weight.shape[0]), dtype=dtype)
    for start in range(0, fields.shape[0], ROW_BATCH):
        h = fields[start : start + ROW_BATCH]
        for segment in segments[:-1]:
            h = h @ segment.weight.T
            h += segment.offset
            np.maximum(h, 0.0, out=h)
        out[start : start + ROW_BATCH] = h @ segments[-1].weight.T + segments[-1].offset
    return out


@dataclass(frozen=True)
class PlainPath:
    """One OptINC: its segments, the last one ending at every server's receivers."""

    segments: list[Segment]

    def levels(self, fields: np.ndarray) -> np.ndarray:
        return received_levels(self.segments, fields)


@dataclass(frozen=True)
class SystemPath:
    """A cascade system: each level-1 core's segments and its share of level 2's first run, then level 2's rest.

    out = level2( Σ_q join_q · core_q(fields[:, core_inputs[q]]) + join_offset ); every segment of a core
    and every segment of level 2 but the last is followed by a ReLU, and so is the joined run when level 2
    has segments after it.
    """

    core_inputs: tuple[np.ndarray, ...]  # per core: the west channel feeding each of its inputs
    cores: tuple[tuple[Segment, ...], ...]  # per core: its runs before the last (each ends in a ReLU)
    joins: tuple[np.ndarray, ...]  # per core: Re(level 2's first run · the core's last run), real
    join_offset: np.ndarray
    level2: tuple[Segment, ...]  # level 2's later runs; the last ends at every server's receivers

    def levels(self, fields: np.ndarray) -> np.ndarray:
        """(B, servers·digits) levels at the receivers for real server fields (B, channels)."""
        dtype = self.join_offset.dtype
        fields = fields.astype(dtype, copy=False)
        width = self.level2[-1].weight.shape[0] if self.level2 else self.join_offset.size
        out = np.empty((fields.shape[0], width), dtype=dtype)
        for start in range(0, fields.shape[0], ROW_BATCH):
            part = fields[start : start + ROW_BATCH]
            h = np.tile(self.join_offset, (part.shape[0], 1))
            for channels, segments, join in zip(self.core_inputs, self.cores, self.joins):
                h += _relu_chain(part[:, channels], segments) @ join.T
            for segment in self.level2:
                np.maximum(h, 0.0, out=h)
                h = h @ segment.weight.T + segment.offset
            out[start : start + ROW_BATCH] = h
        return out


def _relu_chain(x: np.ndarray, segments: tuple[Segment, ...]) -> np.ndarray:
    for segment in segments:
        x = x @ segment.weight.T
        x += segment.offset
        np.maximum(x, 0.0, out=x)
    return x


def _real(matrix: np.ndarray, offset: np.ndarray, dtype) -> Segment:
    return Segment(np.ascontiguousarray(matrix.real, dtype=dtype), offset.real.astype(dtype))


def _core_inputs(top, child: int, n_in: int) -> np.ndarray:
    """The west channel feeding each input port of ``child`` (every port must be fed)."""
    channels = np.flatnonzero(top.inputs[:, 0] == child)
    fed = np.full(n_in, -1, dtype=np.int64)
    fed[top.inputs[channels, 1]] = channels
    if np.any(fed < 0):
        raise OptincError(f"yield: {top.children[child].name} has inputs no server channel feeds")
    return fed


def system_path(description: CascadeDescription, leaf_matrices: dict | None = None, dtype=np.float32) -> SystemPath:
    """The fused real path of one cascade system (its N + 1 OptINCs' leaves from ``leaf_matrices``)."""
    top, per = description.top, description.per_optinc
    core_runs = [fuse(compile_block(top.children[q], leaf_matrices=leaf_matrices)) for q in range(per)]
    level2_runs = fuse(compile_block(top.children[per], leaf_matrices=leaf_matrices))
    broadcast = compile_block(top.children[per + 1])
    if not isinstance(broadcast, AffineStage) or np.any(top.outputs[:, 0] != per + 1):
        raise OptincError("yield: the cascade's east channels must all come from its broadcast")
    ports = top.outputs[description.server_output_channels().ravel(), 1]
    to_receivers = broadcast.matrix[ports] * description.receiver_gain
    last, last_offset = level2_runs[-1]
    level2_runs[-1] = (to_receivers @ last, to_receivers @ last_offset + broadcast.offset[ports] * description.receiver_gain)
    first, offset = level2_runs[0]
    offset = offset.copy()
    joins = []
    for q, runs in enumerate(core_runs):
        wires = top.links[(top.links[:, 0] == q) & (top.links[:, 2] == per)]
        into = first[:, wires[:, 3]]  # level 2's columns fed by core q's outputs, in the wires' order
        matrix, core_offset = runs[-1]
        joins.append(np.ascontiguousarray((into @ matrix[wires[:, 1]]).real, dtype=dtype))
        offset += into @ core_offset[wires[:, 1]]
    return SystemPath(
        core_inputs=tuple(_core_inputs(top, q, top.children[q].n_in) for q in range(per)),
        cores=tuple(tuple(_real(m, o, dtype) for m, o in runs[:-1]) for runs in core_runs),
        joins=tuple(joins), join_offset=offset.real.astype(dtype),
        level2=tuple(_real(m, o, dtype) for m, o in level2_runs[1:]))


def chip_path(description: CircuitDescription | CascadeDescription, leaf_matrices: dict | None = None,
              dtype=np.float32) -> PlainPath | SystemPath:
    """The fused real path of one chip (a plain OptINC) or one system (a cascade), ideal or with ``leaf_matrices``."""
    if isinstance(description, CascadeDescription):
        return system_path(description, leaf_matrices, dtype)
    return PlainPath(chip_segments(description, leaf_matrices, dtype))
