"""Analytic area from a scenario alone: MZI counts per layer, full vs block-approximated.

Paper definition (docs/conventions.md, Area): the area of an ONN is the number of MZIs that map its weight
matrices. A full out×in matrix takes out(out−1)/2 + in(in−1)/2 + min(out, in) MZIs (two Clements
meshes and a Σ column); an approximated one takes blocks × (k(k−1)/2 + k) with k = min(out, in).

Everything else on the chip (averager, fan-out/summing trees, bias injection, nonlinear units,
splitter array) is counted separately by :func:`periphery_counts`, with the same rules the
circuit description uses to build those blocks, so the two always agree.

Python API, for scripts that sweep configurations::

    from optinc_pdk.core import area
    from optinc_pdk.spec.scenario import load_scenario
    base = load_scenario("b16n4")
    for layers in ([4, 5, 6], [3, 4, 5, 6, 7]):
        r = area.scenario_area(base.with_updates(approx_layers=layers))
        print(layers, r.approx_mzis, f"{r.ratio:.1%}")
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from optinc_pdk.spec.scenario import Scenario


def unitary_mesh_mzis(n: int) -> int:
    """MZIs of a Clements (or Reck) mesh on n modes."""
    return n * (n - 1) // 2


def full_layer_mzis(out_dim: int, in_dim: int) -> int:
    """SVD mapping W = U Σ Vᴴ: U mesh, Vᴴ mesh, and a Σ column of min(out, in) attenuator MZIs."""
    return unitary_mesh_mzis(out_dim) + unitary_mesh_mzis(in_dim) + min(out_dim, in_dim)


@dataclass(frozen=True)
class BlockPartition:
    """How eq. 4–6 split an out×in matrix into square k×k blocks."""

    out_dim: int
    in_dim: int
    k: int
    blocks: int
    orientation: str  # "square", "tall" (stacked, inputs fanned out) or "wide" (side by side, outputs summed)
    padding: int  # zero rows (tall) or columns (wide) added to fill the last block


def block_partition(out_dim: int, in_dim: int) -> BlockPartition:
    k = min(out_dim, in_dim)
    longer = max(out_dim, in_dim)
    blocks = math.ceil(longer / k)
    orientation = "square" if out_dim == in_dim else ("tall" if out_dim > in_dim else "wide")
    return BlockPartition(out_dim, in_dim, k, blocks, orientation, blocks * k - longer)


def approx_layer_mzis(out_dim: int, in_dim: int) -> int:
    part = block_partition(out_dim, in_dim)
    return part.blocks * (unitary_mesh_mzis(part.k) + part.k)


def tree_elements(n: int) -> int:
    """2-port splitters (or combiners) in a binary tree with n leaves: n − 1, for any n ≥ 1."""
    return max(n - 1, 0)


@dataclass(frozen=True)
class LayerArea:
    layer: int  # 1-based
    out_dim: int
    in_dim: int
    approximated: bool
    full_mzis: int
    approx_mzis: int  # equals full_mzis when the layer is not approximated
    mesh_mzis: int  # of the realised form: unitary-mesh MZIs
    sigma_mzis: int  # of the realised form: Σ / diagonal attenuator MZIs
    tree_splitters: int  # fan-out of a tall partition
    tree_combiners: int  # summing of a wide partition
    blocks: int
    k: int
    padding: int

    @property
    def mzis(self) -> int:
        return self.approx_mzis


def layer_area(layer: int, out_dim: int, in_dim: int, approximated: bool) -> LayerArea:
    full = full_layer_mzis(out_dim, in_dim)
    if not approximated:
        return LayerArea(
            layer, out_dim, in_dim, False, full, full,
            unitary_mesh_mzis(out_dim) + unitary_mesh_mzis(in_dim), min(out_dim, in_dim), 0, 0, 1, min(out_dim, in_dim), 0,
        )
    part = block_partition(out_dim, in_dim)
    fan = part.k * tree_elements(part.blocks)
    return LayerArea(
        layer, out_dim, in_dim, True, full, approx_layer_mzis(out_dim, in_dim),
        part.blocks * unitary_mesh_mzis(part.k), part.blocks * part.k,
        fan if part.orientation == "tall" else 0, fan if part.orientation == "wide" else 0,
        part.blocks, part.k, part.padding,
    )


@dataclass(frozen=True)
class PeripheryCounts:
    """Hardware outside the weight matrices of one OptINC (reported separately from the paper's area)."""

    averager_combiners: int  # 2→1 combiners of the M summing trees
    averager_attenuators: int  # attenuator MZIs weighting digit t of a group by 4^(t−G+1) (G > 1 only)
    bias_splitters: int  # 1→2 splitters distributing each layer's bias light
    bias_attenuators: int  # one attenuator MZI per biased neuron (sets |b| and sign)
    bias_combiners: int  # one 2→1 combiner per biased neuron, merging bias into the signal
    nonlinear_units: int  # one per hidden neuron
    broadcast_splitters: int  # the splitter array: every output digit to every server
    tree_splitters: int  # fan-out trees of tall partitions (all layers)
    tree_combiners: int  # summing trees of wide partitions (all layers)

    @property
    def mzis(self) -> int:
        """MZIs outside the weight matrices (attenuators of averager and bias)."""
        return self.averager_attenuators + self.bias_attenuators

    @property
    def passives(self) -> int:
        return (
            self.averager_combiners + self.bias_splitters + self.bias_combiners + self.broadcast_splitters
            + self.tree_splitters + self.tree_combiners
        )


def periphery_counts(scenario: Scenario, layers: list[LayerArea], broadcast: bool = True,
                     averager_servers: int | None = None) -> PeripheryCounts:
    n = averager_servers if averager_servers is not None else scenario.optinc_servers
    m, g = scenario.onn_inputs, scenario.group
    outs = [layer.out_dim for layer in layers]
    return PeripheryCounts(
        averager_combiners=m * tree_elements(n * g),
        averager_attenuators=m * n * (g - 1),
        bias_splitters=sum(tree_elements(width) for width in outs),
        bias_attenuators=sum(outs),
        bias_combiners=sum(outs),
        nonlinear_units=sum(scenario.widths[1:-1]),
        broadcast_splitters=scenario.widths[-1] * tree_elements(n) if broadcast else 0,
        tree_splitters=sum(layer.tree_splitters for layer in layers),
        tree_combiners=sum(layer.tree_combiners for layer in layers),
    )


@dataclass(frozen=True)
class OnnArea:
    """One OptINC's ONN: per-layer counts, totals, ratio, and the periphery."""

    scenario: str
    widths: tuple[int, ...]
    approx_layers: tuple[int, ...]
    layers: tuple[LayerArea, ...]
    periphery: PeripheryCounts
    optincs: int = 1  # basic OptINCs in the design (5 for the 16-server cascade)

    @property
    def full_mzis(self) -> int:
        return sum(layer.full_mzis for layer in self.layers)

    @property
    def approx_mzis(self) -> int:
        return sum(layer.approx_mzis for layer in self.layers)

    @property
    def ratio(self) -> float:
        return self.approx_mzis / self.full_mzis

    @property
    def total_weight_mzis(self) -> int:
        """Weight-matrix MZIs of the whole design (all OptINCs)."""
        return self.optincs * self.approx_mzis

    def to_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "widths": list(self.widths),
            "approx_layers": list(self.approx_layers),
            "optincs": self.optincs,
            "full_mzis": self.full_mzis,
            "approx_mzis": self.approx_mzis,
            "ratio": self.ratio,
            "total_weight_mzis": self.total_weight_mzis,
            "layers": [asdict(layer) for layer in self.layers],
            "periphery": {**asdict(self.periphery), "mzis": self.periphery.mzis, "passives": self.periphery.passives},
        }


