"""Sharding chip samples over processes started by ``torchrun`` (torch.distributed, gloo on CPU).

A single process is the default and never imports torch. Under ``torchrun`` (WORLD_SIZE > 1 in the
environment) every rank simulates the chips ``rank, rank + world, …`` and the per-chip result arrays
(zero where a rank did not simulate a chip) are summed over the ranks. Every chip is simulated by
exactly one rank and adding zeros is exact, so the sums equal the single-process arrays bit for bit:
with per-chip seeds (:func:`optinc_pdk.simulate.nonideal.chip_seed`) the result does not depend on
the number of ranks. Arrays travel as tensors (no pickled objects).
"""

from __future__ import annotations

import os

import numpy as np

from optinc_pdk.errors import OptincError


def world_size() -> int:
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError as error:
        raise OptincError(f"WORLD_SIZE: {os.environ['WORLD_SIZE']!r} is not a whole number") from error


def rank_and_world() -> tuple[int, int]:
    """(rank, world size): (0, 1) for a plain process; joins the gloo process group under torchrun."""
    world = world_size()
    if world == 1:
        return 0, 1
    try:
        import torch.distributed as dist
    except ImportError as error:
        raise OptincError("WORLD_SIZE > 1: sharding over ranks needs the torch extra (pip install '.[torch]')") from error
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return dist.get_rank(), dist.get_world_size()


def my_chips(chips: int, rank: int, world: int) -> range:
    return range(rank, chips, world)


def sum_over_ranks(arrays: list[np.ndarray], world: int) -> list[np.ndarray]:
    """Element-wise sums of each array over all ranks (the arrays themselves in a single process)."""
    if world == 1:
        return arrays
    import torch
    import torch.distributed as dist

    summed = []
    for array in arrays:
        tensor = torch.from_numpy(np.ascontiguousarray(array).copy())
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        summed.append(tensor.numpy().astype(array.dtype, copy=False))
    return summed


def finish(world: int) -> None:
    """Leave the process group (torchrun expects every rank to exit cleanly)."""
    if world == 1:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
