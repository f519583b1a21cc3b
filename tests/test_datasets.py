"""Exhaustive datasets: sizes from docs/conventions.md's formulas, every row once, targets against brute force.

Rows are checked in both directions: a dataset row is realised as actual server gradients whose
floor-mean digits must equal the row's target, and random server gradients must land on a row
whose target is the digits of their floor mean. Brute force uses plain Python ints and Fractions.
Each dataset is built once per module (b16n4 has 13.8M rows).
"""

from __future__ import annotations

from fractions import Fraction
from math import floor

import numpy as np
import pytest

from optinc_pdk.core import signals
from optinc_pdk.core.datasets import cascade_level2_dataset, dataset_size, exhaustive_dataset
from optinc_pdk.errors import OptincError
from optinc_pdk.spec.scenario import load_scenario

M = 4  # ONN inputs of every shipped scenario

# docs/conventions.md, Preprocessing: ((4^G - 1) N + 1)^M samples
DESIGN_SIZES = {"b8n4": 28_561, "b8n8": 390_625, "b8n16": 5_764_801, "b16n4": 13_845_841}
PLAIN = {"b8n4": (8, 4), "b8n8": (8, 8), "b8n16": (8, 16), "b16n4": (16, 4)}  # bits, servers
SMALL = ["b8n4", "b8n8"]
LARGE = ["b8n16", "b16n4"]

PER_OPTINC = 4  # cascade16: four 4-server level-1 OptINCs, one level-2 OptINC


def formula_size(bits: int, servers: int) -> int:
    group = bits // (2 * M)
    return ((4**group - 1) * servers + 1) ** M


# --- brute force -------------------------------------------------------------------------


