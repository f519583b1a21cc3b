"""Small constructors for composite wiring arrays (inputs, links, outputs) of the description."""

from __future__ import annotations

import numpy as np


def straight_inputs(child: int, n: int) -> np.ndarray:
    """Composite west channel c → child ``child`` west channel c."""
    return np.stack([np.full(n, child), np.arange(n)], axis=1)


def straight_outputs(child: int, n: int) -> np.ndarray:
    return np.stack([np.full(n, child), np.arange(n)], axis=1)


def straight_links(source: int, target: int, n: int) -> np.ndarray:
    """Channels 0..n−1 of ``source``'s east side to the same channels of ``target``'s west side."""
    channels = np.arange(n)
    return np.stack([np.full(n, source), channels, np.full(n, target), channels], axis=1)


def links(source: np.ndarray | int, source_channel, target: np.ndarray | int, target_channel) -> np.ndarray:
    source_channel = np.asarray(source_channel)
    n = source_channel.size
    return np.stack([
        np.broadcast_to(source, (n,)), source_channel.ravel(), np.broadcast_to(target, (n,)), np.asarray(target_channel).ravel(),
    ], axis=1).astype(np.int64)


def chain_links(sizes: list[int]) -> np.ndarray:
    """Child i east channel c → child i+1 west channel c, for c < sizes[i] (a series of stages)."""
    parts = [straight_links(index, index + 1, n) for index, n in enumerate(sizes)]
    return np.concatenate(parts) if parts else np.zeros((0, 4), dtype=np.int64)
