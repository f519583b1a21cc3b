"""Compile circuit-description blocks into simulation stages and run batches of fields through them.

Every leaf is modelled from the primitive models (:mod:`optinc_pdk.simulate.primitives`):

* a mesh → its n×n transfer matrix, column by column (:func:`optinc_pdk.decompose.transfer.mesh_transfer`, banded);
* an attenuator column → a diagonal of T₀₀(θ, φ), plain waveguides elsewhere;
* a tree array → each leaf's field coefficient is the product of the element coefficients
  √(ratio) / √(1 − ratio) along its path (:func:`optinc_pdk.core.topology.tree_leaf_amplitudes`, the rule the PDK models share);
* a source → a constant field; a nonlinear array → the ideal ReLU.

A composite without nonlinear units is affine: it collapses once into one matrix and one
constant (its graph run on the identity and on zero), so a layer's whole optical matrix — trees,
meshes and diagonals — is computed once and then applied to a batch with one matmul. A composite
with nonlinear units runs its children in optical order. Batches are complex fields (B, channels).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from optinc_pdk.circuit.model import (
    AttenuatorColumn,
    Block,
    Composite,
    MeshBlock,
    NonlinearArray,
    Source,
    TreeArray,
)
from optinc_pdk.core.topology import tree_leaf_amplitudes
from optinc_pdk.decompose.transfer import mesh_transfer
from optinc_pdk.simulate.primitives import mzi_attenuator, nonlinear_unit


class Stage:
    n_in: int
    n_out: int

    def apply(self, fields: np.ndarray) -> np.ndarray:  # (B, n_in) -> (B, n_out)
        raise NotImplementedError


@dataclass
class AffineStage(Stage):
    """out = in @ matrixᵀ + offset."""

    matrix: np.ndarray  # (n_out, n_in) complex
    offset: np.ndarray  # (n_out,) complex

    def __post_init__(self) -> None:
        m = self.matrix
        square = m.shape[0] == m.shape[1]
        # a diagonal stage (bias merge, attenuators) is an elementwise product, not a matmul
        self._diagonal = np.diagonal(m).copy() if square and not np.any(m - np.diag(np.diagonal(m))) else None
        self._real, self._imag = np.ascontiguousarray(m.real.T), np.ascontiguousarray(m.imag.T)
        self._has_offset = bool(np.any(self.offset))

    @property
    def diagonal(self) -> np.ndarray | None:
        """The diagonal of a square diagonal stage (None otherwise): callers may scale rows instead of multiplying."""
        return self._diagonal

    @property
    def n_in(self) -> int:  # type: ignore[override]
        return self.matrix.shape[1]

    @property
    def n_out(self) -> int:  # type: ignore[override]
        return self.matrix.shape[0]

    def apply(self, fields: np.ndarray) -> np.ndarray:
        if self._diagonal is not None:
            out = fields * self._diagonal
        elif np.iscomplexobj(fields):
            out = fields @ self.matrix.T
        else:  # real fields (server digits, ReLU outputs): two real products instead of one complex
            out = (fields @ self._real) + 1j * (fields @ self._imag)
        if self._has_offset:
            out = out + self.offset
        return out


@dataclass
class NonlinearStage(Stage):
    n_in: int
    n_out: int

    def apply(self, fields: np.ndarray) -> np.ndarray:
        return nonlinear_unit(fields)


@dataclass
class GraphStage(Stage):
    """A composite run child by child (it holds nonlinear units, so it does not collapse)."""

    block: Composite
    stages: list[Stage]

    @property
    def n_in(self) -> int:  # type: ignore[override]
        return self.block.n_in

    @property
    def n_out(self) -> int:  # type: ignore[override]
        return self.block.n_out

    def apply(self, fields: np.ndarray) -> np.ndarray:
        return run_graph(self.block, self.stages, fields)


def tree_matrix(block: TreeArray) -> np.ndarray:
    amp = tree_leaf_amplitudes(block.n_leaves)  # √ratio / √(1 − ratio) along each path: 1/√n per leaf
    trees = np.repeat(np.arange(block.n_trees), block.n_leaves)
    leaves = block.leaf_channels.ravel()
    values = np.tile(amp, block.n_trees)
    matrix = np.zeros((block.n_out, block.n_in), dtype=np.complex128)
    if block.splitting:
        matrix[leaves, trees] = values
    else:
        matrix[trees, leaves] = values  # a combiner is the splitter reversed (reciprocal elements)
    return matrix


def attenuator_matrix(block: AttenuatorColumn) -> np.ndarray:
    matrix = np.zeros((block.n_out, block.n_in), dtype=np.complex128)
    through = np.arange(min(block.n_in, block.n_out))
    matrix[through, through] = 1.0
    matrix[block.mode, block.mode] = mzi_attenuator(block.theta, block.phi)
    return matrix


def mesh_matrix(block: MeshBlock) -> np.ndarray:
    # MeshPhases guarantees columns increase along every mode, so a stable sort by column is an
    # equivalent propagation order in which each column's MZIs are adjacent
    order = np.argsort(block.column, kind="stable")
    arms = (block.theta_lower[order], block.phi_lower[order]) if block.phases.any_lower else (None, None)
    return mesh_transfer(block.n_modes, block.theta[order], block.phi[order], block.top_mode[order],
                         block.column[order], block.output_phase, theta_lower=arms[0], phi_lower=arms[1])


# Composites run child by child even when affine, so their children's stages stay inspectable
# (the per-layer matrix and bias of a simulation report).
KEEP_OPEN = ("optinc", "layer")


def compile_block(block: Block, keep_open: tuple[str, ...] = KEEP_OPEN,
                  leaf_matrices: Mapping[str, np.ndarray] | None = None) -> Stage:
    """The block's stage. ``leaf_matrices`` (block name → matrix) replaces the ideal model of those
    mesh, attenuator and tree leaves, e.g. by one sampled chip's imperfect ones (:mod:`optinc_pdk.simulate.nonideal`)."""
    if isinstance(block, (MeshBlock, AttenuatorColumn)):
        if leaf_matrices is not None and block.name in leaf_matrices:
            matrix = leaf_matrices[block.name]
        else:
            matrix = mesh_matrix(block) if isinstance(block, MeshBlock) else attenuator_matrix(block)
        return AffineStage(matrix, np.zeros(block.n_out, dtype=np.complex128))
    if isinstance(block, TreeArray):
        sampled = leaf_matrices is not None and block.name in leaf_matrices
        matrix = leaf_matrices[block.name] if sampled else tree_matrix(block)
        return AffineStage(matrix, np.zeros(block.n_out, dtype=np.complex128))
    if isinstance(block, Source):
        return AffineStage(np.zeros((1, 0), dtype=np.complex128), np.array([block.amplitude], dtype=np.complex128))
    if isinstance(block, NonlinearArray):
        if block.function != "relu":
            raise ValueError(f"{block.name}: no model for nonlinear function {block.function!r}")
        return NonlinearStage(block.n_in, block.n_out)
    if isinstance(block, Composite):
        stages = [compile_block(child, keep_open, leaf_matrices) for child in block.children]
        if block.role not in keep_open and all(isinstance(stage, AffineStage) for stage in stages):
            identity = np.eye(block.n_in, dtype=np.complex128)
            offset = run_graph(block, stages, np.zeros((1, block.n_in), dtype=np.complex128))[0].astype(np.complex128)
            matrix = (run_graph(block, stages, identity) - offset).T.astype(np.complex128)
            return AffineStage(np.ascontiguousarray(matrix), offset)
        return GraphStage(block, stages)
    raise TypeError(f"no simulation model for block {block.name} of kind {block.kind}")