def onn_area(scenario: Scenario) -> OnnArea:
    """Area of one basic OptINC of the scenario (for a cascade: one of its five identical OptINCs)."""
    approx = set(scenario.approx_layers)
    layers = tuple(
        layer_area(index + 1, out_dim, in_dim, (index + 1) in approx)
        for index, (out_dim, in_dim) in enumerate(scenario.layer_shapes())
    )
    optincs = 1 if scenario.cascade is None else scenario.cascade.servers_per_optinc + 1
    return OnnArea(
        scenario.name, tuple(scenario.widths), tuple(sorted(approx)), layers,
        periphery_counts(scenario, list(layers)), optincs,
    )


def scenario_area(scenario: Scenario) -> OnnArea:
    return onn_area(scenario)


@dataclass(frozen=True)
class PaperComparison:
    scenario: str
    table: str
    full_mzis: int
    approx_mzis: int
    ratio: float
    paper_ratio: float | None
    delta_pp: float | None  # our ratio − paper ratio, percentage points
    paper_accuracy: float | None


def paper_comparison(scenario: Scenario) -> PaperComparison:
    result = onn_area(scenario)
    paper = scenario.paper
    paper_ratio = paper.area_ratio if paper else None
    delta = None if paper_ratio is None else 100.0 * (result.ratio - paper_ratio)
    return PaperComparison(
        scenario.name, paper.table if paper else "", result.full_mzis, result.approx_mzis, result.ratio,
        paper_ratio, delta, paper.accuracy if paper else None,
    )


@dataclass(frozen=True)
class CascadeOverhead:
    scenario: str
    optinc_mzis: int  # one expanded OptINC
    base_optinc_mzis: int  # one basic OptINC of the reference (b8n4)
    overhead: float  # per OptINC, against the reference
    cascade_mzis: int  # all OptINCs of the cascade
    flat_scenario: str
    flat_mzis: int  # one flat OptINC for the same server count
    overhead_vs_flat: float
    paper_overhead: float | None


def cascade_overhead(cascade: Scenario, base: Scenario, flat: Scenario) -> CascadeOverhead:
    ours, ref, flat_area = onn_area(cascade), onn_area(base), onn_area(flat)
    total = ours.total_weight_mzis
    return CascadeOverhead(
        cascade.name, ours.approx_mzis, ref.approx_mzis, ours.approx_mzis / ref.approx_mzis - 1.0,
        total, flat.name, flat_area.approx_mzis, total / flat_area.approx_mzis - 1.0,
        cascade.paper.overhead if cascade.paper else None,
    )
