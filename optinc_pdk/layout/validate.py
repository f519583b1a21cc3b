"""Check a description's shapes before any layout work (and before any file is opened).

The description's constructors validate on creation; this pass re-checks what the layout relies
on (a description can be assembled by hand or arrive from elsewhere), vectorised per block, and
adds one check of its own: two MZIs of a mesh column must not share a mode (they would overlap).
Every failure is one line naming the design, the block and the field.
"""

from __future__ import annotations

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
from optinc_pdk.errors import OptincError, located


def _fail(design: str, block: Block, field: str, message: str) -> OptincError:
    return located(design, f"{block.name}.{field}", message)


def _check_wiring(design: str, block: Composite) -> None:
    kids = block.children
    n_in = np.array([k.n_in for k in kids], dtype=np.int64)
    n_out = np.array([k.n_out for k in kids], dtype=np.int64)
    tables = (("inputs", block.inputs, 2, block.n_in), ("links", block.links, 4, None),
              ("outputs", block.outputs, 2, block.n_out))
    for field, table, width, rows in tables:
        table = np.asarray(table)
        if table.ndim != 2 or table.shape[1] != width or (rows is not None and table.shape[0] != rows):
            expected = f"({rows if rows is not None else 'n'}, {width})"
            raise _fail(design, block, field, f"shape {table.shape} does not match {expected}")
    ends = [("inputs", block.inputs[:, 0], block.inputs[:, 1], n_in),
            ("links", block.links[:, 0], block.links[:, 1], n_out),
            ("links", block.links[:, 2], block.links[:, 3], n_in),
            ("outputs", block.outputs[:, 0], block.outputs[:, 1], n_out)]
    for field, child, channel, limit in ends:
        if child.size == 0:
            continue
        if child.min() < 0 or child.max() >= len(kids):
            raise _fail(design, block, field, f"names child {int(child.max())} of {len(kids)}")
        bad = np.flatnonzero((channel < 0) | (channel >= limit[child]))
        if bad.size:
            i = int(bad[0])
            raise _fail(design, block, field, f"channel {int(channel[i])} is outside {kids[int(child[i])].name}")
    if np.any(block.links[:, 0] >= block.links[:, 2]):
        raise _fail(design, block, "links", "a link runs backwards (children are in optical order)")
    driven = np.concatenate([block.inputs, block.links[:, 2:]])
    if np.unique(driven, axis=0).shape[0] != driven.shape[0]:
        raise _fail(design, block, "links", "a child input is driven twice")
    read = np.concatenate([block.outputs, block.links[:, :2]])
    if np.unique(read, axis=0).shape[0] != read.shape[0]:
        raise _fail(design, block, "links", "a child output feeds two places")


def _check_mesh(design: str, block: MeshBlock) -> None:
    n = block.n_modes
    if block.n_in != n or block.n_out != n:
        raise _fail(design, block, "n_modes", f"{n} modes in a block of {block.n_in}→{block.n_out} channels")
    top, column = np.asarray(block.top_mode), np.asarray(block.column)
    if top.shape != column.shape or top.ndim != 1 or np.asarray(block.theta).shape != top.shape:
        raise _fail(design, block, "top_mode", f"shape {top.shape} does not match column {column.shape}")
    if np.asarray(block.output_phase).shape != (n,):
        raise _fail(design, block, "output_phase", f"shape {np.shape(block.output_phase)} for {n} modes")
    if top.size == 0:
        return
    if top.min() < 0 or top.max() > n - 2 or column.min() < 0:
        raise _fail(design, block, "top_mode", f"MZIs must act on modes 0..{n - 1} in columns >= 0")
    used = np.concatenate([column * n + top, column * n + top + 1])
    values, counts = np.unique(used, return_counts=True)
    if np.any(counts > 1):
        c, m = divmod(int(values[np.argmax(counts > 1)]), n)
        raise _fail(design, block, "column", f"two MZIs of column {c} share mode {m}")


def _check_leaf(design: str, block: Block) -> None:
    if isinstance(block, MeshBlock):
        _check_mesh(design, block)
    elif isinstance(block, AttenuatorColumn):
        mode = np.asarray(block.mode)
        width = min(block.n_in, block.n_out)
        if mode.size and (mode.min() < 0 or mode.max() >= width or np.unique(mode).size != mode.size):
            raise _fail(design, block, "mode", f"attenuator modes must be distinct and in 0..{width - 1}")
    elif isinstance(block, TreeArray):
        leaves = np.asarray(block.leaf_channels)
        leaf_side = block.n_out if block.splitting else block.n_in
        trunk_side = block.n_in if block.splitting else block.n_out
        if leaves.shape != (block.n_trees, block.n_leaves) or trunk_side != block.n_trees or block.n_leaves < 1:
            raise _fail(design, block, "leaf_channels",
                        f"shape {leaves.shape} for {block.n_trees} trees of {block.n_leaves} leaves")
        flat = leaves.ravel()
        if flat.size and (flat.min() < 0 or flat.max() >= leaf_side or np.unique(flat).size != flat.size):
            raise _fail(design, block, "leaf_channels", f"must be distinct channels in 0..{leaf_side - 1}")
    elif isinstance(block, NonlinearArray):
        if block.n_in != block.n_out:
            raise _fail(design, block, "n_out", "one nonlinear unit per channel")
    elif isinstance(block, Source):
        if block.n_in != 0 or block.n_out != 1:
            raise _fail(design, block, "n_out", "a source has no input and one output")
    else:
        raise _fail(design, block, "kind", f"no layout for blocks of kind {block.kind!r}")


def validate_description(top: Block, design: str) -> None:
    """Raise a one-line OptincError at the first shape the layout cannot draw (any block may be the top)."""
    for block in top.walk():
        if isinstance(block, Composite):
            _check_wiring(design, block)
        else:
            _check_leaf(design, block)
