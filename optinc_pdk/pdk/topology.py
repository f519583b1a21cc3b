"""Connectivity of the composite cells, independent of geometry.

The cells place these nodes and the sax models read the same plan, so a tree's layout and its
S-matrix cannot drift apart. Channels are counted from the top (see ``ports.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TreeNode:
    """One 1x2 splitter (or 2x1 combiner) of a tree: it serves leaf channels [first, first+count)."""

    depth: int  # stages between the trunk and this node (root = 0)
    first: int
    count: int  # >= 2

    @property
    def upper(self) -> tuple[int, int]:
        """(first, count) of the upper branch: the larger half when ``count`` is odd."""
        return self.first, (self.count + 1) // 2

    @property
    def lower(self) -> tuple[int, int]:
        half = (self.count + 1) // 2
        return self.first + half, self.count - half


def tree_nodes(n_leaves: int) -> list[TreeNode]:
    """The n−1 nodes of a 1→n tree for any n >= 2 (not only powers of two), root first.

    Each node splits its leaves into halves (the upper half gets the odd one), so the depth is
    ceil(log2 n) and a leaf sits below ``tree_leaf_depths(n)[leaf]`` nodes.
    """
    if n_leaves < 2:
        raise ValueError(f"a tree needs at least 2 leaves, got {n_leaves}")
    nodes: list[TreeNode] = []
    pending = [TreeNode(depth=0, first=0, count=n_leaves)]
    while pending:
        node = pending.pop(0)
        nodes.append(node)
        for first, count in (node.upper, node.lower):
            if count >= 2:
                pending.append(TreeNode(depth=node.depth + 1, first=first, count=count))
    return nodes


def tree_depth(n_leaves: int) -> int:
    """Stages of a 1→n tree: ceil(log2 n)."""
    if n_leaves < 2:
        raise ValueError(f"a tree needs at least 2 leaves, got {n_leaves}")
    return math.ceil(math.log2(n_leaves))


def tree_leaf_depths(n_leaves: int) -> list[int]:
    """How many 1x2 nodes light passes between the trunk and each leaf (top leaf first)."""
    depths = [0] * n_leaves
    for node in tree_nodes(n_leaves):
        for leaf in range(node.first, node.first + node.count):
            depths[leaf] += 1
    return depths


def averager_groups(n_servers: int, bits: int, n_outputs: int) -> int:
    """G = b / (2M): PAM4 digits per ONN input (docs/conventions.md, Preprocessing)."""
    if n_servers < 1 or bits < 2 or bits % 2 or n_outputs < 1:
        raise ValueError(f"need n_servers >= 1, even bits >= 2, n_outputs >= 1; got {n_servers}, {bits}, {n_outputs}")
    digits = bits // 2
    if digits % n_outputs:
        raise ValueError(f"bits/2={digits} PAM4 digits do not split into n_outputs={n_outputs} equal groups")
    return digits // n_outputs


def averager_channel(server: int, digit: int, n_servers: int, bits: int, n_outputs: int) -> int:
    """Input channel (0 = top) of the averager that receives digit ``digit`` (LSB = 0) of ``server``.

    Inputs are grouped by ONN output so that every combiner tree takes adjacent channels:
    group j = digit // G occupies channels [j·N·G, (j+1)·N·G), server-major inside the group.
    """
    groups = averager_groups(n_servers, bits, n_outputs)
    if not (0 <= server < n_servers and 0 <= digit < bits // 2):
        raise ValueError(f"server {server} / digit {digit} out of range")
    group, offset = divmod(digit, groups)
    return group * n_servers * groups + server * groups + offset


def averager_digit_weights(bits: int, n_outputs: int) -> list[float]:
    """Amplitude weight of digit offset t = 0..G−1 inside a group: 4^t scaled so the largest is 1.

    Passive optics cannot amplify, so the 4^t of docs/conventions.md's x_j is realised by attenuating the
    lower digits (t < G−1) with ``mzi_attenuator`` cells; the top digit passes unattenuated.
    """
    groups = averager_groups(1, bits, n_outputs)
    return [4.0 ** (t - (groups - 1)) for t in range(groups)]
