"""Yield under the error models (issue 29): the general MZI, a brute-force per-chip check, the CLI, torchrun sharding."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_circuit_helpers import rectangular_mesh, tiny_scenario

from optinc_pdk.circuit import build_description
from optinc_pdk.circuit.model import AttenuatorColumn, Composite, MeshBlock, NonlinearArray, Source, TreeArray
from optinc_pdk.circuit.random_weights import random_weights
from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.mzi import mzi_transfer, mzi_transfer_general
from optinc_pdk.decompose.mesh import MeshPhases
from optinc_pdk.decompose.transfer import mesh_transfer
from optinc_pdk.errors import OptincError
from optinc_pdk.simulate.chain import compile_chain
from optinc_pdk.simulate.fused import chip_segments, received_levels
from optinc_pdk.simulate.nonideal import ErrorModel, ErrorSites, calibrated_phases, detector_generator, mesh_sites
from optinc_pdk.simulate.stages import tree_matrix
from optinc_pdk.simulate.yield_ import ChipOutcomes, simulate_chips, yield_inputs

REPO = Path(__file__).resolve().parents[1]


def coupler(kappa: float) -> np.ndarray:
    """A directional coupler sending power share κ across, written out independently of the package."""
    t, r = np.sqrt(1.0 - kappa), np.sqrt(kappa)
    return np.array([[t, 1j * r], [1j * r, t]])


def test_general_mzi_is_the_pinned_formula_at_zero_error_and_the_coupler_product_otherwise():
    rng = np.random.default_rng(3)
    theta, phi = rng.uniform(0, 2 * np.pi, 50), rng.uniform(0, 2 * np.pi, 50)
    np.testing.assert_allclose(mzi_transfer_general(theta, phi), mzi_transfer(theta, phi), atol=1e-15)
    k_in, k_out, upper, lower = 0.43, 0.58, 0.8, 0.9
    expected = (coupler(k_out) @ np.diag([upper * np.exp(1j * theta[0]), lower]) @ coupler(k_in)
                @ np.diag([np.exp(1j * phi[0]), 1.0]))
    np.testing.assert_allclose(mzi_transfer_general(theta[0], phi[0], k_in, k_out, upper, lower), expected, atol=1e-15)


def test_error_model_refuses_bad_parameters_naming_the_option():
    with pytest.raises(OptincError, match="--sigma-split"):
        ErrorModel(sigma_split=0.7)
    with pytest.raises(OptincError, match="--sigma-phase"):
        ErrorModel(sigma_phase=float("nan"))


# -- brute force: one chip, one input at a time, explicit 2×2 matrices -------------------------------

def _phase(design, neighbours_sum, normal, model, crosstalk=None):
    step = 2 * np.pi / 2**model.dac_bits if model.dac_bits else 0.0
    programmed = np.mod(np.rint(design / step) * step, 2 * np.pi) if step else design
    coupling = model.crosstalk if crosstalk is None else crosstalk
    return programmed + coupling * neighbours_sum(programmed) + model.sigma_phase * normal


def _mzi(theta, phi, z_in, z_out, z_imbalance, model):
    imbalance = model.sigma_imbalance_db * z_imbalance
    upper = 10 ** (-(model.loss_db + max(imbalance, 0.0)) / 20)
    lower = 10 ** (-(model.loss_db + max(-imbalance, 0.0)) / 20)
    k_in = min(max(0.5 + model.sigma_split * z_in, 0.0), 1.0)
    k_out = min(max(0.5 + model.sigma_split * z_out, 0.0), 1.0)
    return coupler(k_out) @ np.diag([upper * np.exp(1j * theta), lower]) @ coupler(k_in) @ np.diag([np.exp(1j * phi), 1.0])


def _brute_tree(block, normals, sigma: float) -> np.ndarray:
    """A tree array's matrix with every 2-port element's ratio off by σ·z: each tree split breadth first,
    halves of ⌈n/2⌉ (upper) and ⌊n/2⌋ leaves, one normal per element in that order."""
    matrix = np.zeros((block.n_out, block.n_in), dtype=complex)
    for tree, channels in enumerate(block.leaf_channels):
        amplitude = np.ones(block.n_leaves)
        pending = [(0, block.n_leaves)]
        while pending:
            start, count = pending.pop(0)
            if count < 2:
                continue
            upper = (count + 1) // 2
            ratio = min(max(upper / count + sigma * next(normals), 0.0), 1.0)
            amplitude[start : start + upper] *= np.sqrt(ratio)
            amplitude[start + upper : start + count] *= np.sqrt(1 - ratio)
            pending += [(start, upper), (start + upper, count - upper)]
        for leaf, channel in enumerate(channels):
            if block.splitting:
                matrix[channel, tree] = amplitude[leaf]
            else:
                matrix[tree, channel] = amplitude[leaf]
    return matrix


class BruteChip:
    """One sampled chip: every MZI as an explicit 2×2 matrix, from the documented layout of the chip's normals."""

    def __init__(self, description, normals: np.ndarray, model: ErrorModel, n_mzis: int):
        rows = normals[: 5 * n_mzis].reshape(5, n_mzis)
        screens = normals[5 * n_mzis :]
        n_screens = sum(block.n_modes for block in description.walk() if isinstance(block, MeshBlock))
        tree_normals = iter(normals[7 * n_mzis + 2 * n_screens :])  # after the offsets, in walk order
        self.mzis, self.screens, self.trees = {}, {}, {}
        first = first_screen = 0
        for block in description.walk():
            if isinstance(block, TreeArray):
                self.trees[block.name] = _brute_tree(block, tree_normals, model.sigma_split_tree)
                continue
            if isinstance(block, MeshBlock):
                order = np.argsort(block.column, kind="stable")
                top, column = block.top_mode[order], block.column[order]

                def neighbours(values, top=top, column=column):
                    return np.array([sum(values[j] for j in range(top.size) if column[j] == column[i]
                                         and abs(top[j] - top[i]) == 2) for i in range(top.size)])

                def screen_neighbours(values):
                    return np.array([(values[i - 1] if i > 0 else 0) + (values[i + 1] if i + 1 < values.size else 0)
                                     for i in range(values.size)])

                count = top.size
                theta = _phase(block.theta[order], neighbours, rows[0, first : first + count], model)
                phi = _phase(block.phi[order], neighbours, rows[1, first : first + count], model)
                self.mzis[block.name] = [(int(top[i]), _mzi(theta[i], phi[i], *rows[2:, first + i], model))
                                         for i in range(count)]
                self.screens[block.name] = _phase(block.output_phase, screen_neighbours,
                                                  screens[first_screen : first_screen + block.n_modes], model,
                                                  model.crosstalk_output)
                first_screen += block.n_modes
            elif isinstance(block, AttenuatorColumn):
                count = block.n_mzis

                def no_neighbours(values):
                    return np.zeros_like(values)

                theta = _phase(block.theta, no_neighbours, rows[0, first : first + count], model)
                phi = _phase(block.phi, no_neighbours, rows[1, first : first + count], model)
                self.mzis[block.name] = [(int(block.mode[i]), _mzi(theta[i], phi[i], *rows[2:, first + i], model)[0, 0])
                                         for i in range(count)]
            else:
                continue
            first += count

    def run(self, block, field: np.ndarray) -> np.ndarray:
        if isinstance(block, MeshBlock):
            out = field.astype(complex)
            for top, transfer in self.mzis[block.name]:
                out[top : top + 2] = transfer @ out[top : top + 2]
            return out * np.exp(1j * self.screens[block.name])
        if isinstance(block, AttenuatorColumn):
            out = np.zeros(block.n_out, dtype=complex)
            through = min(block.n_in, block.n_out)
            out[:through] = field[:through]
            for mode, value in self.mzis[block.name]:
                out[mode] = value * field[mode]
            return out
        if isinstance(block, TreeArray):
            return self.trees[block.name] @ field
        if isinstance(block, Source):
            return np.array([block.amplitude], dtype=complex)
        if isinstance(block, NonlinearArray):
            return np.maximum(field.real, 0.0).astype(complex)
        assert isinstance(block, Composite)
        outputs = []
        for index, child in enumerate(block.children):
            incoming = np.zeros(child.n_in, dtype=complex)
            for channel, (target, west) in enumerate(block.inputs):
                if target == index:
                    incoming[west] = field[channel]
            for source, east, target, west in block.links:
                if target == index:
                    incoming[west] = outputs[source][east]
            outputs.append(self.run(child, incoming))
        return np.array([outputs[child][east] for child, east in block.outputs])


