"""The circuit description's data model: named blocks with optical channels, leaves and composites.

Every block has ``n_in`` west and ``n_out`` east optical channels, counted from the top
(channel 0 = mode 0). Leaf blocks hold their elements as numpy arrays (one row per MZI or tree
element, never one Python object per MZI), so a 1.7M-MZI design builds in seconds:

* :class:`MeshBlock` (``mesh``): a unitary mesh, MZIs in propagation order with ``theta``, ``phi``,
  ``top_mode`` (pair (m, m+1)), ``column``, the arm of each heater (``theta_lower``, ``phi_lower``:
  all upper unless a ``--min-power`` build moved them), then one ``output_phase`` phase shifter per
  mode (the decomposition's :class:`~optinc_pdk.decompose.MeshPhases`, held as is).
* :class:`AttenuatorColumn` (``attenuators``): MZIs used upper-in → upper-out, |T₀₀| = sin(θ/2), one per
  listed ``mode`` (a Σ column, a block's diagonal d, the averager's 4^t weights, the bias amplitudes;
  a :class:`~optinc_pdk.decompose.DiagonalColumn`). A channel without an attenuator is a plain
  waveguide where it exists on both sides; a west channel beyond the east side is terminated, an
  east channel beyond the west side receives no light.
* :class:`TreeArray` (``splitter_trees`` / ``combiner_trees``): identical ratio-weighted trees
  (:mod:`optinc_pdk.core.topology`); ``leaf_channels[t, j]`` is the channel of leaf j of tree t on
  the leaf side (east for splitters, west for combiners); tree t's trunk is channel t on the
  other side.
* :class:`Source` (``source``): a constant bias light input of field ``amplitude``, no west channel.
* :class:`NonlinearArray` (``nonlinear``): one nonlinear unit per channel (ideal ReLU on the real field
  in simulation, a placeholder cell in layout).

A :class:`Composite` lists its children in optical order and wires them with integer arrays:
``inputs[c] = (child, west channel)`` for its west channel c, ``links[i] = (src child, src east
channel, dst child, dst west channel)``, ``outputs[c] = (child, east channel)`` for its east
channel c. Every link goes from an earlier child to a later one. A child port without a link is
unused: an east port is terminated, a west port receives no light. Composites nest (an OptINC is
a composite of layers, a layer of a matrix and a bias, a matrix of blocks), so a cascade can later
be a composite of OptINCs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from optinc_pdk.core.topology import TreePlan, tree_plan
from optinc_pdk.decompose.mesh import DiagonalColumn, MeshPhases

MESH = "mesh"
ATTENUATORS = "attenuators"
SPLITTER_TREES = "splitter_trees"
COMBINER_TREES = "combiner_trees"
SOURCE = "source"
NONLINEAR = "nonlinear"
LEAF_KINDS = (MESH, ATTENUATORS, SPLITTER_TREES, COMBINER_TREES, SOURCE, NONLINEAR)


def _frozen(array, dtype) -> np.ndarray:
    out = np.array(array, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Block:
    name: str  # hierarchical path, e.g. "L3/B1/U" (see optinc_pdk.circuit.naming)
    n_in: int
    n_out: int

    kind = ""

    @property
    def is_leaf(self) -> bool:
        return True

    def walk(self) -> Iterator[Block]:
        """This block and every block inside it, depth-first, in optical order."""
        yield self


@dataclass(frozen=True, eq=False)
class MeshBlock(Block):
    """A unitary mesh; its phases are a :class:`~optinc_pdk.decompose.MeshPhases` (propagation order)."""

    phases: MeshPhases = field(default=None)
    role: str = ""  # "VH", "U" (SVD meshes) or "Uhat" (a block's unitary)

    kind = MESH

    def __post_init__(self) -> None:
        if not isinstance(self.phases, MeshPhases):
            raise ValueError(f"{self.name}: phases must be MeshPhases")
        if self.n_in != self.phases.n_modes or self.n_out != self.phases.n_modes:
            raise ValueError(f"{self.name}: a mesh has as many channels as modes ({self.phases.n_modes})")

    @property
    def n_modes(self) -> int:
        return self.phases.n_modes

    @property
    def n_mzis(self) -> int:
        return self.phases.n_mzi

    @property
    def n_columns(self) -> int:
        return self.phases.n_columns

    # the arrays a layout or netlist reads, one entry per MZI in propagation order
    @property
    def theta(self) -> np.ndarray:
        return self.phases.theta

    @property
    def phi(self) -> np.ndarray:
        return self.phases.phi

    @property
    def top_mode(self) -> np.ndarray:
        return self.phases.top_mode

    @property
    def column(self) -> np.ndarray:
        return self.phases.column

    @property
    def output_phase(self) -> np.ndarray:
        return self.phases.output_phase

    @property
    def theta_lower(self) -> np.ndarray:
        """Per MZI: θ heater on the lower internal arm (``--min-power``; default all False, upper)."""
        return self.phases.theta_lower

    @property
    def phi_lower(self) -> np.ndarray:
        """Per MZI: φ heater on the lower input arm."""
        return self.phases.phi_lower


@dataclass(frozen=True, eq=False)
class AttenuatorColumn(Block):
    """Attenuator MZIs on some channels; ``column`` is a :class:`~optinc_pdk.decompose.DiagonalColumn`.

    ``column.mode`` lists the channels that carry an attenuator (``column.n_modes`` <= min(n_in, n_out)).
    """

    column: DiagonalColumn = field(default=None)
    role: str = ""  # "sigma", "diag", "digit_weight", "bias"

    kind = ATTENUATORS

    def __post_init__(self) -> None:
        if not isinstance(self.column, DiagonalColumn):
            raise ValueError(f"{self.name}: column must be a DiagonalColumn")
        if self.column.n_modes > min(self.n_in, self.n_out):
            raise ValueError(f"{self.name}: attenuators on {self.column.n_modes} modes do not fit "
                             f"{self.n_in}→{self.n_out} channels")

    @property
    def n_mzis(self) -> int:
        return self.column.n_mzi

    @property
    def theta(self) -> np.ndarray:
        return self.column.theta

    @property
    def phi(self) -> np.ndarray:
        return self.column.phi

    @property
    def mode(self) -> np.ndarray:
        return self.column.mode


@dataclass(frozen=True, eq=False)
class TreeArray(Block):
    n_trees: int = 0
    n_leaves: int = 1
    leaf_channels: np.ndarray = field(default=None)  # (n_trees, n_leaves) channel on the leaf side
    splitting: bool = True  # True: 1→n splitters (leaves east); False: n→1 combiners (leaves west)

    def __post_init__(self) -> None:
        object.__setattr__(self, "leaf_channels", _frozen(self.leaf_channels, np.int64))
        leaf_side = self.n_out if self.splitting else self.n_in
        trunk_side = self.n_in if self.splitting else self.n_out
        if self.leaf_channels.shape != (self.n_trees, self.n_leaves):
            raise ValueError(f"{self.name}: leaf_channels must be (n_trees, n_leaves) = ({self.n_trees}, {self.n_leaves})")
        if trunk_side != self.n_trees:
            raise ValueError(f"{self.name}: one trunk channel per tree")
        flat = self.leaf_channels.ravel()
        if flat.size and (flat.min() < 0 or flat.max() >= leaf_side or np.unique(flat).size != flat.size):
            raise ValueError(f"{self.name}: leaf channels must be distinct and in 0..{leaf_side - 1}")

    @property
    def kind(self) -> str:  # type: ignore[override]
        return SPLITTER_TREES if self.splitting else COMBINER_TREES

    @property
    def plan(self) -> TreePlan:
        return tree_plan(self.n_leaves)

    @property
    def n_elements(self) -> int:
        """2-port splitters (or combiners) in all trees."""
        return self.n_trees * self.plan.n_elements


@dataclass(frozen=True, eq=False)
class Source(Block):
    amplitude: float = 0.0  # field of the bias light, in the same units as a PAM4 level 1

    kind = SOURCE


@dataclass(frozen=True, eq=False)
class NonlinearArray(Block):
    function: str = "relu"

    kind = NONLINEAR

    def __post_init__(self) -> None:
        if self.n_in != self.n_out:
            raise ValueError(f"{self.name}: one nonlinear unit per channel")


@dataclass(frozen=True, eq=False)
class Composite(Block):
    children: tuple[Block, ...] = ()
    inputs: np.ndarray = field(default=None)  # (n_in, 2): (child, west channel)
    links: np.ndarray = field(default=None)  # (n_links, 4): (src child, src east ch, dst child, dst west ch)
    outputs: np.ndarray = field(default=None)  # (n_out, 2): (child, east channel)
    role: str = ""  # "optinc", "averager", "layer", "matrix", "block", "bias", "broadcast"

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "composite"

    @property
    def is_leaf(self) -> bool:
        return False

    def __post_init__(self) -> None:
        inputs = np.asarray(self.inputs if self.inputs is not None else np.zeros((0, 2)), dtype=np.int64).reshape(-1, 2)
        links = np.asarray(self.links if self.links is not None else np.zeros((0, 4)), dtype=np.int64).reshape(-1, 4)
        outputs = np.asarray(self.outputs if self.outputs is not None else np.zeros((0, 2)), dtype=np.int64).reshape(-1, 2)
        for name, value in (("inputs", inputs), ("links", links), ("outputs", outputs)):
            object.__setattr__(self, name, _frozen(value, np.int64))
        object.__setattr__(self, "children", tuple(self.children))
        self._validate()

    def _validate(self) -> None:
        kids = self.children
        if self.inputs.shape[0] != self.n_in or self.outputs.shape[0] != self.n_out:
            raise ValueError(f"{self.name}: needs one input row per west channel and one output row per east channel")

        def check(child: np.ndarray, channel: np.ndarray, west: bool, what: str) -> None:
            if child.size == 0:
                return
            if child.min() < 0 or child.max() >= len(kids):
                raise ValueError(f"{self.name}: {what} names a child that does not exist")
            limit = np.array([k.n_in if west else k.n_out for k in kids])[child]
            if np.any(channel < 0) or np.any(channel >= limit):
                raise ValueError(f"{self.name}: {what} uses a channel its child does not have")

        check(self.inputs[:, 0], self.inputs[:, 1], True, "inputs")
        check(self.outputs[:, 0], self.outputs[:, 1], False, "outputs")
        check(self.links[:, 0], self.links[:, 1], False, "links (source)")
        check(self.links[:, 2], self.links[:, 3], True, "links (destination)")
        if np.any(self.links[:, 0] >= self.links[:, 2]):
            raise ValueError(f"{self.name}: every link must run from an earlier child to a later one")
        if _repeats(np.concatenate([self.inputs, self.links[:, 2:]])):
            raise ValueError(f"{self.name}: a child west port is driven twice")
        if _repeats(np.concatenate([self.outputs, self.links[:, :2]])):
            raise ValueError(f"{self.name}: a child east port feeds two places (use a splitter)")

    def walk(self) -> Iterator[Block]:
        yield self
        for child in self.children:
            yield from child.walk()

    def child(self, name: str) -> Block:
        for kid in self.children:
            if kid.name == name:
                return kid
        raise KeyError(f"{self.name}: no child {name}")


def _repeats(ports: np.ndarray) -> bool:
    """Whether two (child, channel) rows of ``ports`` (both >= 0) are equal: one integer per row, sorted
    (``np.unique(axis=0)`` sorts the rows as opaque records, several times slower)."""
    if ports.shape[0] < 2:
        return False
    keys = np.sort(ports[:, 0] * (int(ports[:, 1].max()) + 1) + ports[:, 1])
    return bool(np.any(keys[1:] == keys[:-1]))
