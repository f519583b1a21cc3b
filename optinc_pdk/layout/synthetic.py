"""Descriptions with a scenario's full structure and random phases, for benchmarks and tests.

Layout depends on a description's structure only (phases are never geometry), so a million-MZI
layout can be benchmarked without decomposing million-entry matrices: this module draws random
(θ, φ) on Clements meshes in the scenario's shapes and hands them to the circuit builder's own
:func:`optinc_pdk.circuit.assemble` — the same code path a trained design takes after its
decomposition. The layout engine itself never calls this.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from optinc_pdk.circuit import CircuitDescription, LayerParameters, assemble
from optinc_pdk.decompose.blocks import BlockLayout
from optinc_pdk.decompose.layer import BlockPhases, LayerMapping
from optinc_pdk.decompose.mesh import DiagonalColumn, MeshPhases
from optinc_pdk.spec.scenario import Scenario


@lru_cache(maxsize=32)
def clements_topology(n_modes: int) -> tuple[np.ndarray, np.ndarray]:
    """(top_mode, column) of a rectangular Clements mesh, in propagation (column) order."""
    tops = [np.arange(j % 2, n_modes - 1, 2) for j in range(n_modes)]
    top = np.concatenate(tops) if tops else np.zeros(0, dtype=np.int64)
    column = np.repeat(np.arange(n_modes), [t.size for t in tops])
    top.setflags(write=False)
    column.setflags(write=False)
    return top, column


def random_mesh(n_modes: int, rng: np.random.Generator, output_phase: bool = True) -> MeshPhases:
    top, column = clements_topology(n_modes)
    screen = rng.uniform(0, 2 * np.pi, n_modes) if output_phase else np.zeros(n_modes)
    return MeshPhases(n_modes, rng.uniform(0, np.pi, top.size), rng.uniform(0, 2 * np.pi, top.size), top, column,
                      screen, "clements")


def random_column(n_modes: int, rng: np.random.Generator) -> DiagonalColumn:
    return DiagonalColumn.from_values(rng.uniform(-1.0, 1.0, n_modes))


def random_mapping(out_dim: int, in_dim: int, approximated: bool, rng: np.random.Generator) -> LayerMapping:
    if not approximated:
        return LayerMapping("svd", out_dim, in_dim, 1.0, v_mesh=random_mesh(in_dim, rng, output_phase=False),
                            sigma=random_column(min(out_dim, in_dim), rng), u_mesh=random_mesh(out_dim, rng))
    layout = BlockLayout.of(out_dim, in_dim)
    blocks = tuple(BlockPhases(b, random_column(layout.k, rng), random_mesh(layout.k, rng))
                   for b in range(layout.n_blocks))
    return LayerMapping("blocks", out_dim, in_dim, 1.0, k=layout.k, orientation=layout.orientation,
                        padding=layout.padding, blocks=blocks)


def random_phase_description(scenario: Scenario, seed: int = 0) -> CircuitDescription:
    """The scenario's OptINC with uniformly random phases (structure exact, function arbitrary)."""
    rng = np.random.default_rng(seed)
    approx = set(scenario.approx_layers)
    params = [
        LayerParameters(random_mapping(out_dim, in_dim, index in approx, rng), 1.0, random_column(out_dim, rng))
        for index, (out_dim, in_dim) in enumerate(scenario.layer_shapes(), start=1)
    ]
    return assemble(scenario, params, weights_digest=f"random-phases-{seed}",
                    weights_source=f"random phases (seed={seed})")


def random_phase_top(scenario: Scenario, seed: int = 0):
    """The top block of the scenario's design with random phases: one OptINC, or a whole cascade
    (its levels' OptINCs with random phases, wired as ``circuit.cascade`` wires them)."""
    if scenario.cascade is None:
        return random_phase_description(scenario, seed).top
    from optinc_pdk.circuit.cascade import cascade_top

    levels = [random_phase_description(scenario.level_scenario(level), seed + level) for level in (1, 2)]
    return cascade_top(scenario, *levels)