@pytest.fixture(scope="module")
def tiny_design():
    scenario = tiny_scenario(servers=2, widths=(4, 4, 4), approx=(1, 2), name="yieldtiny")
    weights = random_weights(scenario, 7)
    description = build_description(scenario, weights)
    data = exhaustive_dataset(scenario)
    chosen = yield_inputs(description, data, 300, seed=5)
    # targets = this design's own ideal decisions (random weights), so the ideal chip is exact and noise makes yield < 1
    decided, _ = compile_chain(description).decide(chosen.digits)
    codes = data.codes.copy()
    codes[chosen.index] = np.rint(decided[0]).astype(codes.dtype)
    chosen = replace(chosen, data=replace(data, codes=codes))
    return description, chosen


def _brute_levels(description, chosen, model, normals, noise):
    """(inputs, servers, digits) received levels of one chip, one input at a time."""
    chip = BruteChip(description, normals, model, ErrorSites(description).n_mzis)
    receivers = description.server_output_channels()
    levels = np.zeros((chosen.size,) + receivers.shape)
    for row in range(chosen.size):
        east = chip.run(description.top, chosen.fields[row].astype(float))
        levels[row] = east[receivers].real * description.receiver_gain + noise[row].reshape(receivers.shape)
    return levels


def test_tiny_yield_equals_a_brute_force_per_chip_simulation(tiny_design):
    description, chosen = tiny_design
    model = ErrorModel(sigma_phase=0.03, dac_bits=10, sigma_split=0.01, loss_db=0.02, sigma_imbalance_db=0.05,
                       crosstalk=0.002, sigma_detector=0.01, crosstalk_output=0.004, sigma_split_tree=0.01)
    seed, chips = 7, 6
    sites = ErrorSites(description)
    fast = ChipOutcomes.empty(chips, chosen.data.n_outputs)
    simulate_chips(description, sites, model, chosen, seed, range(chips), fast)

    brute_correct = []
    for chip in range(chips):
        noise = detector_generator(seed, chip).standard_normal((chosen.size, description.servers * description.digits),
                                                               dtype=np.float32) * np.float32(model.sigma_detector)
        levels = _brute_levels(description, chosen, model, sites.draw(seed, [chip])[0], noise)
        fast_levels = received_levels(chip_segments(description, {name: m[0] for name, m in
                                                                  sites.leaf_matrices(model, sites.draw(seed, [chip])).items()}),
                                      chosen.fields) + noise
        np.testing.assert_allclose(fast_levels.reshape(levels.shape), levels, atol=2e-5)  # float32 against float64
        codes = np.clip(np.rint(levels), 0, 3)
        brute_correct.append(int(np.all(codes == chosen.codes[:, None, :], axis=(1, 2)).sum()))
    np.testing.assert_array_equal(fast.correct, brute_correct)
    brute_yield = np.mean(np.array(brute_correct) == chosen.size)
    assert 0 < brute_yield < 1  # the check can fail both ways: some chips pass, some do not
    assert np.mean(fast.correct == chosen.size) == brute_yield


