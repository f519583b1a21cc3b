"""Yield speed: b8n4 chip samples on the whole dataset (28 561 inputs), and where the time goes.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_yield.py              # 1000 chips
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_yield.py --chips 100

Target (issue 29): 1 000 b8n4 chips (σ_phase = 0.01 rad, 8-bit DACs) in ≤ 10 minutes on the 2-core
machine. Runs the steps of :func:`optinc_pdk.simulate.yield_.simulate_chips` one by one with a clock
around each (the same functions, same batches), checks the result equals simulate_chips' own on the
first batch, and prints a markdown table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
from common import machine

from optinc_pdk.circuit.builder import build_description
from optinc_pdk.core.datasets import exhaustive_dataset
from optinc_pdk.core.weights import load_for_scenario
from optinc_pdk.simulate import fused as fused_path
from optinc_pdk.simulate import yield_
from optinc_pdk.simulate.nonideal import ErrorModel, ErrorSites
from optinc_pdk.simulate.stages import compile_block
from optinc_pdk.spec.scenario import load_scenario


def timed_chips(description, sites, model, inputs, seed, chips) -> tuple[dict, yield_.ChipOutcomes]:
    clock = defaultdict(float)
    out = yield_.ChipOutcomes.empty(chips, inputs.data.n_outputs)
    receivers = description.server_output_channels().ravel()
    for start in range(0, chips, yield_.CHIP_BATCH):
        batch = np.arange(start, min(chips, start + yield_.CHIP_BATCH))
        t0 = time.perf_counter()
        normals = sites.draw(seed, batch)
        t1 = time.perf_counter()
        leaves = sites.leaf_matrices(model, normals)
        t2 = time.perf_counter()
        clock["draw the errors (numpy Generator per chip)"] += t1 - t0
        clock["imperfect leaf matrices (mzi_transfer_general, mesh_transfer)"] += t2 - t1
        for j, chip in enumerate(batch):
            t0 = time.perf_counter()
            stage = compile_block(description.top, leaf_matrices={name: m[j] for name, m in leaves.items()})
            t1 = time.perf_counter()
            fused = fused_path.fuse(stage)
            matrix, offset = fused[-1]
            fused[-1] = (matrix[receivers] * description.receiver_gain, offset[receivers] * description.receiver_gain)
            segments = [fused_path.Segment(np.ascontiguousarray(m.real, dtype=np.float32), o.real.astype(np.float32))
                        for m, o in fused]
            t2 = time.perf_counter()
            levels = fused_path.received_levels(segments, inputs.fields)
            t3 = time.perf_counter()
            yield_.record_chip(out, int(chip), levels, inputs)
            t4 = time.perf_counter()
            clock["compile_block with the chip's leaves (composites collapse)"] += t1 - t0
            clock["fuse affine runs, real float32 segments"] += t2 - t1
            clock["28 561 inputs through the segments (float32 matmuls)"] += t3 - t2
            clock["decide, margins, error values"] += t4 - t3
    return clock, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(machine())
    start = time.perf_counter()
    scenario = load_scenario("b8n4")
    description = build_description(scenario, load_for_scenario(scenario))
    inputs = yield_.yield_inputs(description, exhaustive_dataset(scenario), 0, args.seed)
    sites = ErrorSites(description)
    setup = time.perf_counter() - start
    model = ErrorModel(sigma_phase=0.01, dac_bits=8)
    begin = time.perf_counter()
    clock, out = timed_chips(description, sites, model, inputs, args.seed, args.chips)
    total = time.perf_counter() - begin
    check = yield_.ChipOutcomes.empty(args.chips, inputs.data.n_outputs)
    first = range(min(args.chips, yield_.CHIP_BATCH))
    yield_.simulate_chips(description, sites, model, inputs, args.seed, first, check)
    assert np.array_equal(check.correct[: len(first)], out.correct[: len(first)]), "timed steps differ from simulate_chips"
    print(f"\n{args.chips} chips × {inputs.size} inputs: {total:.1f} s ({total / args.chips * 1e3:.0f} ms per chip), "
          f"setup (build, dataset, sites) {setup:.1f} s; yield {np.mean(out.correct == inputs.size):.3f}, "
          f"mean accuracy {np.mean(out.correct) / inputs.size:.4f}\n")
    print("| step | s | share |\n| --- | ---: | ---: |")
    for step, seconds in sorted(clock.items(), key=lambda item: -item[1]):
        print(f"| {step} | {seconds:.1f} | {100 * seconds / total:.0f}% |")


if __name__ == "__main__":
    main()
