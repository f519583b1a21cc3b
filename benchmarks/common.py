"""What every benchmark script shares: the machine line it prints, a time-limited alternative run in its own process,
and the pre-banded mesh product it compares against.

The scripts run as ``python benchmarks/bench_X.py``, which puts this folder on ``sys.path``.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import platform
import time

import numpy as np


def machine() -> str:
    """CPU, cores, load, Python, numpy/scipy and BLAS threads, date: the line each benchmark result starts with."""
    import scipy

    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    load = "/".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{model}, {cores} cores, load average {load} at start; Python {platform.python_version()}, "
            f"numpy {np.__version__}, scipy {scipy.__version__}, BLAS threads {threads}; "
            f"{datetime.date.today().isoformat()}")


def timed_in_process(target, args: tuple, limit_s: float, label: str) -> None:
    """Run ``target(*args)`` in its own process for at most ``limit_s`` seconds and print how long it took (or that
    it was stopped): the slow alternatives a benchmark compares against must not hold the whole run."""
    process = multiprocessing.Process(target=target, args=args)
    start = time.perf_counter()
    process.start()
    process.join(limit_s)
    if process.is_alive():
        process.terminate()
        print(f"{label}: stopped after {limit_s:g} s")
    else:
        print(f"{label}: {time.perf_counter() - start:.1f} s")


def column_by_column_mesh(n_modes, theta, phi, top_mode, column, output_phase) -> np.ndarray:
    """The mesh → matrix product before the banded ``mesh_transfer``: one layout column at a time on the
    identity. Kept only as the baseline the benchmarks compare the banded product with."""
    from optinc_pdk.core.mzi import mzi_transfer

    theta, phi, output_phase = np.atleast_2d(theta), np.atleast_2d(phi), np.atleast_2d(output_phase)
    matrix = np.zeros((theta.shape[0], n_modes, n_modes), dtype=np.complex128)
    matrix[:, np.arange(n_modes), np.arange(n_modes)] = 1.0
    order = np.argsort(column, kind="stable")
    for group in np.split(order, np.flatnonzero(np.diff(np.asarray(column)[order])) + 1):
        transfer = mzi_transfer(theta[:, group], phi[:, group])[..., None]
        upper_mode = np.asarray(top_mode)[group]
        upper, lower = matrix[:, upper_mode, :], matrix[:, upper_mode + 1, :]
        matrix[:, upper_mode, :] = transfer[:, :, 0, 0] * upper + transfer[:, :, 0, 1] * lower
        matrix[:, upper_mode + 1, :] = transfer[:, :, 1, 0] * upper + transfer[:, :, 1, 1] * lower
    return np.exp(1j * output_phase)[:, :, None] * matrix
