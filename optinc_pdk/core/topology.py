"""The OptINC's periphery topology, one source for cells, sax models, circuit and simulation.

**Channels.** West (inputs, N·b/2 channels) are grouped by ONN input so that each averager
combiner tree takes adjacent channels: group j = digit // G occupies channels [j·N·G, (j+1)·N·G),
server-major inside the group, so digit k of server i is on channel j·N·G + i·G + (k mod G).
East (outputs, N·b/2 channels) are digit-major: digit k for server i on channel k·N + i, so each
splitter tree's N leaves are adjacent. G = b/(2M) is the number of PAM4 digits per ONN input.

**Trees.** A 1→n splitter tree (or its mirror, an n→1 combiner tree) has n − 1 two-port elements,
for any n (not only powers of two). Each element serves a contiguous run of ``count`` leaves and
hands the upper ⌈count/2⌉ of them to its upper branch, the rest to its lower branch. The element's
power ratio is the share of leaves below its upper branch, ``upper_count / count``: its field
coefficients are √(upper_count/count) and √(lower_count/count). Along any root-to-leaf path these
products telescope to 1/√n, so every leaf of an n-leaf tree gets amplitude exactly 1/√n. The ratio
is a geometry parameter of the element (its coupler design), not a phase. Nodes are stored
breadth-first (root first) as numpy arrays; a tree is described once per leaf count and shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from optinc_pdk.spec.conventions import PAM4_LEVELS, group_size


def input_channels(servers: int, digits: int, onn_inputs: int) -> np.ndarray:
    """(servers, digits) array: the west channel of digit k of server i."""
    group = group_size(2 * digits, onn_inputs)
    server = np.arange(servers)[:, None]
    digit = np.arange(digits)[None, :]
    j, t = np.divmod(digit, group)
    return j * servers * group + server * group + t


def output_channels(servers: int, digits: int) -> np.ndarray:
    """(servers, digits) array: the east channel of digit k delivered to server i."""
    return np.arange(digits)[None, :] * servers + np.arange(servers)[:, None]


def digit_weights(group: int) -> np.ndarray:
    """Amplitude of digit offset t = 0..G−1 inside a group: 4^(t−G+1).

    Passive optics cannot amplify, so the 4^t of the preprocessing is realised by attenuating the
    lower digits; the top digit passes unattenuated.
    """
    return float(PAM4_LEVELS) ** (np.arange(group) - (group - 1))


NO_CHILD = -1  # in ``upper_node``/``lower_node``: that branch ends at a leaf


@dataclass(frozen=True)
class TreePlan:
    """The n − 1 elements of an n-leaf tree, breadth-first, root first."""

    n_leaves: int
    depth: np.ndarray  # (n−1,) stages between the trunk and this element (root = 0)
    first: np.ndarray  # (n−1,) first leaf served
    count: np.ndarray  # (n−1,) leaves served (>= 2)
    upper_node: np.ndarray  # (n−1,) element on the upper branch, or NO_CHILD (then ``first`` is a leaf)
    lower_node: np.ndarray  # (n−1,) element on the lower branch, or NO_CHILD (then the branch's first leaf is a leaf)

    @property
    def n_elements(self) -> int:
        return self.n_leaves - 1 if self.n_leaves > 1 else 0

    @property
    def upper_count(self) -> np.ndarray:
        return (self.count + 1) // 2

    @property
    def lower_count(self) -> np.ndarray:
        return self.count - self.upper_count

    @property
    def ratio(self) -> np.ndarray:
        """Power fraction each element sends to (or takes from) its upper branch."""
        return self.upper_count / self.count

    @property
    def upper_leaf(self) -> np.ndarray:
        """Leaf on the upper branch where it ends at a leaf, else NO_CHILD."""
        return np.where(self.upper_node == NO_CHILD, self.first, NO_CHILD)

    @property
    def lower_leaf(self) -> np.ndarray:
        return np.where(self.lower_node == NO_CHILD, self.first + self.upper_count, NO_CHILD)

    @property
    def levels(self) -> int:
        """Stages between trunk and the deepest leaf: ⌈log2 n⌉."""
        return int(self.depth.max()) + 1 if self.n_elements else 0


@lru_cache(maxsize=256)
def tree_plan(n_leaves: int) -> TreePlan:
    """The tree for ``n_leaves`` >= 1 leaves (a 1-leaf tree is a plain waveguide: no elements)."""
    if n_leaves < 1:
        raise ValueError(f"a tree needs at least one leaf (got {n_leaves})")
    depth, first, count = [], [], []
    pending = [(0, 0, n_leaves)] if n_leaves > 1 else []
    # breadth-first over at most n−1 elements; built once per size and cached
    while pending:
        d, f, c = pending.pop(0)
        depth.append(d)
        first.append(f)
        count.append(c)
        upper = (c + 1) // 2
        for f_child, c_child in ((f, upper), (f + upper, c - upper)):
            if c_child >= 2:
                pending.append((d + 1, f_child, c_child))
    depth_a, first_a, count_a = (np.asarray(v, dtype=np.int64) for v in (depth, first, count))
    index = {(f, c): i for i, (f, c) in enumerate(zip(first, count))}
    upper_c = (count_a + 1) // 2
    upper_node = np.array([index.get((f, u), NO_CHILD) if u >= 2 else NO_CHILD
                           for f, u in zip(first, upper_c.tolist())], dtype=np.int64)
    lower_node = np.array([index.get((f + u, c - u), NO_CHILD) if c - u >= 2 else NO_CHILD
                           for f, u, c in zip(first, upper_c.tolist(), count)], dtype=np.int64)
    plan = TreePlan(n_leaves, depth_a, first_a, count_a, upper_node, lower_node)
    for array in (plan.depth, plan.first, plan.count, plan.upper_node, plan.lower_node):
        array.setflags(write=False)
    return plan


def tree_depth(n_leaves: int) -> int:
    """Stages between the trunk and the deepest leaf of a 1→n tree: ⌈log2 n⌉."""
    return tree_plan(n_leaves).levels


def tree_leaf_depths(n_leaves: int) -> np.ndarray:
    """How many two-port elements light passes between the trunk and each leaf (top leaf first)."""
    plan = tree_plan(n_leaves)
    depths = np.zeros(n_leaves, dtype=np.int64)
    for first, count in zip(plan.first.tolist(), plan.count.tolist(), strict=True):
        depths[first:first + count] += 1
    return depths


def tree_leaf_amplitudes(n_leaves: int) -> np.ndarray:
    """Field amplitude from the trunk to each leaf (top leaf first) of the ratio-weighted tree.

    Each element passes √ratio to its upper branch and √(1 − ratio) to its lower one, with
    ratio = upper leaves / leaves served, so every leaf gets exactly 1/√n (2^(−depth/2) only when
    n is a power of two). The simulator, the sax models and the cells' ``ratio`` settings all
    follow this one rule.
    """
    plan = tree_plan(n_leaves)
    amplitudes = np.ones(n_leaves)
    for first, count, upper in zip(plan.first.tolist(), plan.count.tolist(), plan.upper_count.tolist(), strict=True):
        amplitudes[first:first + upper] *= np.sqrt(upper / count)
        amplitudes[first + upper:first + count] *= np.sqrt((count - upper) / count)
    return amplitudes
