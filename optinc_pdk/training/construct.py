"""Exact ONN weights by construction: a staircase ReLU network already in the hardware's block form.

Why: every target of a plain (non-cascade) scenario is a function of one number, the averaged
gradient v = Σ_j 4^{jG} x_j (docs/conventions.md, Preprocessing): the outputs are the PAM4 digits of ⌊v⌋, and v lives on
a 1/N grid. Two ReLU units make one exact step of ⌊·⌋ between two grid points, so a network that
first forms v and then lays out the steps of ⌊v⌋ (in stages of a few digits, each stage working on
the remainder the previous one left) computes every output exactly, with a decision margin of half
a level. Gradient training of the larger scenarios on a CPU did not get there (weights/README.md).

The hardware form is respected layer by layer (docs/construction.md):
- an unconstrained layer may compute anything affine of the previous units;
- a block-approximated layer (diag(d)·Û blocks, Û orthogonal) can *carry* a few signals (its block
  rows are an orthonormal basis of the signals' span, shifted positive by a bias), or *expand* a
  signal that lives on a single unit into many steps (Û is a Householder reflection whose column of
  that unit spreads it over the rows that need it; the other inputs are identically zero).

`plan` searches how to place the stages on the scenario's layers; `construct` builds the weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from scipy.linalg import null_space

from optinc_pdk.core.weights import OnnWeights, provenance_record
from optinc_pdk.decompose.blocks import BlockLayout
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import Scenario

PAM4 = 4
RANK_TOL = 1e-9


@dataclass
class Signal:
    """An affine function vec·h + const of the current layer's units h, with its range [lo, hi] on the data.

    Ranges come from what the signal *is* (v, a digit, a remainder below 4^low), not from interval
    arithmetic over the units: that bound grows by orders of magnitude per layer and the positive
    shifts built on it would swamp the values in rounding.
    """

    vec: np.ndarray
    const: float = 0.0
    lo: float = 0.0
    hi: float = 0.0

    def __add__(self, other: Signal) -> Signal:
        return Signal(self.vec + other.vec, self.const + other.const)

    def scaled(self, factor: float) -> Signal:
        return Signal(factor * self.vec, factor * self.const)

    def shifted(self, delta: float) -> Signal:
        return Signal(self.vec, self.const + delta, self.lo + delta, self.hi + delta)

    def ranged(self, lo: float, hi: float) -> Signal:
        return Signal(self.vec, self.const, lo, hi)


@dataclass(frozen=True)
class Stage:
    """Lay out the steps of ⌊r / 4^low⌋ for ``digits`` digits of the remainder r, in layer ``layer``."""

    layer: int  # 1-based
    low: int  # least significant digit this stage decides
    digits: int

    @property
    def steps(self) -> int:
        return PAM4**self.digits - 1


@dataclass
class _State:
    """What the network has computed after the layers built so far."""

    unit_hi: np.ndarray  # largest value of every unit on the data (units are ReLU outputs, so ≥ 0)
    remainder: Signal | None  # the part of v whose digits are still to be decided (None: all decided)
    digits: dict[int, Signal] = field(default_factory=dict)  # decided digit position -> its signal

    def live(self) -> list[Signal]:
        return ([self.remainder] if self.remainder is not None else []) + list(self.digits.values())


def _units(remainder: Signal | None, digits: dict[int, Signal], stage: Stage | None, grid: float
           ) -> tuple[list[Signal], dict]:
    """The units a layer computes (each a row shifted to ≥ 0 on the data) and where the live signals go."""
    rows, where = [], {}
    for position, s in digits.items():
        where[position] = len(rows)
        rows.append(s.shifted(-s.lo))
    if stage is not None:
        # two units per step: ReLU(r − t + 3g/4), ReLU(r − t + g/4), t = j·4^low; the ramp sits a quarter
        # grid step from each grid point, so inputs off the grid by less than g/4 still decide
        where["steps"] = len(rows)
        for j in range(1, stage.steps + 1):
            t = j * PAM4**stage.low
            rows.append(remainder.shifted(-t + 0.75 * grid))
            rows.append(remainder.shifted(-t + 0.25 * grid))
    if remainder is not None and (stage is None or stage.low > 0):
        where["r"] = len(rows)
        rows.append(remainder.shifted(-remainder.lo))
    return rows, where


def _after(rows: list[Signal], where: dict, places: list[int], width: int, before: _State,
           stage: Stage | None, grid: float) -> _State:
    """The state once ``rows`` sit at output units ``places``."""
    def unit(index: int, lo: float, hi: float) -> Signal:
        vec = np.zeros(width)
        vec[places[index]] = 1.0
        return Signal(vec, lo, lo, hi)

    unit_hi = np.zeros(width)
    for row, place in zip(rows, places):
        unit_hi[place] = max(row.hi, 0.0)
    digits = {p: unit(where[p], s.lo, s.hi) for p, s in before.digits.items()}
    remainder = unit(where["r"], before.remainder.lo, before.remainder.hi) if "r" in where else None
    if stage is not None:
        first = where["steps"]
        steps = []
        for j in range(stage.steps):
            vec = np.zeros(width)
            vec[places[first + 2 * j]] = 2.0 / grid
            vec[places[first + 2 * j + 1]] = -2.0 / grid
            steps.append(Signal(vec))
        for i in range(stage.digits):
            total = Signal(np.zeros(width))
            for j, s in enumerate(steps, start=1):  # digit i of ⌊r/4^low⌋ changes by this much at step j
                change = (j // PAM4**i) % PAM4 - ((j - 1) // PAM4**i) % PAM4
                if change:
                    total = total + s.scaled(float(change))
            digits[stage.low + i] = total.ranged(0.0, PAM4 - 1.0)
        if stage.low > 0:
            removed = Signal(np.zeros(width))
            for s in steps:
                removed = removed + s.scaled(float(PAM4**stage.low))
            remainder = (remainder + removed.scaled(-1.0)).ranged(0.0, float(PAM4**stage.low))
    return _State(unit_hi, remainder, digits)


class _Builder:
    def __init__(self, scenario: Scenario, grid: float):
        self.scenario = scenario
        self.grid = grid
        self.layers: list[tuple[np.ndarray, np.ndarray]] = []
        x_max = PAM4**scenario.group - 1
        n_in = scenario.widths[0]
        place = (PAM4 ** (scenario.group * np.arange(n_in))).astype(np.float64)
        v = Signal(place, 0.0, 0.0, float(x_max * place.sum()))
        self.state = _State(np.full(n_in, float(x_max)), v)

    def _shape(self, number: int) -> tuple[int, int]:
        return self.scenario.layer_shapes()[number - 1]

    # -- unconstrained layers: any affine rows ---------------------------------------------------
    def dense(self, number: int, stage: Stage | None) -> None:
        out_dim, in_dim = self._shape(number)
        st = self.state
        rows, where = _units(st.remainder, st.digits, stage, self.grid)
        if len(rows) > out_dim:
            raise OptincError(f"construction: layer {number} needs {len(rows)} units, has {out_dim}")
        weight, bias = np.zeros((out_dim, in_dim)), np.zeros(out_dim)
        for i, r in enumerate(rows):
            weight[i], bias[i] = r.vec, r.const
        self.layers.append((weight, bias))
        self.state = _after(rows, where, list(range(len(rows))), out_dim, st, stage, self.grid)

    # -- block-approximated layers ----------------------------------------------------------------
    def carry(self, number: int) -> None:
        """Each block's rows: an orthonormal basis of the live signals' span on that block's inputs."""
        out_dim, in_dim = self._shape(number)
        layout = BlockLayout.of(out_dim, in_dim)
        k, st = layout.k, self.state
        signals = st.live()
        live = np.array([s.vec for s in signals])
        unitary = np.repeat(np.eye(k)[None], layout.n_blocks, axis=0)
        d = np.zeros((layout.n_blocks, k))
        bias, unit_hi = np.zeros(out_dim), np.zeros(out_dim)
        carried = []  # (basis on the full input, offset, output rows)
        next_row = 0
        wide = layout.orientation == "wide"
        for b in (range(layout.n_blocks) if wide else [0]):
            cols = slice(b * k, min((b + 1) * k, in_dim)) if wide else slice(0, in_dim)
            part = np.zeros((len(live), k))
            part[:, : cols.stop - cols.start] = live[:, cols]
            _, sv, vh = np.linalg.svd(part)
            rank = int((sv > RANK_TOL * max(sv.max(initial=0.0), 1.0)).sum())
            if rank == 0:
                continue
            basis = vh[:rank]
            # wide: blocks add into the same outputs, so each block gets rows of its own;
            # tall/square: block 0 sees the whole input and its first rows carry everything
            local = np.arange(next_row, next_row + rank)
            if local[-1] >= min(k, out_dim):
                raise OptincError(f"construction: layer {number} cannot carry {len(live)} signals in {k} rows")
            unitary[b] = _orthogonal_with_rows(basis, local, k)
            d[b, local] = 1.0
            full = np.zeros((rank, in_dim))
            full[:, cols] = basis[:, : cols.stop - cols.start]
            # range of basis·h from the signals' ranges: basis·h = Σ_i c_i (s_i − const_i)
            coef = np.linalg.lstsq(part.T, basis.T, rcond=None)[0].T  # (rank, n_signals)
            lo_s = np.array([s.lo - s.const for s in signals])
            hi_s = np.array([s.hi - s.const for s in signals])
            lo = np.minimum(coef * lo_s, coef * hi_s).sum(axis=1)
            hi = np.maximum(coef * lo_s, coef * hi_s).sum(axis=1)
            bias[local] = -lo  # every carried value shifted to ≥ 0, so the ReLU passes it unchanged
            unit_hi[local] = hi - lo
            carried.append((full, -lo, local))
            next_row += rank

        def rebase(s: Signal) -> Signal:
            """s = Σ_parts (basis·s.vec)·(y − offset) + s.const, since s.vec lies in the carried span."""
            vec, const = np.zeros(out_dim), s.const
            for full, offset, local in carried:
                coef = full @ s.vec
                vec[local] += coef
                const -= float(coef @ offset)
            return Signal(vec, const, s.lo, s.hi)

        self.layers.append((layout.join(d[:, :, None] * unitary), bias))
        remainder = None if st.remainder is None else rebase(st.remainder)
        self.state = _State(unit_hi, remainder, {p: rebase(s) for p, s in st.digits.items()})

    def expand(self, number: int, stage: Stage) -> None:
        """Steps of a remainder that lives on one unit while every other input is identically zero."""
        out_dim, in_dim = self._shape(number)
        layout = BlockLayout.of(out_dim, in_dim)
        k, st = layout.k, self.state
        (unit,) = np.flatnonzero(st.remainder.vec)
        others = np.delete(st.unit_hi, unit)
        if st.digits or others.any():
            raise OptincError(f"construction: layer {number} can only expand a signal that is alone on its input")
        scale = float(st.remainder.vec[unit])
        rows, where = _units(st.remainder, {}, stage, self.grid)
        unitary = np.repeat(np.eye(k)[None], layout.n_blocks, axis=0)
        d = np.zeros((layout.n_blocks, k))
        bias = np.zeros(out_dim)
        if layout.orientation == "wide":  # only the block of that input's chunk sees it
            blocks, column = [(unit // k, min(k, out_dim))], unit % k
        else:  # every block sees the whole input
            blocks, column = [(b, min(k, out_dim - b * k)) for b in range(layout.n_blocks)], unit
        places, placed = [], 0
        for b, capacity in blocks:
            take = min(capacity, len(rows) - placed)
            if take <= 0:
                break
            local = np.arange(take)
            # Householder: column `column` becomes 1/√take on these rows; other columns meet zero inputs
            unitary[b] = _householder(column, local, k)
            d[b, local] = scale * np.sqrt(take)
            first_out = 0 if layout.orientation == "wide" else b * k
            for i in range(take):
                bias[first_out + i] = rows[placed + i].const
                places.append(first_out + i)
            placed += take
        if placed < len(rows):
            raise OptincError(f"construction: layer {number} has room for {placed} of {len(rows)} units")
        self.layers.append((layout.join(d[:, :, None] * unitary), bias))
        self.state = _after(rows, where, places, out_dim, st, stage, self.grid)

    def output(self, number: int) -> None:
        out_dim, in_dim = self._shape(number)
        weight, bias = np.zeros((out_dim, in_dim)), np.zeros(out_dim)
        for position in range(out_dim):
            s = self.state.digits[position]
            weight[position], bias[position] = s.vec, s.const
        self.layers.append((weight, bias))


def _orthogonal_with_rows(basis: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """A k×k orthogonal matrix whose rows ``rows`` are the orthonormal ``basis`` rows."""
    rest = null_space(basis).T  # (k − rank) × k, orthonormal and orthogonal to the basis
    out = np.empty((k, k))
    others = np.setdiff1d(np.arange(k), rows)
    out[rows] = basis
    out[others] = rest
    return out


def _householder(column: int, rows: np.ndarray, k: int) -> np.ndarray:
    """Orthogonal k×k reflection whose column ``column`` is 1/√m on ``rows`` (m of them), 0 elsewhere."""
    target = np.zeros(k)
    target[rows] = 1.0 / np.sqrt(len(rows))
    e = np.zeros(k)
    e[column] = 1.0
    v = e - target
    if np.allclose(v, 0.0):
        return np.eye(k)
    return np.eye(k) - 2.0 * np.outer(v, v) / (v @ v)


# -- planning -----------------------------------------------------------------------------------

def plan(scenario: Scenario) -> list[Stage]:
    """Stages placed on layers so that every digit is decided; raises if the scenario has no such plan."""
    if scenario.cascade is not None:
        raise OptincError(f"{scenario.name}: construction covers plain OptINCs; a cascade level is trained")
    n_layers = len(scenario.layer_shapes())
    if n_layers in scenario.approx_layers:
        raise OptincError(f"{scenario.name}: construction needs an unconstrained output layer "
                          f"(layer {n_layers} is block-approximated)")
    shapes = scenario.layer_shapes()
    approx = set(scenario.approx_layers)
    total = scenario.bits // 2

    @cache
    def search(layer: int, remaining: int, one_unit: bool) -> tuple[Stage, ...] | None:
        """one_unit: v's remainder lives on a single unit and every other unit is zero."""
        if layer == n_layers:
            return () if remaining == 0 else None
        out_dim, in_dim = shapes[layer - 1]
        decided = total - remaining
        for m in range(remaining, 0, -1):  # most digits first: fewer stages
            stage = Stage(layer, remaining - m, m)
            units = 2 * stage.steps + (1 if stage.low > 0 else 0)
            fits = units + decided <= out_dim if layer not in approx else one_unit and units <= out_dim
            if fits:
                rest = search(layer + 1, stage.low, False)
                if rest is not None:
                    return (stage,) + rest
        if remaining == 0 or decided + 1 <= min(out_dim, in_dim):  # carry (or pass) what is live
            return search(layer + 1, remaining, one_unit and decided == 0)
        return None

    found = search(1, total, True)
    if found is None:
        raise OptincError(f"{scenario.name}: no staircase construction fits widths {scenario.widths} "
                          f"with layers {scenario.approx_layers} block-approximated")
    return list(found)


def single_digit_offset(servers: int) -> float:
    """The bias of the one-layer 2-bit network ``x − offset``: (N − 1)/(2N) centres the N grid values
    k, k + 1/N, …, k + (N − 1)/N of each target digit k on the level k, a decision margin of 1/(2N)."""
    return (servers - 1) / (2 * servers)


def single_digit_linear(scenario: Scenario) -> OnnWeights:
    """A 2-bit scenario whose ONN is one 1×1 layer: its one output, ⌊x⌋ for x on a 1/N grid in [0, 3], is
    decided correctly by the straight line x − (N − 1)/(2N) (rounding, clipped to 0..3), so no step is
    needed: one weight 1 and one bias. The margin is 1/(2N) of a level (a staircase has 1/2 but needs
    hidden units: 2 per step, 3 steps)."""
    weight, bias = np.ones((1, 1)), np.array([-single_digit_offset(scenario.servers)])
    provenance = provenance_record(scenario, method="construction", environment=False,
                                   stages=[{"layer": 1, "linear": "x - (N - 1)/(2N)", "digits": [0]}])
    return OnnWeights((weight,), (bias,), provenance)


def is_single_digit_linear(scenario: Scenario) -> bool:
    """2-bit gradients through a single 1×1 layer (the demonstrator, circuits/demo.yml)."""
    return scenario.cascade is None and scenario.bits == 2 and scenario.widths == [1, 1]


def construct(scenario: Scenario) -> OnnWeights:
    """Weights that compute every output exactly, every approximated layer exactly block diag×orthogonal."""
    if is_single_digit_linear(scenario):
        return single_digit_linear(scenario)
    stages = {s.layer: s for s in plan(scenario)}
    grid = 1.0 / scenario.servers
    builder = _Builder(scenario, grid)
    n_layers = len(scenario.layer_shapes())
    for number in range(1, n_layers):
        stage = stages.get(number)
        if number not in scenario.approx_layers:
            builder.dense(number, stage)
        elif stage is not None:
            builder.expand(number, stage)
        else:
            builder.carry(number)
    builder.output(n_layers)
    weights = tuple(w for w, _ in builder.layers)
    biases = tuple(b for _, b in builder.layers)
    stages_record = [{"layer": s.layer, "digits": list(range(s.low, s.low + s.digits))} for s in stages.values()]
    provenance = provenance_record(scenario, method="construction", environment=False, stages=stages_record)
    return OnnWeights(weights, biases, provenance)


def constructed_weights(scenario: Scenario) -> tuple[OnnWeights, dict]:
    """construct() plus its evaluation on the whole exhaustive dataset, recorded in the provenance."""
    from optinc_pdk.core.datasets import exhaustive_dataset
    from optinc_pdk.training.evaluate import evaluate

    started = time.perf_counter()
    weights = construct(scenario)
    built = time.perf_counter() - started
    data = exhaustive_dataset(scenario)
    report = evaluate(weights, scenario, data)
    provenance = provenance_record(
        scenario, method="construction", accuracy=report["accuracy"], data=data,
        wall_s=time.perf_counter() - started, based_on=weights.provenance, epochs=0,
        max_block_unitarity_error=report["max_block_unitarity_error"],
        max_abs_output_error=report["max_abs_output_error"], construction_s=round(built, 3),
        see="docs/construction.md",
    )
    return OnnWeights(weights.weights, weights.biases, provenance), report
