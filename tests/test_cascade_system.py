"""The cascade as a system (issue 8): description wiring, simulation against the ideal two-level MLP,
area, CLI, and the level-1 link / level-2 noise datasets. Random weights keep this fast; the shipped
weights are checked end to end in test_cascade_shipped.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from optinc_pdk.analysis.cascade_area import cascade_area
from optinc_pdk.circuit.cascade import build_cascade_description, cascade_input_channels, level1_name
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.circuit.summary import cascade_counts
from optinc_pdk.cli.main import app
from optinc_pdk.core import area
from optinc_pdk.core.datasets import exhaustive_dataset, with_level1_errors
from optinc_pdk.core.topology import input_channels
from optinc_pdk.errors import OptincError
from optinc_pdk.simulate.cascade import end_to_end, ideal_cascade, stratified_group_inputs
from optinc_pdk.simulate.chain import compile_chain
from optinc_pdk.spec.scenario import load_scenario, scenario_from_dict


@pytest.fixture(scope="module")
def cascade():
    s = load_scenario("cascade16")
    w1, w2 = random_weights(s.level_scenario(1), 11), random_weights(s.level_scenario(2), 12)
    return s, w1, w2, build_cascade_description(s, w1, w2)


def test_five_optincs_wired_as_fig5(cascade):
    s, _, _, d = cascade
    top = d.top
    assert [c.name for c in top.children] == [level1_name(q) for q in range(4)] + ["level2", "broadcast"]
    assert (top.n_in, top.n_out) == (64, 64)
    names = [b.name for b in d.walk()]
    assert len(names) == len(set(names))  # every block addressable by name
    # server s digit k enters level-1 OptINC s // 4 where its local server s % 4 sends digit k
    channels = d.server_input_channels()
    local = input_channels(4, 4, 4)
    for server in range(16):
        for digit in range(4):
            child, port = top.inputs[channels[server, digit]]
            assert (child, port) == (server // 4, local[server % 4, digit])
    # level-1 OptINC q's output k feeds level 2 where its "server" q's digit k would; no receiver between
    for q in range(4):
        rows = top.links[top.links[:, 0] == q]
        assert rows[:, 2].tolist() == [4] * 4
        assert rows[:, 3].tolist() == local[q].tolist()
    assert sorted(set(cascade_input_channels(4, 4, 4).ravel().tolist())) == list(range(64))


def test_level1_optincs_share_level1_phases(cascade):
    _, _, _, d = cascade
    theta = [d.block(f"{level1_name(q)}/L4/B0/U").theta for q in range(4)]
    assert all(np.array_equal(theta[0], t) for t in theta)
    assert np.array_equal(theta[0], d.level1.block("L4/B0/U").theta)
    assert not np.array_equal(theta[0], d.block("level2/L4/B0/U").theta)


def test_optics_equal_the_ideal_two_level_mlp(cascade):
    s, w1, w2, d = cascade
    chain = compile_chain(d)
    result = end_to_end(chain, w1, w2, samples=600, seed=5)
    assert result["samples"] == 600 and result["servers"] == 16
    assert result["decisions_differing_from_model"] == 0
    # level 2's bias light is set for the attenuated field level 1 delivers
    assert d.level2.averager_gain == pytest.approx(d.level1.layers[-1].output_gain * 2.0)
    assert d.receiver_gain == pytest.approx(4.0 / d.level2.layers[-1].output_gain)


def test_ideal_cascade_is_the_floor_average_when_both_levels_are_exact():
    """Two exact 'networks' (lookup by rounding) in ideal_cascade give the exact 16-server floor average."""

    class Exact:
        def __init__(self, fn):
            self.forward = fn

    digits = np.random.default_rng(0).integers(0, 4, (16, 2000, 4))

    def level1(x):  # x = per-digit sums / 4: outputs digits of the group mean, LSB keeps the decimal
        mean = x @ (4.0 ** np.arange(4))
        high = np.floor(mean / 4)
        return np.column_stack([mean - 4 * high, *((high[:, None] // 4 ** np.arange(3)) % 4).T])

    def level2(x):
        total = np.floor(x @ (4.0 ** np.arange(4)) + 1e-9)
        return (total[:, None] // 4 ** np.arange(4)) % 4

    codes = ideal_cascade(Exact(level1), Exact(level2), digits, 4)
    values = (digits << (2 * np.arange(4))).sum(axis=2)
    exact = values.sum(axis=0) // 16
    assert np.array_equal(codes @ (4 ** np.arange(4)), exact)


def test_stratified_sample_covers_every_level1_input_at_every_position():
    index = stratified_group_inputs(28561, 4, 2 * 28561, seed=1)
    for q in range(4):
        assert np.array_equal(np.bincount(index[:, q], minlength=28561), np.full(28561, 2))


def test_area_counts_match_the_analytic_report(cascade):
    s, _, _, d = cascade
    counts = cascade_counts(d)
    assert counts["matches_area_report"]
    overhead = area.cascade_overhead(s, load_scenario("b8n4"), load_scenario("b8n16"))
    assert counts["weight_matrix_mzis"] == overhead.cascade_mzis == 5 * overhead.optinc_mzis
    a = cascade_area(s, {"cascade16": 10.0, "b8n4": 1.0, "b8n16": 4.0})
    assert a["overhead_vs_5x_b8n4"] == pytest.approx(overhead.optinc_mzis / overhead.base_optinc_mzis - 1)
    assert a["footprint_vs_5x_b8n4"] == pytest.approx(1.0) and a["footprint_vs_flat"] == pytest.approx(1.5)


def test_link_tolerance_is_checked_against_the_level2_grid():
    base = load_scenario("cascade16").model_dump()
    base["cascade"]["link_tolerance"] = [0.04, 0.1, 0.1, 0.1]  # LSB: half of 1/16 is 0.03125
    with pytest.raises(OptincError, match=r"cascade\.link_tolerance\[0\].*0\.03125"):
        scenario_from_dict(base, "c.yml")
    base["cascade"]["link_tolerance"] = [0.02, 0.1]
    with pytest.raises(OptincError, match="one value per output digit"):
        scenario_from_dict(base, "c.yml")


def test_level1_outputs_must_stay_within_the_link_tolerance():
    s = load_scenario("cascade16")
    data = exhaustive_dataset(s, 1)
    targets = data.targets(slice(0, 3), dtype=np.float64)
    tol = np.asarray(s.cascade.link_tolerance)
    inside = targets + 0.9 * tol
    outside = targets.copy()
    outside[1, 0] += 1.1 * tol[0]  # still decided correctly (1/8 on the 1/4 grid) but off the link box
    assert data.within_tolerance(inside, slice(0, 3)).all()
    assert data.within_tolerance(outside, slice(0, 3)).tolist() == [True, False, True]
    assert data.correct(outside, slice(0, 3)).all()


def test_level2_noisy_variants_add_means_of_real_level1_errors():
    s = load_scenario("cascade16")
    first, second = exhaustive_dataset(s, 1), exhaustive_dataset(s, 2)
    errors = np.random.default_rng(2).uniform(-0.01, 0.01, (first.size, 4))
    noisy = with_level1_errors(second, first, first.targets(dtype=np.float64) + errors, 4)
    assert list(noisy.variants()) == [0, 1, 2, 3, 4]
    window = slice(100, 400)
    exact = noisy.variant_inputs(0, window, np.float64)
    shifted = noisy.variant_inputs(3, window, np.float64) - exact
    assert np.abs(shifted).max() <= 0.01 and np.abs(shifted).max() > 0
    # the same variant of the same sample is the same whatever the batch
    again = noisy.variant_inputs(3, slice(0, 1000), np.float64)[100:400] - exact
    assert np.allclose(again, shifted)
    # noise_gain scales every error: the same draws, 1.5 times as far
    louder = with_level1_errors(second, first, first.targets(dtype=np.float64) + errors, 4, gain=1.5)
    assert np.allclose(louder.variant_inputs(3, window, np.float64) - exact, 1.5 * shifted)
    from optinc_pdk.training.recipe import recipe_for

    assert recipe_for(s, 2).noise_gain >= 1.0 and recipe_for(s, 1).noise_gain == 1.0


def test_cli_simulate_and_allreduce_with_random_weights(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", "cascade16", "--random-weights", "3", "--samples", "300", "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 1  # random weights: not an all-reduce
    assert report["optical_equals_model"] and report["layers_within_tolerance"]
    assert report["samples"] == 300 and report["link"]["level1_inputs"] == 28561
    gradients = np.random.default_rng(0).integers(0, 256, (16, 50))
    np.save(tmp_path / "g.npy", gradients)
    out = tmp_path / "o.npy"
    result = runner.invoke(app, ["allreduce", "cascade16", "--input", str(tmp_path / "g.npy"), "--output", str(out),
                                 "--random-weights", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert np.load(out).shape == (16, 50)
    np.save(tmp_path / "bad.npy", gradients[:4])
    result = runner.invoke(app, ["allreduce", "cascade16", "--input", str(tmp_path / "bad.npy"), "--output",
                                 str(tmp_path / "x.npy"), "--random-weights", "3"])
    assert isinstance(result.exception, OptincError) and "serves 16 servers" in str(result.exception)
    assert not (tmp_path / "x.npy").exists()


def test_build_cascade_writes_layout_exports_and_report(tmp_path):
    from optinc_pdk.flows.build import BuildRequest, build

    s = load_scenario("cascade16")
    result = build(BuildRequest(scenario=s, out_dir=tmp_path / "out", random_seed=1, formats=("oas",), png=False, samples=200))
    r = result.report
    assert result.verified is False  # random weights
    assert r["layout"]["mzis"] == r["layout"]["expected_mzis"] == r["description"]["totals"]["mzis"]
    assert r["description"]["matches_area_report"]
    assert r["area"]["overhead_per_optinc"] == pytest.approx(45824 / 41664 - 1)
    for level in ("level1", "level2"):
        assert (tmp_path / "out" / level / "phases.npz").is_file()
    text = (tmp_path / "out" / "report.md").read_text()
    assert "RANDOM WEIGHTS" in text and "Overhead of the expanded structure: **10.0%**" in text
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["weight_matrix_mzis"] == 5 * 45824
    # issue 28: the cascade's link budget, its stages whole OptINCs; the design loss is the receiver gain's
    budget = r["link_budget"]
    assert [row["stage"] for row in budget["gain_chain"]] == [f"level1.{q}" for q in range(4)] + ["level2", "broadcast"]
    assert budget["design_db"] == pytest.approx(20 * np.log10(r["verification"]["receiver_gain"]))
    assert budget["gain_chain"][-1]["design_db"] == pytest.approx(budget["design_db"])
    assert "Laser power per server" in text and "| level2 |" in text
