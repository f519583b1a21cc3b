"""Which entry each MZI nulls, in which order, and where it sits in the layout.

Clements (rectangular): for i = 0..N−2, sweep i nulls the sub-diagonal r − c = N−1−i of the matrix.
Even sweeps use column operations (U ← U·T⁻¹ on columns (m, m+1)) from the bottom up; odd sweeps
use row operations (U ← T·U on rows (m, m+1)) from the top down. Reck (triangular): sweep p nulls
row N−1−p left to right with column operations only.

Positions, with j the step inside the sweep:
  clements, column op of sweep i: nulls (N−1−j, i−j) with modes (i−j, i−j+1)    -> layout column j
  clements, row op of sweep i:    nulls (N−1−i+j, j) with modes (N−2−i+j, …+1) -> layout column N−1−j
  reck, sweep p, step k:           nulls (N−1−p, k) with modes (k, k+1)          -> layout column k+2p
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

MESH_KINDS = ("clements", "reck")


@dataclass(frozen=True)
class Sweep:
    index: int  # i (clements) or p (reck)
    start: int  # position of its first MZI in the nulling order
    size: int
    by_rows: bool  # row operations (left multiplications) rather than column operations


def sweeps(n_modes: int, mesh: str) -> list[Sweep]:
    if mesh not in MESH_KINDS:
        raise ValueError(f"mesh must be one of {MESH_KINDS}, got {mesh!r}")
    result = []
    start = 0
    for index in range(n_modes - 1):
        size = index + 1 if mesh == "clements" else n_modes - 1 - index
        by_rows = mesh == "clements" and index % 2 == 1
        result.append(Sweep(index, start, size, by_rows))
        start += size
    return result


def mzi_count(n_modes: int) -> int:
    return n_modes * (n_modes - 1) // 2


@functools.lru_cache(maxsize=16)
def nulling_positions(n_modes: int, mesh: str):
    """(top_mode, column) of every MZI, in nulling order (see the module doc); read-only, cached."""
    tops, columns = [], []
    for sweep in sweeps(n_modes, mesh):
        step = np.arange(sweep.size)
        if sweep.by_rows:
            tops.append(n_modes - 2 - sweep.index + step)
            columns.append(n_modes - 1 - step)
        elif mesh == "clements":
            tops.append(sweep.index - step)
            columns.append(step)
        else:
            tops.append(step)
            columns.append(step + 2 * sweep.index)
    top_mode = np.concatenate(tops).astype(np.int64) if tops else np.empty(0, dtype=np.int64)
    column = np.concatenate(columns).astype(np.int64) if columns else np.empty(0, dtype=np.int64)
    top_mode.flags.writeable = False
    column.flags.writeable = False
    return top_mode, column
