"""Communication model of Fig. 6 (Sec. I): data per server, ring all-reduce vs OptINC.

Ring all-reduce moves each server's gradient in 2(N−1) rounds of 1/N chunks: 2(N−1)/N gradient
sizes per server, against N/N = 1 for sending every chunk once. The relative overhead is
(N−2)/N: 50%, 75%, 87.5% for 4, 8, 16 servers. OptINC averages in the network: each server sends
its gradient once and receives the average on the same full-duplex transceivers, so its
normalised data is 1 and the overhead 0. What that saves per training step depends on the workload
and the hardware: :mod:`optinc_pdk.analysis.latency` (`optinc comm --model`).
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


def comm_report(servers: list[int]) -> dict:
    """Fig. 6 for each server count (the per-step latency is :mod:`optinc_pdk.analysis.latency`'s)."""
    return {"normalised_to": "gradient size per server", "servers": [asdict(communication_data(n)) for n in servers]}
