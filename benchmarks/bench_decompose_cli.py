"""`optinc decompose` of a Haar-random 1024×1024 unitary, end to end, with its parts and peers, in one run.

    python benchmarks/bench_decompose_cli.py                      # the README table
    python benchmarks/bench_decompose_cli.py --old-tree /tmp/old  # also the whole process of an older checkout
    python benchmarks/bench_decompose_cli.py -n 256 --repeat 1 --peer-sizes   # quick look, no peer

What it times, all in this one run (wall seconds from time.perf_counter; the whole process also its
user+system CPU from the child's rusage, because the machine is shared):

1. the whole process: ``optinc decompose U.npy -o OUT`` (the console script beside this Python: start,
   imports, load, decompose, reconstruction check, phase map written), best and median of --repeat;
   with --old-tree, the same command run from that source tree (e.g. ``git archive <rev> | tar -x``),
   alternating with ours;
2. its parts in process: load, unitarity product max abs(UᴴU − I) (one GEMM; the CLI overlaps it with the
   decomposition), decompose_unitary, the reconstruction check with the banded mesh_transfer, the old
   column-by-column check (the previous ``mesh_matrices``, kept here for the comparison only), writing;
3. numpy/scipy linear algebra on the same matrix for scale: one complex GEMM, QR, SVD;
4. the `interferometer` package's Clements decomposition against ours at --peer-sizes (it multiplies
   N×N matrices per MZI, so N = 1024 is out of its reach; PYTHONPATH may point at a --target install).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import column_by_column_mesh, machine


def timed(call, repeat: int = 1):
    """(best wall seconds, median wall seconds, result of the best run)."""
    walls, best = [], (float("inf"), None)
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        wall = time.perf_counter() - start
        walls.append(wall)
        if wall < best[0]:
            best = (wall, result)
    return best[0], statistics.median(walls), best[1]


def run_process(command: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, user+system CPU seconds, stdout) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def whole_process(args, unitary_path: Path, work: Path) -> list[tuple[str, float, float, float, str]]:
    optinc = shutil.which("optinc", path=str(Path(sys.executable).parent)) or "optinc"
    runs = {"ours": []}
    commands = {"ours": ([optinc, "decompose", str(unitary_path), "-o", str(work / "ours")], None)}
    if args.old_tree:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(args.old_tree).resolve()),
                                                             os.environ.get("PYTHONPATH", "")])}
        code = ("import sys, optinc_pdk; assert optinc_pdk.__file__.startswith(sys.argv[1]), optinc_pdk.__file__; "
                "from optinc_pdk.cli.main import main; sys.exit(main(sys.argv[2:]))")
        commands["old tree"] = ([sys.executable, "-c", code, str(Path(args.old_tree).resolve()), "decompose",
                                 str(unitary_path), "-o", str(work / "old")], env)
        runs["old tree"] = []
    for _ in range(args.repeat):
        for label, (command, env) in commands.items():
            runs[label].append(run_process(command, env))
    rows = []
    for label, results in runs.items():
        walls = [wall for wall, _, _ in results]
        best = min(results)
        error = next((line.split("=")[-1].strip() for line in best[2].splitlines() if "reconstruction" in line), "?")
        rows.append((label, best[0], statistics.median(walls), best[1], error))
    return rows


def parts(n: int, unitary: np.ndarray, unitary_path: Path, work: Path, repeat: int, old: bool):
    from optinc_pdk.cli.decompose import load_matrix
    from optinc_pdk.decompose import decompose_unitary, unitarity_error
    from optinc_pdk.decompose.phasemap import save_phase_map, unitary_entries

    rows = []
    wall, _, matrix = timed(lambda: load_matrix(unitary_path), repeat)
    rows.append(("load U.npy (load_matrix)", wall, ""))
    wall, _, deviation = timed(lambda: unitarity_error(matrix), repeat)
    rows.append(("unitarity product max abs(UᴴU − I) (one GEMM; overlapped with the decomposition in the CLI)", wall,
                 f"{deviation:.1e}"))
    wall, _, mesh = timed(lambda: decompose_unitary(matrix), repeat)
    rows.append(("decompose_unitary (nulling + phases)", wall, f"{mesh.n_mzi} MZIs"))
    wall, _, rebuilt = timed(mesh.matrix, repeat)
    rows.append(("check: MeshPhases.matrix() = banded mesh_transfer", wall, f"max error {np.abs(rebuilt - matrix).max():.1e}"))
    if old:
        wall, _, rebuilt_old = timed(lambda: column_by_column_mesh(n, mesh.theta[None], mesh.phi[None], mesh.top_mode,
                                                               mesh.column, mesh.output_phase[None])[0])
        rows.append(("check, old path: column by column on the identity (1 run)", wall,
                     f"max error {np.abs(rebuilt_old - matrix).max():.1e}"))
    entries, layer = unitary_entries("matrix", mesh)
    wall, _, _ = timed(lambda: save_phase_map(work / "parts", entries, {"layers": [layer]}), repeat)
    rows.append(("write the phase map (.npz + .json)", wall, ""))
    wall, _, _ = timed(lambda: unitary @ unitary, repeat)
    rows.append(("numpy: one complex GEMM U @ U", wall, ""))
    wall, _, _ = timed(lambda: np.linalg.qr(unitary), repeat)
    rows.append(("numpy: QR (np.linalg.qr)", wall, ""))
    wall, _, _ = timed(lambda: np.linalg.svd(unitary), repeat)
    rows.append(("numpy: SVD (np.linalg.svd)", wall, ""))
    import scipy.linalg

    wall, _, _ = timed(lambda: scipy.linalg.schur(unitary, output="complex"), 1)
    rows.append(("scipy: complex Schur form (scipy.linalg.schur, 1 run)", wall, ""))
    return rows


def peers(sizes: list[int], repeat: int):
    from scipy.stats import unitary_group

    from optinc_pdk.decompose import decompose_unitary

    try:
        import interferometer
    except ImportError:
        return None
    rows = []
    for n in sizes:
        unitary = unitary_group.rvs(n, random_state=n)
        ours, _, mesh = timed(lambda: decompose_unitary(unitary), repeat)
        ours_error = float(np.abs(mesh.matrix() - unitary).max())
        theirs, _, circuit = timed(lambda: interferometer.square_decomposition(unitary), 1)
        their_error = float(np.abs(circuit.calculate_transformation() - unitary).max())
        rows.append((n, ours, ours_error, theirs, their_error))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1024, help="matrix size (default 1024)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--old-tree", help="a source tree of an older optinc to time the whole process of, too")
    parser.add_argument("--no-old-check", action="store_true", help="skip the ~10 s old column-by-column check")
    parser.add_argument("--peer-sizes", type=int, nargs="*", default=[64, 128])
    args = parser.parse_args()
    from scipy.stats import unitary_group

    print(f"machine: {machine()}")
    unitary = unitary_group.rvs(args.n, random_state=1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        unitary_path = work / "U.npy"
        np.save(unitary_path, unitary)
        rows = whole_process(args, unitary_path, work)
        print(f"\nWhole process, N = {args.n} (best / median of {args.repeat}):\n")
        print("| command | best wall (s) | median wall (s) | CPU of the best run (s) | printed max error |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for label, best, median, cpu, error in rows:
            print(f"| {label} | {best:.2f} | {median:.2f} | {cpu:.2f} | {error} |")
        part_rows = parts(args.n, unitary, unitary_path, work, args.repeat, not args.no_old_check)
    print(f"\nParts, in process, N = {args.n} (best of {args.repeat} unless noted):\n")
    print("| step | wall (s) | note |")
    print("| --- | ---: | --- |")
    for label, wall, note in part_rows:
        print(f"| {label} | {wall:.3f} | {note} |")
    peer_rows = peers(args.peer_sizes, args.repeat) if args.peer_sizes else []
    if peer_rows is None:
        print("\ninterferometer is not installed: no peer column (pip install interferometer)")
    elif peer_rows:
        print("\n| N | ours: decompose_unitary (s) | max error | interferometer.square_decomposition (s) | max error | speed-up |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for n, ours, ours_error, theirs, their_error in peer_rows:
            print(f"| {n} | {ours:.4f} | {ours_error:.1e} | {theirs:.2f} | {their_error:.1e} | {theirs / ours:.0f}× |")
    for name in ("strawberryfields",):
        try:
            __import__(name)
        except ImportError:
            print(f"{name} is not installed: not compared")


if __name__ == "__main__":
    main()
