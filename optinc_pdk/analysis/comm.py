"""Communication model of Fig. 6 and a per-step latency estimate (Sec. I and IV).

Ring all-reduce moves each server's gradient in 2(N−1) rounds of 1/N chunks: 2(N−1)/N gradient
sizes per server, against N/N = 1 for sending every chunk once. The relative overhead is
(N−2)/N: 50%, 75%, 87.5% for 4, 8, 16 servers. OptINC averages in the network: each server sends
its gradient once and receives the average on the same full-duplex transceivers, so its
normalised data is 1 and the overhead 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CommData:
    servers: int
    ring_data: float  # per server, normalised to the gradient size
    optinc_data: float
    ring_overhead: float  # (ring − ideal) / ideal
    optinc_overhead: float


def communication_data(servers: int) -> CommData:
    if servers < 2:
        raise ValueError(f"servers: need at least 2 (got {servers})")
    ideal = 1.0  # every chunk sent once (N rounds of 1/N)
    ring = 2 * (servers - 1) / servers
    optinc = 1.0
    return CommData(servers, ring, optinc, ring / ideal - 1.0, optinc / ideal - 1.0)


@dataclass(frozen=True)
class HardwareParams:
    gradient_params: float = 25.6e6  # example: ResNet-50
    gradient_bits: int = 8  # b: bits per transmitted gradient
    flops_per_step: float = 3 * 4.1e9 * 128  # example: ResNet-50, fwd+bwd, 128 images per server
    gpu_tflops: float = 60.0  # Sec. IV: H100 at 60 TFLOP/s
    utilization: float = 0.6
    transceivers: int = 8
    gbps_per_transceiver: float = 800.0


@dataclass(frozen=True)
class StepLatency:
    servers: int
    compute_s: float
    ring_comm_s: float
    optinc_comm_s: float
    ring_total_s: float
    optinc_total_s: float
    optinc_normalised: float  # OptINC step time / ring step time
    reduction: float  # 1 − optinc_normalised


def step_latency(servers: int, hw: HardwareParams = HardwareParams()) -> StepLatency:
    """Compute then communicate (no overlap): the step time with ring all-reduce and with OptINC."""
    if hw.gpu_tflops <= 0 or not 0 < hw.utilization <= 1 or hw.transceivers <= 0 or hw.gbps_per_transceiver <= 0:
        raise ValueError("hardware parameters must be positive (utilisation in (0, 1])")
    data = communication_data(servers)
    compute = hw.flops_per_step / (hw.gpu_tflops * 1e12 * hw.utilization)
    gradient_bits = hw.gradient_params * hw.gradient_bits
    bandwidth = hw.transceivers * hw.gbps_per_transceiver * 1e9  # full duplex: send and receive at once
    ring = data.ring_data * gradient_bits / bandwidth
    optinc = data.optinc_data * gradient_bits / bandwidth
    ring_total, optinc_total = compute + ring, compute + optinc
    return StepLatency(servers, compute, ring, optinc, ring_total, optinc_total, optinc_total / ring_total,
                       1 - optinc_total / ring_total)


def comm_report(servers: list[int], hw: HardwareParams = HardwareParams()) -> dict:
    return {
        "normalised_to": "gradient size per server",
        "hardware": asdict(hw),
        "servers": [
            {**asdict(communication_data(n)), "latency": asdict(step_latency(n, hw))} for n in servers
        ],
    }
