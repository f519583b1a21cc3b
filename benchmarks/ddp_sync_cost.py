"""What the OptINC hook's scale/offset agreement costs against the bucket's own all-reduce (docs/ddp.md).

    .venv/bin/torchrun --nproc-per-node 4 benchmarks/ddp_sync_cost.py

Per bucket size (elements), the median over repeats of: the agreement (all-reduce MAX of two float64),
the OptINC sum (all-reduce SUM of int32) and torch's float32 all-reduce, all over gloo.
The paper reports "less than 0.4%" for the agreement; it is one small message, so its share falls
as the bucket grows.
"""

import statistics
import time

import torch
import torch.distributed as dist
from common import machine

SIZES = [10_000, 100_000, 1_000_000, 6_553_600]  # the last: DDP's default 25 MB bucket of fp32
REPEATS = 7


def timed(operation) -> float:
    times = []
    for _ in range(REPEATS):
        dist.barrier()
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rows = []
    for size in SIZES:
        pair, ints, floats = torch.zeros(2, dtype=torch.float64), torch.ones(size, dtype=torch.int32), torch.ones(size)
        sync = timed(lambda: dist.all_reduce(pair, op=dist.ReduceOp.MAX))
        optinc = timed(lambda: dist.all_reduce(ints))
        ring = timed(lambda: dist.all_reduce(floats))
        rows.append((size, sync, optinc, ring))
    if dist.get_rank() == 0:
        print(f"{dist.get_world_size()} gloo processes; {machine()}")
        print("| elements | sync (ms) | int32 sum (ms) | float32 all-reduce (ms) | sync / float all-reduce |")
        print("| ---: | ---: | ---: | ---: | ---: |")
        for size, sync, optinc, ring in rows:
            print(f"| {size:,} | {1e3 * sync:.3f} | {1e3 * optinc:.2f} | {1e3 * ring:.2f} | {100 * sync / ring:.1f}% |")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
