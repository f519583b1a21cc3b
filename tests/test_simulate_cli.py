"""`optinc simulate`, `optinc allreduce`, `optinc describe`: results, and one-line refusals that write nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from optinc_pdk.core.weights import shipped_weights_path
from optinc_pdk.spec.scenario import load_scenario

TINY = {"name": "tiny", "bits": 8, "servers": 3, "widths": [4, 6, 12, 4], "approx_layers": [1, 2, 3]}


@pytest.fixture
def tiny_yml(tmp_path):
    path = tmp_path / "tiny.yml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_simulate_json_reports_layers_and_accuracy(run_cli, tiny_yml):
    code, out, _ = run_cli(["simulate", tiny_yml, "--random-weights", "3", "--json"])
    assert code == 0
    report = json.loads(out)
    assert [row["layer"] for row in report["layers"]] == [1, 2, 3]
    assert report["max_layer_relative_error"] <= 1e-9 and report["layers_within_tolerance"]
    assert report["samples"] == (3 * 3 + 1) ** 4  # ((4^G − 1)·N + 1)^M
    assert report["decisions_differing_from_model"] == 0
    assert report["optical_accuracy"] == report["model_accuracy"]


def test_describe_then_simulate_and_allreduce_from_the_phase_map(run_cli, tiny_yml, tmp_path):
    out_dir = tmp_path / "design"
    code, out, _ = run_cli(["describe", tiny_yml, "--random-weights", "3", "--out", out_dir, "--json"])
    assert code == 0
    result = json.loads(out)
    assert result["matches_area_report"]
    assert (out_dir / "phases.npz").is_file() and (out_dir / "netlists" / "tiny.pic.yml").is_file()
    code, out, _ = run_cli(["simulate", tiny_yml, "--random-weights", "3", "--phase-map", out_dir / "phases", "--json"])
    assert code == 0 and json.loads(out)["decisions_differing_from_model"] == 0
    gradients = np.random.default_rng(0).integers(0, 256, size=(3, 50), dtype=np.uint8)
    np.save(tmp_path / "g.npy", gradients)
    code, _, _ = run_cli(["allreduce", tiny_yml, "--phase-map", out_dir / "phases", "--input", tmp_path / "g.npy",
                          "--output", tmp_path / "avg.npy"])
    assert code == 0
    decoded = np.load(tmp_path / "avg.npy")
    assert decoded.shape == (3, 50) and decoded.dtype == np.uint8


def test_phase_map_of_another_scenario_is_refused(run_cli, tiny_yml, tmp_path):
    out_dir = tmp_path / "design"
    assert run_cli(["describe", tiny_yml, "--random-weights", "3", "--out", out_dir])[0] == 0
    other = tmp_path / "other.yml"
    other.write_text(yaml.safe_dump({**TINY, "name": "other", "widths": [4, 8, 12, 4]}))
    code, _, err = run_cli(["simulate", other, "--random-weights", "3", "--phase-map", out_dir / "phases"])
    _one_line_error(code, err, "phases.json", "design.widths")
    np.save(tmp_path / "g.npy", np.zeros((3, 4), dtype=np.uint8))
    code, _, err = run_cli(["allreduce", other, "--phase-map", out_dir / "phases", "--input", tmp_path / "g.npy",
                            "--output", tmp_path / "never.npy"])
    _one_line_error(code, err, "phases.json", "design.widths")
    assert not (tmp_path / "never.npy").exists()


@pytest.mark.parametrize("array, fragment", [
    (np.full((4, 5), 256), "must lie in [0, 2^8)"),
    (np.full((4, 5), -1), "must lie in [0, 2^8)"),
    (np.zeros((3, 5), dtype=np.uint8), "3 rows but the OptINC serves 4 servers"),
    (np.zeros((4, 5)), "must be integers"),
    (np.zeros(5, dtype=np.uint8), "expected a 2-D (servers × elements) array"),
])
def test_bad_gradients_are_refused_and_nothing_is_written(run_cli, tmp_path, array, fragment):
    np.save(tmp_path / "g.npy", array)
    code, _, err = run_cli(["allreduce", "b8n4", "--input", tmp_path / "g.npy", "--output", tmp_path / "out.npy"])
    _one_line_error(code, err, "g.npy", fragment)
    assert not (tmp_path / "out.npy").exists()


def test_pickled_or_missing_gradients_are_refused(run_cli, tmp_path):
    np.save(tmp_path / "objects.npy", np.array([[{"a": 1}]], dtype=object), allow_pickle=True)
    code, _, err = run_cli(["allreduce", "b8n4", "--input", tmp_path / "objects.npy", "--output", tmp_path / "out.npy"])
    _one_line_error(code, err, "objects.npy")
    code, _, err = run_cli(["allreduce", "b8n4", "--input", tmp_path / "none.npy", "--output", tmp_path / "out.npy"])
    _one_line_error(code, err, "none.npy", "not found")
    assert not (tmp_path / "out.npy").exists()


def test_cascade_describe_writes_both_levels_and_refuses_a_phase_map(run_cli, tmp_path):
    code, out, err = run_cli(["describe", "cascade16", "--random-weights", "0", "--out", tmp_path / "c", "--json"])
    assert code == 0, err
    for level in ("level1", "level2"):
        assert (tmp_path / "c" / level / "phases.npz").is_file()
    assert '"matches_area_report": true' in out
    code, _, err = run_cli(["simulate", "cascade16", "--phase-map", tmp_path / "c" / "level1" / "phases.npz"])
    _one_line_error(code, err, "--phase-map", "level1.npz and level2.npz")


def test_allreduce_check_of_shipped_b8n4_reports_no_mismatch(run_cli, tmp_path):
    if not shipped_weights_path(load_scenario("b8n4")).is_file():
        pytest.skip("weights/b8n4.npz not trained yet")
    gradients = np.random.default_rng(8).integers(0, 256, size=(4, 2000), dtype=np.uint8)
    np.save(tmp_path / "g.npy", gradients)
    code, out, _ = run_cli(["allreduce", "b8n4", "--input", tmp_path / "g.npy", "--output", tmp_path / "avg.npy",
                            "--check", "--json"])
    assert code == 0
    assert json.loads(out)["check"] == {"elements": 2000, "mismatched_elements": 0, "mismatched_values": 0,
                                        "max_abs_error": 0}
    expected = gradients.astype(np.int64).sum(axis=0) // 4
    np.testing.assert_array_equal(np.load(tmp_path / "avg.npy"), np.broadcast_to(expected, (4, 2000)))


def test_a_failed_check_exits_non_zero_through_the_entry_point(run_cli, tmp_path):
    """`optinc allreduce --check` with mismatches must exit 1 from `main` (the console script), not 0."""
    np.save(tmp_path / "g.npy", np.random.default_rng(0).integers(0, 256, (4, 20)))
    code, _, _ = run_cli(["allreduce", "b8n4", "--input", tmp_path / "g.npy", "--output", tmp_path / "o.npy",
                          "--random-weights", "1", "--check"])
    assert code == 1
