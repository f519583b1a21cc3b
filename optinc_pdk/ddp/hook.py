"""The DDP communication hook: each gradient bucket averaged as an OptINC does (docs/ddp.md).

No ``from __future__ import annotations`` here: DDP checks the hook's annotations as objects.

Per bucket, on every rank:
1. agree on the bucket's range: one all-reduce MAX of (−min, max), two float64 numbers;
2. quantise the float gradients to unsigned b-bit integers on that shared grid;
3. the OptINC's average: the exact floor of the server mean (``mode="exact"``: an int32/int64
   all-reduce SUM, then floor division), or the shipped ONN's decisions (``mode="network"``: an
   all-reduce SUM of the M group values, looked up in the network's decision table), or what this
   server's receivers decode through the simulated optics (``mode="optics"``, the same lookup);
4. optionally inject errors (``ErrorModel``), identically on every rank;
5. dequantise, adding (N − 1)/(2N) LSB (``bias_correction``) because the floor loses that much on
   average.
"""


import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.distributed as dist

from optinc_pdk.ddp.network import decision_table, group_radix, optics_table
from optinc_pdk.ddp.quantize import ErrorModel, dequantise, floor_bias, inject_errors, quantise
from optinc_pdk.errors import OptincError

MODES = ("exact", "network", "optics")
ONN_INPUTS = 4  # every OptINC's ONN has M = 4 inputs (docs/conventions.md)


@dataclass
class OptincHookState:
    """What the hook needs. ``scenario`` (a shipped name) sets ``bits`` and must serve the world size
    (cascade16 serves 16); without it, ``bits`` alone works for any number of servers (mode exact)."""

    scenario: str | None = None
    bits: int | None = None
    mode: str = "exact"
    errors: ErrorModel | None = None
    bias_correction: bool = True
    seed: int = 0
    process_group: dist.ProcessGroup | None = None
    record: bool = False  # keep each bucket's inputs and results (tests; costs memory)
    calls: int = 0
    stats: dict = field(default_factory=lambda: {"elements": 0, "injected": 0, "sync_s": 0.0, "reduce_s": 0.0,
                                                 "hook_s": 0.0})
    records: list = field(default_factory=list)
    _table: torch.Tensor | None = None
    _checked: bool = False

    def prepare(self, servers: int) -> None:
        """Resolve the scenario once, against the process group's size."""
        if self._checked:
            return
        if self.mode not in MODES:
            raise OptincError(f"OptincHookState: mode must be one of {MODES} (got {self.mode!r})")
        if self.scenario is not None:
            self._use_scenario(servers)
        if self.bits is None or self.bits < 2 or self.bits % 2 or self.bits > 30:
            raise OptincError(f"OptincHookState: bits must be even, 2..30 (got {self.bits})")
        if self.mode != "exact" and self._table is None:
            raise OptincError(f"OptincHookState: mode '{self.mode}' needs a scenario (its shipped weights decide)")
        self._checked = True

    def _use_scenario(self, servers: int) -> None:
        from optinc_pdk.spec.scenario import load_scenario

        s = load_scenario(self.scenario)
        if s.servers != servers:
            raise OptincError(f"OptincHookState: scenario {self.scenario} serves {s.servers} servers, the process "
                              f"group has {servers}; pass bits= instead of a scenario for other counts")
        if self.bits is not None and self.bits != s.bits:
            raise OptincError(f"OptincHookState: bits={self.bits} but scenario {self.scenario} has {s.bits}")
        self.bits = s.bits
        if self.mode != "exact":
            self._table = self._shared_table(s, servers)

    def _shared_table(self, s, servers: int) -> torch.Tensor:
        """The group's first rank tabulates the network (b8n8: about 25 s) or the optics (b8n4: about
        10 s) and broadcasts the table; in mode optics each rank keeps its own server's receivers' row."""
        group = self.process_group if self.process_group is not None else dist.group.WORLD
        first = dist.get_global_rank(group, 0)
        rows = servers if self.mode == "optics" else 1
        table = torch.empty(rows, group_radix(s.bits, servers, ONN_INPUTS) ** ONN_INPUTS, dtype=torch.int64)
        built, failure = torch.zeros(1, dtype=torch.int64), None
        if dist.get_rank() == first:
            try:
                build = optics_table if self.mode == "optics" else decision_table
                table = torch.from_numpy(np.ascontiguousarray(build(self.scenario).reshape(rows, -1)))
                built[0] = 1
            except OptincError as error:
                failure = error
        dist.broadcast(built, src=first, group=group)  # so a refusal there does not leave the others waiting
        if not built[0]:
            raise failure or OptincError(f"OptincHookState: scenario {self.scenario}: the group's first rank "
                                         f"could not build the mode '{self.mode}' table (its error says why)")
        dist.broadcast(table, src=first, group=group)
        return table[dist.get_rank(group) if self.mode == "optics" else 0].clone()