def test_ideal_chip_of_the_tiny_design_has_yield_one(tiny_design):
    description, chosen = tiny_design
    out = ChipOutcomes.empty(3, chosen.data.n_outputs)
    simulate_chips(description, ErrorSites(description), ErrorModel(), chosen, 1, range(3), out)
    assert np.all(out.correct == chosen.size)


def test_b8n4_ideal_chips_yield_one_from_the_cli(run_cli, tmp_path):
    code, out, err = run_cli(["yield", "b8n4", "--sigma-phase", "0", "--samples", "3", "--json",
                              "--sweep-sigma", "0,0", "-o", tmp_path / "report"])
    assert code == 0, err
    report = json.loads(out)
    assert [r["yield"] for r in report["results"]] == [1.0, 1.0]
    assert report["design"]["decisions_differing_from_complex128"] == 0 and report["design"]["precision"] == "float32"
    assert report["inputs"]["count"] == 28561
    assert {"yield.json", "yield.md", "yield_curve.png"} <= {p.name for p in (tmp_path / "report").rglob("*")}


def test_bad_sweep_is_one_line_naming_the_option(run_cli):
    code, _, err = run_cli(["yield", "b8n4", "--sweep-sigma", "0.01,x"])
    assert code == 2 and "--sweep-sigma" in err and len(err.strip().splitlines()) == 1


def _torchrun() -> str:
    found = Path(sys.executable).with_name("torchrun")
    if not found.is_file() or shutil.which(str(found)) is None:
        pytest.skip("torchrun (the torch extra) is not installed")
    return str(found)


