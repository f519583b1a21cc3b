"""Shared helpers for the circuit-description and simulation tests (no tests of its own)."""

from __future__ import annotations

import numpy as np

from optinc_pdk.core.area import block_partition
from optinc_pdk.decompose import BlockPhases, DiagonalColumn, LayerMapping, MeshPhases
from optinc_pdk.spec.scenario import scenario_from_dict


def rectangular_mesh(n: int, theta: float = np.pi, phi: float = np.pi) -> MeshPhases:
    """A Clements-layout mesh built by hand: column c holds the MZIs on modes m ≡ c (mod 2).

    θ = φ = π is the bar state with unit transmission, so this mesh is the identity; it lets the
    count tests build 1024-mode layers without decomposing anything.
    """
    top = [m for c in range(n) for m in range(c % 2, n - 1, 2)]
    column = [c for c in range(n) for _ in range(c % 2, n - 1, 2)]
    size = len(top)
    return MeshPhases(n, np.full(size, theta), np.full(size, phi), np.array(top, dtype=np.int64),
                      np.array(column, dtype=np.int64), np.zeros(n), "clements")


def identity_mapper(weight, approximated: bool, mesh: str) -> LayerMapping:
    """A layer mapping with the decomposer's structure and identity meshes (for structure-only tests)."""
    out_dim, in_dim = np.shape(weight)
    if not approximated:
        rank = min(out_dim, in_dim)
        return LayerMapping("svd", out_dim, in_dim, 1.0, v_mesh=rectangular_mesh(in_dim),
                            sigma=DiagonalColumn.from_values(np.ones(rank)), u_mesh=rectangular_mesh(out_dim))
    part = block_partition(out_dim, in_dim)
    blocks = tuple(BlockPhases(b, DiagonalColumn.from_values(np.ones(part.k)), rectangular_mesh(part.k))
                   for b in range(part.blocks))
    return LayerMapping("blocks", out_dim, in_dim, 1.0, k=part.k, orientation=part.orientation,
                        padding=part.padding, blocks=blocks)


def tiny_scenario(servers: int = 3, bits: int = 8, widths=(4, 6, 12, 4), approx=(1, 2, 3), name: str = "tiny"):
    """A small scenario with awkward sizes: N = 3 and nb = 3 (3-leaf trees), a padded tall layer (6×4).

    No padded *wide* layer: there the block approximation is not idempotent (a zero-padded block's
    rows cannot all stay orthogonal), so the optics realise a slightly different matrix than W.
    """
    return scenario_from_dict({"name": name, "bits": bits, "servers": servers, "widths": list(widths),
                               "approx_layers": list(approx)})
