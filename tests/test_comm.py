"""Fig. 6 communication data, through the API and `optinc comm` (the latency model: tests/test_latency.py)."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from optinc_pdk.analysis.comm import communication_data
from optinc_pdk.analysis.latency import WORKLOADS, LatencyAssumptions, breakdown

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


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="servers"):
        communication_data(1)


# --- CLI -----------------------------------------------------------------------------------


def check_report(report: dict, servers: list[int]) -> None:
    rows = report["servers"]
    assert [r["servers"] for r in rows] == servers
    for r in rows:
        assert r["ring_overhead"] == pytest.approx(RING_OVERHEAD[r["servers"]], abs=1e-12)
        assert r["optinc_overhead"] == 0


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


def test_cli_hardware_options_reach_the_latency_model(run_cli):
    code, out, err = run_cli(["comm", "--servers", "8", "--gbps", "400", "--transceivers", "4", "--model",
                              "resnet50-cifar", "--json"])
    assert code == 0, err
    plain = [r for r in json.loads(out)["breakdown"] if r["assumptions_name"] == "paper figures, fp32 both"]
    assert len(plain) == 1 and plain[0]["assumptions"]["transceivers"] == 4
    expected = breakdown(WORKLOADS["resnet50-cifar"], LatencyAssumptions(servers=8, transceivers=4, gbps_per_transceiver=400.0))
    assert plain[0]["ring"]["comm_s"] == pytest.approx(expected["ring"]["comm_s"], rel=1e-12)


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
