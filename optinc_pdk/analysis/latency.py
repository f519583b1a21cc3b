"""A per-step latency breakdown of data-parallel training, ring all-reduce vs OptINC (Fig. 7(b)).

Every assumption is a field of :class:`LatencyAssumptions`; the defaults are the paper's stated
figures (Sec. IV: H100 at 60 TFLOP/s, utilisation 0.6, eight full-duplex 800 Gb/s transceivers, 4
servers) and, where the paper is silent, the choice that favours neither side (same precision
on the wire, no per-message latency, no overlap). docs/ddp.md compares the results with the
paper's "over 25 %" (ResNet50) and "around 17 %" (LLaMA).

Model, per training step of one server (one data-parallel replica):
- compute = 3 × forward FLOPs × samples / (TFLOP/s × utilisation); backward is 2/3 of it;
- link = transceivers × Gb/s / ``link_share`` (``link_share`` replicas share one server's links);
- ring: 2(N−1)/N gradient sizes at ``ring_bits`` per element, plus 2(N−1) message latencies per bucket;
- OptINC: 1 gradient size at ``optinc_bits`` (send once, receive the average on the same
  full-duplex links), one message latency per bucket, plus the scale/offset agreement (a small
  all-reduce per bucket: 2(N−1) message latencies) when ``sync`` is on;
- exposed communication = max(0, communication − ``overlap`` × backward); step = compute + exposed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Workload:
    name: str
    params: float  # gradient elements
    forward_flops: float  # per sample (image or token)
    samples_per_step: float  # per replica
    note: str = ""


# Our estimates where the paper gives no number (docs/ddp.md states them).
WORKLOADS = {
    "resnet50-cifar": Workload(
        "resnet50-cifar", 23.7e6, 2 * 1.30e9, 128,
        "ResNet50, CIFAR variant (3x3 stride-1 stem, no max-pool): 23.7 M parameters with 100 classes, "
        "1.30 G multiply-adds per 32x32 image; batch 128 per replica (assumed)"),
    "llama-8x384": Workload(
        "llama-8x384", 26.4e6, 2 * (14.2e6 + 12.3e6) + 4 * 8 * 512 * 384, 32 * 512,
        "8 layers, d=384, 8 heads, SwiGLU 1024, vocabulary 32000 tied (Sec. IV; vocabulary, FFN width, "
        "sequence 512 and 32 sequences per replica assumed): 14.2 M block + 12.3 M embedding parameters"),
}


@dataclass(frozen=True)
class LatencyAssumptions:
    servers: int = 4
    gpu_tflops: float = 60.0
    utilization: float = 0.6
    transceivers: int = 8
    gbps_per_transceiver: float = 800.0
    link_share: float = 1.0  # replicas sharing one server's transceivers (8: one 800 Gb/s link per GPU)
    ring_bits: int = 32  # ring all-reduce's gradient precision on the wire (fp32)
    optinc_bits: int = 32  # OptINC's b on the wire (32: the same as the ring; Table II's scenario has 16)
    message_latency_s: float = 0.0  # per message and ring step
    bucket_mb: float = 25.0  # DDP's default bucket, MB of fp32 gradients
    overlap: float = 0.0  # fraction of the backward pass that hides communication
    sync: bool = True  # OptINC's scale/offset agreement per bucket

    def check(self) -> None:
        positive = (self.gpu_tflops, self.transceivers, self.gbps_per_transceiver, self.link_share, self.ring_bits,
                    self.optinc_bits, self.bucket_mb)
        if self.servers < 2 or min(positive) <= 0 or not 0 < self.utilization <= 1:
            raise ValueError("latency assumptions: servers >= 2, positive rates and sizes, utilisation in (0, 1]")
        if self.message_latency_s < 0 or not 0 <= self.overlap <= 1:
            raise ValueError("latency assumptions: message latency >= 0, overlap in [0, 1]")


def _side(comm_s: float, backward_s: float, compute_s: float, a: LatencyAssumptions, **parts) -> dict:
    exposed = max(0.0, comm_s - a.overlap * backward_s)
    return {**parts, "comm_s": comm_s, "exposed_comm_s": exposed, "step_s": compute_s + exposed}


def breakdown(work: Workload, a: LatencyAssumptions = LatencyAssumptions()) -> dict:
    """Compute, transfer, latency and exposed communication of one step, both ways, and the reduction."""
    a.check()
    n = a.servers
    compute = 3 * work.forward_flops * work.samples_per_step / (a.gpu_tflops * 1e12 * a.utilization)
    backward = 2 * compute / 3
    link = a.transceivers * a.gbps_per_transceiver * 1e9 / a.link_share  # bit/s, each direction
    buckets = math.ceil(work.params * 4 / (a.bucket_mb * 1e6))
    ring_transfer = 2 * (n - 1) / n * work.params * a.ring_bits / link
    ring_latency = buckets * 2 * (n - 1) * a.message_latency_s
    optinc_transfer = work.params * a.optinc_bits / link
    optinc_latency = buckets * a.message_latency_s
    sync = buckets * 2 * (n - 1) * a.message_latency_s if a.sync else 0.0
    ring = _side(ring_transfer + ring_latency, backward, compute, a, transfer_s=ring_transfer, latency_s=ring_latency)
    optinc = _side(optinc_transfer + optinc_latency + sync, backward, compute, a, transfer_s=optinc_transfer,
                   latency_s=optinc_latency, sync_s=sync)
    return {"workload": asdict(work), "assumptions": asdict(a), "compute_s": compute, "backward_s": backward,
            "buckets": buckets, "ring": ring, "optinc": optinc,
            "reduction": 1 - optinc["step_s"] / ring["step_s"]}


# Named assumption sets for the comparison with the paper (docs/ddp.md): each changes a few fields.
SCENARIOS = {
    "paper figures, fp32 both": {},
    "ring fp32, OptINC 16 bit": {"optinc_bits": 16},
    "800 Gb/s per GPU (8 GPUs share)": {"link_share": 8},
    "800 Gb/s per GPU, OptINC 16 bit": {"link_share": 8, "optinc_bits": 16},
    "per GPU, 16 bit, 10 us/message": {"link_share": 8, "optinc_bits": 16, "message_latency_s": 10e-6},
    "per GPU, 16 bit, full overlap": {"link_share": 8, "optinc_bits": 16, "overlap": 1.0},
}


def scenario_table(work: Workload, base: LatencyAssumptions = LatencyAssumptions()) -> list[dict]:
    return [{"assumptions_name": name, **breakdown(work, replace(base, **changes))} for name, changes in SCENARIOS.items()]


def batch_sweep(work: Workload, batches: list[float], base: LatencyAssumptions = LatencyAssumptions()) -> dict:
    """Reduction against samples per replica, for every named assumption set (the sensitivity plot)."""
    return {name: [breakdown(replace(work, samples_per_step=b), replace(base, **changes))["reduction"] for b in batches]
            for name, changes in SCENARIOS.items()}


def needed_compute_ratio(target: float, a: LatencyAssumptions = LatencyAssumptions()) -> float:
    """Compute / OptINC transfer that gives reduction ``target`` with no latency and no overlap:
    reduction = (ρ − 1) / (r + ρ) with ρ = ring transfer / OptINC transfer, so r = (ρ − 1)/target − ρ."""
    rho = 2 * (a.servers - 1) / a.servers * a.ring_bits / a.optinc_bits
    return (rho - 1) / target - rho


def needed_samples(work: Workload, target: float, a: LatencyAssumptions = LatencyAssumptions()) -> float | None:
    """Samples per replica at which the reduction falls to ``target`` (it falls as compute grows);
    None when even a vanishing batch stays below ``target``."""
    def reduction(samples: float) -> float:
        return breakdown(replace(work, samples_per_step=samples), a)["reduction"]

    low, high = 1e-6, 1e9
    if reduction(low) < target:
        return None
    for _ in range(200):  # bisection on a log scale
        middle = math.sqrt(low * high)
        low, high = (middle, high) if reduction(middle) >= target else (low, middle)
    return low


PAPER_REDUCTIONS = {"resnet50-cifar": 0.25, "llama-8x384": 0.17}  # Sec. IV: "over 25%", "around 17%"


def needed_link_gbps(work: Workload, target: float, a: LatencyAssumptions = LatencyAssumptions()) -> float | None:
    """The link per replica (Gb/s, each direction) at which the reduction reaches ``target`` at the
    workload's own batch; None when no link speed does (the reduction rises as the link slows)."""
    full = a.transceivers * a.gbps_per_transceiver

    def reduction(gbps: float) -> float:
        return breakdown(work, replace(a, link_share=full / gbps))["reduction"]

    low, high = 1e-6, 1e9
    if reduction(low) < target:
        return None
    for _ in range(200):  # bisection on a log scale: fast links give small reductions
        middle = math.sqrt(low * high)
        low, high = (middle, high) if reduction(middle) >= target else (low, middle)
    return low
