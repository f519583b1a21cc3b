"""The DDP hook (optinc_pdk.ddp): 4 gloo processes train a tiny model with it; every rank's averaged
gradient is checked element by element against the floor average of the quantised gradients,
computed here independently in numpy, and injected errors against their stated rate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
dist = pytest.importorskip("torch.distributed")

from optinc_pdk.ddp import ErrorModel, OptincHookState, error_model_from_report, optinc_comm_hook  # noqa: E402
from optinc_pdk.ddp.network import decision_table, exact_table  # noqa: E402
from optinc_pdk.ddp.quantize import dequantise, floor_bias, quantise  # noqa: E402
from optinc_pdk.errors import OptincError  # noqa: E402

SERVERS, BITS, STEPS = 4, 8, 3
ERRORS = ErrorModel(probability=0.02, values=(1, 3), ratios=(0.75, 0.25))
PHASES = {  # name: hook state arguments
    "exact": {"bits": BITS},
    "errors": {"bits": BITS, "errors": ERRORS, "seed": 7},
    # modes network and optics share the lookup; the network's table is checked below without processes
    "optics": {"scenario": "b8n4", "mode": "optics"},
}


def _reference_average(locals_: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Independent of the hook: shared range, round-to-nearest b-bit integers, floor of the mean."""
    low, high = float(locals_.min()), float(locals_.max())
    scale = (high - low) / (2**BITS - 1) if high > low else 1.0
    q = np.clip(np.rint((locals_ - low) / scale), 0, 2**BITS - 1).astype(np.int64)
    return q.sum(axis=0) // SERVERS, low, (high - low) / (2**BITS - 1)  # the true LSB dequantises


def _train(rank: int, arguments: dict) -> OptincHookState:
    torch.manual_seed(0)  # the same initial model on every rank, as DDP expects
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3))
    ddp = torch.nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.001)  # several buckets
    state = OptincHookState(record=True, **arguments)
    ddp.register_comm_hook(state, optinc_comm_hook)
    optimiser = torch.optim.SGD(ddp.parameters(), lr=0.1)
    data = torch.Generator().manual_seed(100 + rank)  # each rank its own batch
    for _ in range(STEPS):
        x, y = torch.randn(16, 8, generator=data), torch.randint(0, 3, (16,), generator=data)
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(ddp(x), y).backward()
        for record in state.records[-_buckets_of_step(state):]:
            record["grads"] = torch.cat([p.grad.flatten() for p in record["params"]]).clone()
        optimiser.step()
    return state


def _buckets_of_step(state: OptincHookState) -> int:
    return len({r["bucket"] for r in state.records})


def _check(state: OptincHookState) -> dict:
    """Per phase: mismatches against the reference, hits, and the ranks' agreement."""
    counts = {"elements": 0, "mismatches": 0, "hits": 0, "unexplained": 0, "grad_mismatches": 0, "rank_disagree": 0}
    for record in state.records:
        gathered = [torch.empty_like(record["local"]) for _ in range(SERVERS)]
        dist.all_gather(gathered, record["local"])
        reference, low, scale = _reference_average(torch.stack(gathered).double().numpy())
        average = record["average"].numpy()
        hit = record["hit"].numpy() if record["hit"] is not None else np.zeros(average.shape, bool)
        counts["elements"] += average.size
        counts["mismatches"] += int((average != reference).sum())
        counts["hits"] += int(hit.sum())
        # every difference is an injected error of a stated value, at a hit position
        delta = average - reference
        counts["unexplained"] += int((~hit & (delta != 0)).sum() + (hit & ~np.isin(delta, ERRORS.values)).sum())
        expected = (low + scale * (average + floor_bias(SERVERS))).astype(np.float32)
        counts["grad_mismatches"] += int((record["grads"].numpy() != expected).sum())
        everyone = [torch.empty_like(record["average"]) for _ in range(SERVERS)]
        dist.all_gather(everyone, record["average"])
        counts["rank_disagree"] += sum(int((e != record["average"]).sum()) for e in everyone)
    return counts


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=SERVERS)
    try:
        results = {name: _check(_train(rank, arguments)) for name, arguments in PHASES.items()}
    finally:
        dist.destroy_process_group()
    with open(f"{out_dir}/rank{rank}.json", "w") as handle:
        json.dump(results, handle)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    torch.multiprocessing.spawn(_worker, args=(str(folder / "init"), str(folder)), nprocs=SERVERS, join=True)
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(SERVERS)]


