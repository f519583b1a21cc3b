"""Decomposition speed, side by side with the `interferometer` package, in one run.

    python benchmarks/bench_decompose.py                # the README table (peers up to N = 256)
    python benchmarks/bench_decompose.py --peer-sizes 64 --ours-sizes 64 128 --repeat 1   # quick look

Haar-random complex unitaries (scipy.stats.unitary_group), one fixed seed per N; the same matrix goes
to every decomposer. Times are wall-clock seconds, best of --repeat runs (one run for peers slower
than 10 s); our CPU seconds are printed too because this machine is shared. The reconstruction error
is max |rebuilt − U| from our MeshPhases.matrix() (peers: their own rebuild).

The peer is optional (pip install -e '.[bench]' or pip install interferometer); without it the
script says so and times ours only. Nothing is installed or imported from peers at import time.
"""

from __future__ import annotations

import os

# One BLAS thread for every decomposer: the peer multiplies N×N matrices per MZI, and on a shared
# machine a multi-threaded BLAS makes its time depend on the neighbours more than on its algorithm.
# (Ours calls level-1 BLAS, which is single-threaded at these sizes anyway.)
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from common import machine  # noqa: E402

from optinc_pdk.decompose import decompose_unitaries_batched, decompose_unitary

SLOW_PEER_S = 10.0  # a peer run longer than this is not repeated


def haar(n: int, seed: int, real: bool = False) -> np.ndarray:
    from scipy.stats import ortho_group, unitary_group

    if n == 1:
        return np.eye(1)
    return (ortho_group if real else unitary_group).rvs(n, random_state=seed)


def timed(call, repeat: int):
    """(best wall seconds, CPU seconds of that run, result) over `repeat` runs."""
    best = (float("inf"), 0.0, None)
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best[0]:
            best = (wall, cpu, result)
        if wall > SLOW_PEER_S:
            break
    return best


def peer():
    try:
        import interferometer
    except ImportError:
        return None
    return interferometer


def bench_peer(module, unitary, repeat):
    wall, cpu, circuit = timed(lambda: module.square_decomposition(unitary), repeat)
    error = float(np.abs(circuit.calculate_transformation() - unitary).max())
    return wall, cpu, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer-sizes", type=int, nargs="*", default=[64, 128, 256])
    parser.add_argument("--ours-sizes", type=int, nargs="*", default=[64, 128, 256, 512, 1024])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    module = None if args.skip_peers else peer()
    if module is None and not args.skip_peers:
        print("interferometer is not installed: timing ours only (pip install interferometer)")
    rows = []
    for n in sorted(set(args.ours_sizes) | set(args.peer_sizes)):
        unitary, orthogonal = haar(n, seed=n), haar(n, seed=n, real=True)
        wall, cpu, mesh = timed(lambda: decompose_unitary(unitary), args.repeat)
        error = float(np.abs(mesh.matrix() - unitary).max())
        real_wall, _, real_mesh = timed(lambda: decompose_unitary(orthogonal), args.repeat)
        real_error = float(np.abs(real_mesh.matrix() - orthogonal).max())
        reck_wall, _, _ = timed(lambda: decompose_unitary(unitary, "reck"), args.repeat)
        peer_wall = peer_cpu = peer_error = None
        if module is not None and n in args.peer_sizes:
            peer_wall, peer_cpu, peer_error = bench_peer(module, unitary, args.repeat)
        rows.append((n, wall, cpu, error, real_wall, real_error, reck_wall, peer_wall, peer_cpu, peer_error))
        speedup = f"{peer_wall / wall:.3g}x" if peer_wall else "-"
        print(f"N={n}: ours {wall:.3f} s (cpu {cpu:.3f}), err {error:.1e}; real {real_wall:.3f} s; "
              f"reck {reck_wall:.3f} s; interferometer {peer_wall if peer_wall is None else f'{peer_wall:.2f} s'} "
              f"(cpu {peer_cpu}, err {peer_error}); speed-up {speedup}", flush=True)

    print("\n| N | ours, Clements complex (s) | ours CPU (s) | max error | ours, real orthogonal (s) | max error | ours, Reck complex (s) | interferometer (s) | its CPU (s) | max error | speed-up |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, wall, cpu, error, real_wall, real_error, reck_wall, peer_wall, peer_cpu, peer_error in rows:
        peer_cells = (f"{peer_wall:.3g} | {peer_cpu:.3g} | {peer_error:.1e} | {peer_wall / wall:.3g}x"
                      if peer_wall else "— | — | — | —")
        print(f"| {n} | {wall:.3g} | {cpu:.3g} | {error:.1e} | {real_wall:.3g} | {real_error:.1e} | {reck_wall:.3g} | {peer_cells} |")

    print("\n| batch of blocks | complex (ms) | real orthogonal (ms) | max error |")
    print("| --- | --- | --- | --- |")
    rng = np.random.default_rng(0)
    for count, k in ((512, 4), (4096, 4), (64, 16)):
        complex_blocks = np.stack([haar(k, int(seed)) for seed in rng.integers(0, 2**31, count)])
        real_blocks = np.stack([haar(k, int(seed), real=True) for seed in rng.integers(0, 2**31, count)])
        wall, _, batch = timed(lambda: decompose_unitaries_batched(complex_blocks), args.repeat)
        real_wall, _, real_batch = timed(lambda: decompose_unitaries_batched(real_blocks), args.repeat)
        error = max(np.abs(batch.matrices() - complex_blocks).max(), np.abs(real_batch.matrices() - real_blocks).max())
        print(f"| {count} x {k}x{k} | {1e3 * wall:.3g} | {1e3 * real_wall:.3g} | {error:.1e} |")


if __name__ == "__main__":
    main()