def test_two_torchrun_ranks_give_the_single_process_result(run_cli, tmp_path):
    torchrun = _torchrun()
    args = ["yield", "b8n4", "--sigma-phase", "0.004", "--dac-bits", "8", "--sigma-detector", "0.05",
            "--samples", "5", "--seed", "3", "--inputs", "400", "--json"]
    code, out, err = run_cli(args)
    assert code == 0, err
    single = json.loads(out)
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    with socket.socket() as probe:  # a free port for the rendezvous (port 0 is not one torchrun's ranks can share)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run([torchrun, "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(port),
                           "-m", "optinc_pdk.cli.main", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    sharded = json.loads(done.stdout[done.stdout.index("{"):])
    assert sharded["ranks"] == 2 and single["ranks"] == 1
    assert sharded["results"] == [{**r, "ranks": 2} for r in single["results"]]
    assert 0 < single["results"][0]["accuracy"]["mean"] < 1  # chips differ: sharding had something to keep apart


def test_calibration_makes_a_lossless_imperfect_mesh_exact_where_every_splitting_is_reachable():
    rng = np.random.default_rng(0)
    n, chips = 8, 3
    base = rectangular_mesh(n)
    count = base.n_mzi
    # θ away from 0 and π: every splitting stays reachable with 3 % coupler errors (bar and cross are not)
    phases = MeshPhases(n, rng.uniform(0.7, 2.4, count), rng.uniform(0, 2 * np.pi, count), base.top_mode, base.column,
                        rng.uniform(0, 2 * np.pi, n), "clements")
    sites = mesh_sites(MeshBlock("m", n, n, phases=phases), 0, 0)
    split_in, split_out = 0.5 + 0.03 * rng.standard_normal((2, chips, count))
    lossless = np.ones((chips, count))

    def realised(theta, phi, output):
        theta, phi = np.broadcast_to(theta, (chips, count)), np.broadcast_to(phi, (chips, count))
        transfers = mzi_transfer_general(theta, phi, split_in, split_out, lossless, lossless)
        return mesh_transfer(n, theta, phi, sites.top_mode, sites.column, np.broadcast_to(output, (chips, n)),
                             mzi_matrices=transfers)

    design = mesh_transfer(n, sites.theta, sites.phi, sites.top_mode, sites.column, sites.output)
    assert np.abs(realised(sites.theta, sites.phi, sites.output) - design).max() > 0.05  # the errors matter
    calibrated = realised(*calibrated_phases(sites, split_in, split_out, lossless, lossless))
    np.testing.assert_allclose(calibrated, np.broadcast_to(design, calibrated.shape), atol=1e-12)


def test_calibrated_attenuators_meet_the_real_part_of_every_reachable_value(tiny_design):
    description, _ = tiny_design
    sites = ErrorSites(description)
    normals = sites.draw(2, [0, 1])
    design = {leaf.block.name: leaf for leaf in sites.leaves if isinstance(leaf.block, AttenuatorColumn)}
    for calibrate, should_match in (("", False), ("attenuators", True)):
        matrices = sites.leaf_matrices(ErrorModel(sigma_split=0.03, calibrate=calibrate), normals)
        worst = 0.0
        for name, leaf in design.items():
            target = mzi_transfer(leaf.theta, leaf.phi)[:, 0, 0]
            inside = np.abs(target) < 0.9  # |d| near 1 lies above what imperfect couplers reach
            got = matrices[name][:, leaf.block.mode, leaf.block.mode]
            worst = max(worst, float(np.abs(got.real - target.real)[:, inside].max(initial=0.0)))
        assert (worst < 1e-12) == should_match, (calibrate, worst)
    with pytest.raises(OptincError, match="--calibrate"):
        ErrorModel(calibrate="meshes")


def test_tree_errors_are_off_at_zero_and_on_at_sigma(tiny_design):
    """σ_split_tree = 0 leaves every tree as designed (tree_matrix); a σ moves every tree of the chip."""
    description, _ = tiny_design
    sites = ErrorSites(description)
    normals = sites.draw(3, [0])
    trees = [block for block in description.walk() if isinstance(block, TreeArray)]
    assert trees and sites.n_tree_elements == sum(block.n_elements for block in trees)
    sampled = sites.leaf_matrices(ErrorModel(sigma_split_tree=0.02), normals)
    for block in trees:
        np.testing.assert_allclose(_brute_tree(block, iter(np.zeros(block.n_elements)), 0.0), tree_matrix(block), atol=1e-15)
        if block.n_elements:
            assert np.abs(sampled[block.name][0] - tree_matrix(block)).max() > 1e-4
    assert not any(block.name in sites.leaf_matrices(ErrorModel(), normals) for block in trees)