@pytest.mark.parametrize("phase", ["exact", "optics"])
def test_every_rank_gets_the_floor_average_of_the_quantised_gradients(ranks, phase):
    for counts in (r[phase] for r in ranks):
        assert counts["elements"] > 1000
        assert counts["mismatches"] == 0 and counts["hits"] == 0
        assert counts["grad_mismatches"] == 0  # p.grad is the dequantised average, bias-corrected
        assert counts["rank_disagree"] == 0


def test_injected_errors_appear_at_the_stated_rate(ranks):
    for counts in (r["errors"] for r in ranks):
        n, p = counts["elements"], ERRORS.probability
        assert counts["mismatches"] == counts["hits"] and counts["unexplained"] == 0
        assert abs(counts["hits"] - n * p) <= 5 * math.sqrt(n * p * (1 - p)), counts  # binomial, 5 sigma
        assert counts["rank_disagree"] == 0  # every server receives the same wrong value


# --- without processes ----------------------------------------------------------------------------


@pytest.mark.parametrize("servers", [4, 8, 16])
def test_bias_correction_removes_the_floor_average_bias(servers):
    """floor(S/N) loses (N − 1)/(2N) LSB on average; adding it back centres the error on 0."""
    grads = torch.randn(servers, 200_000, generator=torch.Generator().manual_seed(servers), dtype=torch.float64)
    low, high = float(grads.min()), float(grads.max())
    q = quantise(grads, low, high, BITS)
    average = q.sum(dim=0) // servers
    lsb = (high - low) / (2**BITS - 1)
    exact = grads.mean(dim=0)
    raw = (dequantise(average, low, high, BITS, 0.0) - exact).mean() / lsb
    corrected = (dequantise(average, low, high, BITS, floor_bias(servers)) - exact).mean() / lsb
    assert raw == pytest.approx(-floor_bias(servers), abs=0.01)
    assert abs(corrected) < 0.01


def test_a_constant_bucket_comes_back_unchanged():
    """All ranks sent the same constant: the range is empty and no correction may move it."""
    grads = torch.full((4, 10), 0.25, dtype=torch.float64)
    q = quantise(grads, 0.25, 0.25, BITS)
    assert torch.equal(dequantise(q.sum(dim=0) // 4, 0.25, 0.25, BITS, floor_bias(4)), grads[0])


def test_network_table_of_the_shipped_b8n4_is_the_floor_average():
    assert np.array_equal(decision_table("b8n4"), exact_table(8, 4, 4))


def test_bad_settings_are_refused_in_one_line():
    with pytest.raises(OptincError, match="probability"):
        ErrorModel(probability=1.5)
    with pytest.raises(OptincError, match="serves 4 servers"):
        OptincHookState(scenario="b8n4").prepare(8)
    with pytest.raises(OptincError, match="mode"):
        OptincHookState(bits=8, mode="optics").prepare(4)
    with pytest.raises(OptincError, match="bits"):
        OptincHookState(bits=7).prepare(4)


def test_error_model_from_evaluate_and_yield_reports(tmp_path):
    rows = [{"error": 1, "count": 9, "ratio": 0.9}, {"error": -4, "count": 1, "ratio": 0.1}]
    evaluate = tmp_path / "evaluate.json"
    evaluate.write_text(json.dumps({"accuracy": 0.999, "error_values": rows}))
    model = error_model_from_report(str(evaluate))
    assert model.probability == pytest.approx(0.001) and model.values == (1, -4) and model.ratios == (0.9, 0.1)
    chips = tmp_path / "yield.json"
    chips.write_text(json.dumps({"accuracy": {"mean": 0.99, "min": 0.9}, "error_values": rows}))
    assert error_model_from_report(str(chips)).probability == pytest.approx(0.01)
    perfect = tmp_path / "perfect.json"
    perfect.write_text(json.dumps({"accuracy": 1.0, "error_values": []}))
    assert error_model_from_report(str(perfect)).probability == 0.0
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"accuracy": 0.9, "error_values": [{"error": 0.25, "ratio": 1.0}]}))
    with pytest.raises(OptincError, match="broken.json: error_values"):
        error_model_from_report(str(broken))