def optinc_comm_hook(state: OptincHookState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """DDP hook: the bucket's OptINC average, as a completed future (the work is synchronous)."""
    group = state.process_group if state.process_group is not None else dist.group.WORLD
    servers = dist.get_world_size(group)
    state.prepare(servers)  # once: loads the scenario (and the network's table) outside the timing
    start = time.perf_counter()
    grad = bucket.buffer()
    low, high = agree_range(grad, group)
    synced = time.perf_counter()
    q = quantise(grad, low, high, state.bits)
    exact, average = server_average(state, q, group, servers)
    reduced = time.perf_counter()
    hit = _maybe_inject(state, average)
    correction = floor_bias(servers) if state.bias_correction else 0.0
    result = dequantise(average, low, high, state.bits, correction).to(grad.dtype)
    if state.record:
        state.records.append({"bucket": bucket.index(), "local": grad.detach().clone(), "low": low, "high": high,
                              "quantised": q, "exact": exact, "average": average, "hit": hit, "params": bucket.parameters()})
    _account(state, grad.numel(), hit, start, synced, reduced)
    future: torch.futures.Future[torch.Tensor] = torch.futures.Future()
    future.set_result(result)
    return future


def agree_range(grad: torch.Tensor, group) -> tuple[float, float]:
    """Global min and max of the bucket over all ranks: one all-reduce MAX of (−min, max)."""
    both = torch.stack([-grad.min(), grad.max()]).to(torch.float64) if grad.numel() else torch.zeros(2, dtype=torch.float64)
    dist.all_reduce(both, op=dist.ReduceOp.MAX, group=group)
    return -float(both[0]), float(both[1])


def server_average(state: OptincHookState, q: torch.Tensor, group, servers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(exact floor average, what the OptINC outputs): equal in mode exact."""
    # int32 halves the wire size while N·(2^b − 1) fits; the sum is exact either way
    wire = torch.int32 if servers * (2**state.bits - 1) < 2**31 else torch.int64
    if state.mode == "exact":
        total = q.to(wire)
        dist.all_reduce(total, group=group)
        exact = total.to(torch.int64) // servers
        return exact, exact.clone()
    g = state.bits // (2 * ONN_INPUTS)
    shifts = 2 * g * torch.arange(ONN_INPUTS, dtype=torch.int64, device=q.device)
    groups = ((q[:, None] >> shifts) & (4**g - 1)).to(wire)  # (elements, M): each group's value
    dist.all_reduce(groups, group=group)
    sums = groups.to(torch.int64)
    exact = (sums << shifts).sum(dim=1) // servers
    radix = group_radix(state.bits, servers, ONN_INPUTS)
    index = (sums * radix ** torch.arange(ONN_INPUTS, dtype=torch.int64, device=q.device)).sum(dim=1)
    if state._table.device != q.device:  # once: keep the table where the buckets are (nccl: the GPU)
        state._table = state._table.to(q.device)
    return exact, state._table[index]


def _maybe_inject(state: OptincHookState, average: torch.Tensor) -> torch.Tensor | None:
    state.calls += 1
    if state.errors is None or state.errors.probability == 0:
        return None
    # the same seed on every rank, one stream per call: every server receives the same errors
    generator = torch.Generator().manual_seed(int(np.uint64(state.seed) * 1_000_003 + state.calls))
    return inject_errors(average, state.errors, generator)


def _account(state: OptincHookState, elements: int, hit, start: float, synced: float, reduced: float) -> None:
    s = state.stats
    s["elements"] += elements
    s["injected"] += int(hit.sum()) if hit is not None else 0
    s["sync_s"] += synced - start
    s["reduce_s"] += reduced - synced
    s["hook_s"] += time.perf_counter() - start


@dataclass
class TimedAllreduceState:
    """Baseline for overhead measurements: torch's float all-reduce, timed the same way."""

    process_group: dist.ProcessGroup | None = None
    stats: dict = field(default_factory=lambda: {"elements": 0, "hook_s": 0.0})


def timed_allreduce_hook(state: TimedAllreduceState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """The float mean over ranks (what DDP does by default), synchronous so its time is measurable."""
    start = time.perf_counter()
    group = state.process_group if state.process_group is not None else dist.group.WORLD
    grad = bucket.buffer()
    dist.all_reduce(grad, group=group)
    grad.div_(dist.get_world_size(group))
    state.stats["elements"] += grad.numel()
    state.stats["hook_s"] += time.perf_counter() - start
    future: torch.futures.Future[torch.Tensor] = torch.futures.Future()
    future.set_result(grad)
    return future
