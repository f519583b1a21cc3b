"""Simulation speed: 1024-mode mesh from its phases, b8n4 end to end, side by side with sax.

    python benchmarks/bench_simulate.py            # everything (sax part needs `pip install sax`)
    python benchmarks/bench_simulate.py --no-sax

Targets (issue 5): a 1024-mode Clements mesh's transfer matrix from its phases in ≤ 2 s; the
end-to-end simulation of b8n4 on its 28 561 samples in ≤ 10 s. Prints markdown tables for
benchmarks/README.md, with the machine and its load average (the timings are wall-clock).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from common import column_by_column_mesh, machine


def timed(function, repeats: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def clements_layout(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Top modes and columns of a rectangular mesh: column c holds MZIs on modes m ≡ c (mod 2)."""
    top = np.concatenate([np.arange(c % 2, n - 1, 2) for c in range(n)])
    column = np.concatenate([np.full(len(range(c % 2, n - 1, 2)), c) for c in range(n)])
    return top, column


def bench_mesh(n: int, repeats: int) -> None:
    from optinc_pdk.decompose.transfer import mesh_transfer

    rng = np.random.default_rng(0)
    top, column = clements_layout(n)
    theta, phi = rng.uniform(0, 2 * np.pi, top.size), rng.uniform(0, 2 * np.pi, top.size)
    psi = rng.uniform(0, 2 * np.pi, n)
    best, median, ours = timed(lambda: mesh_transfer(n, theta, phi, top, column, psi), repeats)
    start = time.perf_counter()
    reference = column_by_column_mesh(n, theta[None], phi[None], top, column, psi[None])[0]
    elementwise = time.perf_counter() - start
    unitarity = np.abs(ours.conj().T @ ours - np.eye(n)).max()
    print(f"\n### {n}-mode Clements mesh ({top.size} MZIs), transfer matrix from its phases\n")
    print("| method | best (s) | median (s) |")
    print("| --- | --- | --- |")
    print(f"| optinc_pdk.decompose.transfer.mesh_transfer (band chunks + BLAS tiles) | {best:.2f} | {median:.2f} |")
    print(f"| the previous column-by-column product (benchmarks/common.py) | {elementwise:.2f} | (1 run) |")
    print(f"\nmax |ours − column-by-column| = {np.abs(ours - reference).max():.1e}, max |UᴴU − I| = {unitarity:.1e}")


def bench_end_to_end(name: str) -> None:
    from optinc_pdk.circuit import build_description
    from optinc_pdk.circuit.random_weights import random_weights
    from optinc_pdk.core.weights import load_for_scenario, shipped_weights_path
    from optinc_pdk.simulate.chain import compile_chain
    from optinc_pdk.simulate.report import end_to_end, layer_errors
    from optinc_pdk.spec.scenario import load_scenario

    scenario = load_scenario(name)
    shipped = shipped_weights_path(scenario).is_file()
    weights = load_for_scenario(scenario) if shipped else random_weights(scenario, 0)
    start = time.perf_counter()
    description = build_description(scenario, weights)
    built = time.perf_counter()
    chain = compile_chain(description)
    compiled = time.perf_counter()
    worst = max(row["relative_error"] for row in layer_errors(chain))
    checked = time.perf_counter()
    result = end_to_end(chain, weights, scenario)
    done = time.perf_counter()
    print(f"\n### {name} end to end ({'shipped' if shipped else 'random'} weights, {result['samples']} samples, "
          f"{result['servers']} servers)\n")
    print("| step | seconds |")
    print("| --- | --- |")
    print(f"| build the description (decompose every layer) | {built - start:.2f} |")
    print(f"| compile (every layer's optical matrix from its phases) | {compiled - built:.2f} |")
    print(f"| per-layer error check (block projection of W: one SVD per block) | {checked - compiled:.2f} |")
    print(f"| run the dataset: server digits → receivers, decide, compare with the model | {done - checked:.2f} |")
    print(f"| **simulation (compile + run)** | **{done - built - (checked - compiled):.2f}** |")
    print(f"\nmax layer relative error {worst:.1e}; optical accuracy {result['optical_accuracy']:.6f}, "
          f"model {result['model_accuracy']:.6f}, differing decisions {result['decisions_differing_from_model']}")


def bench_sax(sizes: list[int]) -> None:
    import sax
    from scipy.stats import unitary_group

    from optinc_pdk.circuit.model import MeshBlock
    from optinc_pdk.circuit.netlist import block_netlist
    from optinc_pdk.decompose import decompose_unitary
    from optinc_pdk.pdk.models import MODELS
    from optinc_pdk.pdk.ports import east_port, west_port
    from optinc_pdk.simulate.stages import mesh_matrix

    print("\n### Mesh transfer matrix: optinc vs sax (klu backend, PDK models, exported YAML netlist)\n")
    print("| modes | MZIs | optinc (s) | sax: netlist → circuit (s) | sax: evaluate (s) | max abs difference |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in sizes:
        block = MeshBlock("U", n, n, phases=decompose_unitary(unitary_group.rvs(n, random_state=n)))
        best, _, ours = timed(lambda: mesh_matrix(block), 3)
        start = time.perf_counter()
        circuit, _ = sax.circuit(block_netlist(block), models=MODELS, backend="klu")
        built = time.perf_counter()
        s = circuit()
        evaluated = time.perf_counter()
        theirs = np.array([[complex(s[(west_port(i, n), east_port(j, n, n))]) for i in range(n)] for j in range(n)])
        print(f"| {n} | {block.n_mzis} | {best:.4f} | {built - start:.2f} | {evaluated - built:.2f} | "
              f"{np.abs(theirs - ours).max():.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-sax", action="store_true")
    parser.add_argument("--modes", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    bench_mesh(args.modes, args.repeats)
    bench_end_to_end("b8n4")
    if not args.no_sax:
        bench_sax([16, 32, 64])
    print(f"\nload average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
