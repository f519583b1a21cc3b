"""Fig. 6 communication data and the per-step latency estimate, through the API and `optinc comm`."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from optinc_pdk.analysis.comm import HardwareParams, communication_data, step_latency

RING_OVERHEAD = {4: 0.5, 8: 0.75, 16: 0.875}  # Sec. I / Fig. 6: (N - 2) / N


@pytest.mark.parametrize("servers", [2, 3, 4, 8, 16, 64])
def test_ring_all_reduce_data_and_overhead(servers):
    data = communication_data(servers)
    # 2(N - 1) rounds of 1/N of the gradient, against N rounds for sending every chunk once
    ring = Fraction(2 * (servers - 1), servers)
    assert data.ring_data == pytest.approx(float(ring), rel=1e-15)
    assert data.ring_overhead == pytest.approx(float(ring - 1), abs=1e-15)
    assert data.optinc_data == 1.0 and data.optinc_overhead == 0.0


def test_fig6_overheads():
    for servers, overhead in RING_OVERHEAD.items():
        assert communication_data(servers).ring_overhead == pytest.approx(overhead, abs=1e-15)


@pytest.mark.parametrize("servers", [4, 8, 16])
def test_latency_is_compute_plus_transfer(servers):
    hw = HardwareParams()
    lat = step_latency(servers, hw)
    compute = hw.flops_per_step / (hw.gpu_tflops * 1e12 * hw.utilization)
    transfer = hw.gradient_params * hw.gradient_bits / (hw.transceivers * hw.gbps_per_transceiver * 1e9)
    assert lat.compute_s == pytest.approx(compute, rel=1e-12)
    assert lat.optinc_comm_s == pytest.approx(transfer, rel=1e-12)
    assert lat.ring_comm_s == pytest.approx(transfer * 2 * (servers - 1) / servers, rel=1e-12)
    assert 0 < lat.optinc_total_s <= lat.ring_total_s
    assert lat.optinc_normalised == pytest.approx(lat.optinc_total_s / lat.ring_total_s, rel=1e-12)
    assert lat.reduction == pytest.approx(1 - lat.optinc_normalised, abs=1e-12)


def test_latency_reduction_grows_with_servers():
    reductions = [step_latency(n).reduction for n in (4, 8, 16)]
    assert reductions == sorted(reductions) and reductions[0] > 0


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="servers"):
        communication_data(1)
    with pytest.raises(ValueError, match="positive"):
        step_latency(4, HardwareParams(utilization=0.0))


# --- CLI -----------------------------------------------------------------------------------


def check_report(report: dict, servers: list[int]) -> None:
    rows = report["servers"]
    assert [r["servers"] for r in rows] == servers
    for r in rows:
        assert r["ring_overhead"] == pytest.approx(RING_OVERHEAD[r["servers"]], abs=1e-12)
        assert r["optinc_overhead"] == 0
        latency = r["latency"]
        for key in ("compute_s", "ring_comm_s", "optinc_comm_s", "ring_total_s", "optinc_total_s"):
            assert latency[key] > 0, key
        assert latency["optinc_total_s"] <= latency["ring_total_s"]
        assert latency["optinc_comm_s"] <= latency["ring_comm_s"]


def test_cli_servers_as_a_list(run_cli):
    code, out, err = run_cli(["comm", "--servers", "4", "8", "16", "--json"])
    assert code == 0, err
    check_report(json.loads(out), [4, 8, 16])


def test_cli_servers_repeated_and_default(run_cli):
    code, out, err = run_cli(["comm", "--servers", "4", "--servers", "16", "--json"])
    assert code == 0, err
    check_report(json.loads(out), [4, 16])
    code, out, err = run_cli(["comm", "--json"])
    assert code == 0, err
    check_report(json.loads(out), [4, 8, 16])


def test_cli_hardware_options_reach_the_model(run_cli):
    code, out, err = run_cli(["comm", "--servers", "8", "--gbps", "400", "--transceivers", "4", "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["hardware"]["gbps_per_transceiver"] == 400 and report["hardware"]["transceivers"] == 4
    expected = step_latency(8, HardwareParams(transceivers=4, gbps_per_transceiver=400.0))
    assert report["servers"][0]["latency"]["ring_comm_s"] == pytest.approx(expected.ring_comm_s, rel=1e-12)


def test_cli_table(run_cli):
    code, out, err = run_cli(["comm", "--servers", "4", "8", "16"])
    assert code == 0, err
    for overhead in ("50.0%", "75.0%", "87.5%"):
        assert overhead in out


@pytest.mark.parametrize(
    "args,phrase",
    [(["--servers", "1"], "at least 2"), (["8", "16"], "--servers"), (["--servers", "4", "--utilization", "0"], "positive")],
)
def test_cli_bad_input_is_one_line(run_cli, args, phrase):
    code, out, err = run_cli(["comm", *args])
    assert code == 2 and out == ""
    line = err.strip()
    assert "\n" not in line and line.startswith("optinc: error: comm:") and phrase in line