def run_graph(block: Composite, stages: list[Stage], fields: np.ndarray) -> np.ndarray:
    """Propagate a batch through a composite's children in optical order."""
    batch = fields.shape[0]
    outputs: list[np.ndarray | None] = [None] * len(stages)
    for index, (child, stage) in enumerate(zip(block.children, stages)):
        outputs[index] = stage.apply(_gather(block, index, child.n_in, fields, outputs, batch))
    return _collect(block.outputs, outputs, block.n_out, batch)


def _gather(block: Composite, index: int, width: int, fields: np.ndarray, outputs: list, batch: int) -> np.ndarray:
    """The west-side fields of child ``index``: from the composite's inputs and earlier children."""
    from_outside = np.flatnonzero(block.inputs[:, 0] == index)
    links = block.links[block.links[:, 2] == index]
    sources = [(fields, from_outside, block.inputs[from_outside, 1])] if from_outside.size else []
    for source in np.unique(links[:, 0]):
        rows = links[links[:, 0] == source]
        sources.append((outputs[source], rows[:, 1], rows[:, 3]))
    if len(sources) == 1:
        array, taken, placed = sources[0]
        if array.shape[1] == width and np.array_equal(taken, np.arange(width)) and np.array_equal(placed, taken):
            return array  # a straight connection: no copy
    dtype = np.result_type(*(array.dtype for array, _, _ in sources)) if sources else np.float64
    incoming = np.zeros((batch, width), dtype=dtype)
    for array, taken, placed in sources:
        incoming[:, placed] = array[:, taken]
    return incoming


def _collect(wiring: np.ndarray, outputs: list, width: int, batch: int) -> np.ndarray:
    sources = np.unique(wiring[:, 0])
    if sources.size == 1:
        array = outputs[sources[0]]
        if array.shape[1] == width and np.array_equal(wiring[:, 1], np.arange(width)):
            return array
    result = np.zeros((batch, width), dtype=np.result_type(*(outputs[s].dtype for s in sources)))
    for source in sources:
        taken = wiring[:, 0] == source
        result[:, np.flatnonzero(taken)] = outputs[source][:, wiring[taken, 1]]
    return result