def bf_digits(value: int, n_digits: int) -> list[int]:
    return [(value // 4**k) % 4 for k in range(n_digits)]


def bf_group_sums(gradients: list[int], bits: int) -> list[int]:
    """Σ over servers of Σ_{t<G} 4^t d_{jG+t}: what the averager's input j sums."""
    group = bits // (2 * M)
    sums = [0] * M
    for g in gradients:
        d = bf_digits(g, bits // 2)
        for j in range(M):
            sums[j] += sum(4**t * d[j * group + t] for t in range(group))
    return sums


def realise(sums: list[int], servers: int, bits: int) -> list[int]:
    """Server gradients whose averager sums are ``sums`` (fill servers in turn, each group <= 4^G - 1)."""
    group = bits // (2 * M)
    cap = 4**group - 1
    values = [[0] * M for _ in range(servers)]
    for j, total in enumerate(sums):
        for i in range(servers):
            values[i][j] = min(total, cap)
            total -= values[i][j]
        assert total == 0, "row is not reachable by any server gradients"
    return [sum(4 ** (j * group) * v[j] for j in range(M)) for v in values]


def bf_level1(gradients: list[int], bits: int) -> list[Fraction]:
    """Eq. 10 outputs: digits of the group mean, LSB = mean mod 4 (decimal part kept)."""
    mean = Fraction(sum(gradients), len(gradients))
    outputs = [Fraction(d) for d in bf_digits(floor(mean), bits // 2)]
    outputs[0] = mean % 4
    return outputs


# --- row lookup independent of the enumeration order ---------------------------------------


def row_keys(numerators: np.ndarray, radices: list[int], scales: list[int]) -> np.ndarray:
    """Mixed-radix key of each row: a bijection onto 0..K-1 exactly when the rows are the full grid."""
    keys = np.zeros(numerators.shape[0], dtype=np.int64)
    stride = 1
    for j, (radix, scale) in enumerate(zip(radices, scales)):
        keys += (numerators[:, j].astype(np.int64) // scale) * stride
        stride *= radix
    return keys


def key_of(values: list[int], radices: list[int]) -> int:
    key, stride = 0, 1
    for value, radix in zip(values, radices):
        assert 0 <= value < radix
        key += value * stride
        stride *= radix
    return key


class Indexed:
    """A dataset with its grid description and a key -> row table."""

    def __init__(self, dataset, radices: list[int], scales: list[int]):
        self.dataset = dataset
        self.radices = radices
        self.scales = scales
        self.keys = row_keys(dataset.numerators, radices, scales)
        self.row_of = np.full(int(np.prod(radices)), -1, dtype=np.int64)
        self.row_of[self.keys] = np.arange(dataset.size)

    def row(self, values: list[int]) -> int:
        return int(self.row_of[key_of(values, self.radices)])


@pytest.fixture(scope="module")
def indexed():
    """Build each dataset once for the whole module (the large ones take about a second)."""
    cache: dict[tuple[str, int | None], Indexed] = {}

    def get(name: str, level: int | None = None) -> Indexed:
        if (name, level) not in cache:
            dataset = exhaustive_dataset(load_scenario(name), level)
            if level is None:
                bits, servers = PLAIN[name]
                radices, scales = [(4 ** (bits // (2 * M)) - 1) * servers + 1] * M, [1] * M
            elif level == 1:
                radices, scales = [3 * PER_OPTINC + 1] * M, [1] * M
            else:  # Σ_q N·o_{q,0} in 0..(4N-1)N, Σ_q o_{q,j} in 0..3N stored as N·Σ
                radices = [(4 * PER_OPTINC - 1) * PER_OPTINC + 1] + [3 * PER_OPTINC + 1] * (M - 1)
                scales = [1] + [PER_OPTINC] * (M - 1)
            cache[(name, level)] = Indexed(dataset, radices, scales)
        return cache[(name, level)]

    yield get
    cache.clear()


# --- sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DESIGN_SIZES))
def test_formula_reproduces_design_sizes(name):
    assert formula_size(*PLAIN[name]) == DESIGN_SIZES[name]


@pytest.mark.parametrize("name", [*DESIGN_SIZES, *(f"{n}_full" for n in DESIGN_SIZES)])
def test_dataset_size_from_scenario(name):
    base = name.removesuffix("_full")
    assert dataset_size(load_scenario(name)) == formula_size(*PLAIN[base])


def test_cascade_dataset_sizes():
    cascade = load_scenario("cascade16")
    assert dataset_size(cascade, 1) == 13**4
    assert dataset_size(cascade, 2) == 61 * 13**3


@pytest.mark.parametrize("name", [*SMALL, *LARGE])
def test_plain_dataset_is_the_full_grid_once(indexed, name):
    bits, servers = PLAIN[name]
    item = indexed(name)
    ds = item.dataset
    assert ds.size == DESIGN_SIZES[name]
    assert ds.numerators.shape == (ds.size, M) and ds.codes.shape == (ds.size, bits // 2)
    assert ds.divisor == servers and ds.group == bits // (2 * M)
    assert np.array_equal(ds.output_step, np.ones(bits // 2))
    assert ds.numerators.min() == 0 and ds.numerators.max() == item.radices[0] - 1
    assert np.all(item.row_of >= 0)  # every grid point has a row; with size == K, each exactly once


# --- plain targets -------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*SMALL, *LARGE])
def test_every_plain_target_is_floor_mean_digits(indexed, name):
    """All rows, vectorised but independent of the module: avg = Σ_j 4^{jG} s_j // N, digits by // and %."""
    bits, servers = PLAIN[name]
    ds = indexed(name).dataset
    group = bits // (2 * M)
    total = sum(ds.numerators[:, j].astype(np.int64) * 4 ** (j * group) for j in range(M))
    avg = total // servers
    for k in range(bits // 2):
        assert np.array_equal(ds.codes[:, k], (avg // 4**k) % 4), f"digit {k}"


@pytest.mark.parametrize("name,count", [("b8n4", 2000), ("b8n8", 2000), ("b8n16", 1000), ("b16n4", 1000)])
def test_random_rows_realised_as_gradients(indexed, name, count):
    bits, servers = PLAIN[name]
    ds = indexed(name).dataset
    rows = np.random.default_rng(len(name) + servers).choice(ds.size, size=count, replace=False)
    for row in rows:
        sums = [int(v) for v in ds.numerators[row]]
        gradients = realise(sums, servers, bits)
        assert bf_group_sums(gradients, bits) == sums
        mean = Fraction(sum(gradients), servers)
        assert ds.codes[row].tolist() == bf_digits(floor(mean), bits // 2)
        assert ds.targets(row).tolist() == bf_digits(floor(mean), bits // 2)
    # the module's own averager maps the last realised gradients onto the same inputs
    x = signals.preprocess(signals.pam4_encode(np.array(gradients), bits), M)
    assert x.tolist() == pytest.approx(ds.inputs(row, dtype=np.float64).tolist(), abs=1e-12)


@pytest.mark.parametrize("name", [*SMALL, *LARGE])
def test_random_gradients_land_on_rows_with_floor_mean_targets(indexed, name):
    bits, servers = PLAIN[name]
    item = indexed(name)
    rng = np.random.default_rng(7 * servers + bits)
    batch = rng.integers(0, 2**bits, size=(500, servers)).tolist()
    batch.append([2**bits - 1] * servers)
    batch.append([0] * servers)
    for gradients in batch:
        row = item.row(bf_group_sums(gradients, bits))
        assert item.dataset.codes[row].tolist() == bf_digits(sum(gradients) // servers, bits // 2)


# --- cascade level 1 (eq. 10) --------------------------------------------------------------


def test_level1_grid_and_lsb_on_quarter_grid(indexed):
    item = indexed("cascade16", 1)
    ds = item.dataset
    assert ds.size == 13**4 and np.all(item.row_of >= 0)
    assert ds.divisor == PER_OPTINC
    assert ds.output_step.tolist() == [1 / PER_OPTINC, 1.0, 1.0, 1.0]
    assert ds.output_top.tolist() == [4 - 1 / PER_OPTINC, 3.0, 3.0, 3.0]
    assert ds.codes[:, 0].max() == 4 * PER_OPTINC - 1


def test_level1_random_rows_against_brute_force(indexed):
    ds = indexed("cascade16", 1).dataset
    rows = np.random.default_rng(11).choice(ds.size, size=2000, replace=False)
    for row in rows:
        gradients = realise([int(v) for v in ds.numerators[row]], PER_OPTINC, 8)
        expected = bf_level1(gradients, 8)
        got = [Fraction(int(c)) * Fraction(step) for c, step in zip(ds.codes[row], ds.output_step)]
        assert got == expected
        assert got[0] == Fraction(sum(gradients), PER_OPTINC) % 4
    assert ds.targets(row, dtype=np.float64).tolist() == signals.level1_outputs(np.array(gradients), 8).tolist()


def test_level1_random_gradients_land_on_rows(indexed):
    item = indexed("cascade16", 1)
    rng = np.random.default_rng(12)
    for gradients in rng.integers(0, 256, size=(500, PER_OPTINC)).tolist():
        row = item.row(bf_group_sums(gradients, 8))
        ds = item.dataset
        got = [Fraction(int(c)) * Fraction(step) for c, step in zip(ds.codes[row], ds.output_step)]
        assert got == bf_level1(gradients, 8)


# --- cascade level 2 -----------------------------------------------------------------------


def test_level2_grid(indexed):
    item = indexed("cascade16", 2)
    ds = item.dataset
    assert ds.size == 61 * 13**3 and np.all(item.row_of >= 0)
    assert ds.divisor == PER_OPTINC**2
    assert np.all(ds.numerators[:, 1:] % PER_OPTINC == 0)  # digits 1..3 are means of whole levels


def test_level2_random_rows_against_brute_force(indexed):
    ds = indexed("cascade16", 2).dataset
    rows = np.random.default_rng(13).choice(ds.size, size=2000, replace=False)
    for row in rows:
        mean = sum(Fraction(4**j * int(ds.numerators[row, j]), ds.divisor) for j in range(M))
        assert ds.codes[row].tolist() == bf_digits(floor(mean), 4)


def test_sixteen_server_gradients_map_to_level2_rows_with_floor_mean_targets(indexed):
    item = indexed("cascade16", 2)
    rng = np.random.default_rng(14)
    batch = rng.integers(0, 256, size=(400, PER_OPTINC**2)).tolist()
    batch.append([255] * 16)
    batch.append([2, 2, 2, 1] + [1, 1, 1, 0] * 3)  # eq. 9 would lose a unit here
    for gradients in batch:
        level1 = [bf_level1(gradients[q * PER_OPTINC:(q + 1) * PER_OPTINC], 8) for q in range(PER_OPTINC)]
        lsb = sum(PER_OPTINC * o[0] for o in level1)  # Σ_q N·o_{q,0}: an integer
        digit_sums = [sum(o[j] for o in level1) for j in range(1, M)]
        assert lsb.denominator == 1 and all(v.denominator == 1 for v in digit_sums)
        row = item.row([int(lsb), *map(int, digit_sums)])
        assert item.dataset.codes[row].tolist() == bf_digits(sum(gradients) // 16, 4)
        # the module's level-1 -> level-2 path produces exactly this row's inputs
        g = np.array(gradients)[:, None]
        outs = np.stack([signals.level1_outputs(g[q * PER_OPTINC:(q + 1) * PER_OPTINC], 8) for q in range(PER_OPTINC)])
        assert signals.level2_inputs(outs, M)[0].tolist() == item.dataset.inputs(row, dtype=np.float64).tolist()


# --- decisions and dispatch ----------------------------------------------------------------


def test_exact_targets_decide_correctly_and_half_step_errors_do_not(indexed):
    for name, level in [("b8n4", None), ("cascade16", 1), ("cascade16", 2)]:
        ds = indexed(name, level).dataset
        targets = ds.targets(dtype=np.float64)
        assert ds.correct(targets).all()
        assert ds.correct(targets + 0.45 * ds.output_step).all()
        # push output 0 by 0.55 of a step towards the inside of its range: every sample is wrong
        direction = np.where(ds.codes[:, 0] > 0, -1.0, 1.0)
        pushed = targets.copy()
        pushed[:, 0] += direction * 0.55 * ds.output_step[0]
        assert not ds.correct(pushed).any()


def test_reconstructed_gradient_from_targets():
    ds = exhaustive_dataset(load_scenario("b8n4"))
    total = ds.numerators.astype(np.int64) @ (4 ** np.arange(M))
    assert np.array_equal(ds.gradient_values(ds.targets(dtype=np.float64)), total // ds.divisor)


def test_dispatch_errors():
    with pytest.raises(OptincError, match="not a cascade"):
        exhaustive_dataset(load_scenario("b8n4"), level=1)
    for level in (None, 3):
        with pytest.raises(OptincError, match="level 1 and level 2"):
            exhaustive_dataset(load_scenario("cascade16"), level=level)
    with pytest.raises(OptincError, match="one PAM4 digit per ONN input"):
        cascade_level2_dataset(16, 4, 4)
