"""`optinc decompose`: MZI phases for a matrix you bring (.npy), written as a phase map v1.

A square matrix that is unitary to within 1e-10 (max |UᴴU − I|) becomes one mesh; anything else
goes the SVD path (Vᴴ mesh, Σ attenuator column, U mesh, with the layer scale). ``--unitary``
forces the unitary path and rejects a non-unitary matrix.
"""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("decompose")
    def decompose_cmd(
        matrix: Path = typer.Argument(..., help="2-D .npy array (real or complex), saved without pickle"),
        output: Path = typer.Option(..., "-o", "--output", help="phase map prefix (writes PREFIX.npz and PREFIX.json)"),
        mesh: str = typer.Option("clements", "--mesh", help="clements (rectangular) or reck (triangular)"),
        unitary: bool = typer.Option(False, "--unitary", help="require a unitary and decompose it as one mesh"),
        min_power: bool = typer.Option(False, "--min-power", help=(
            "also choose each MZI's heater arms for the least heater power (writes PREFIX.heaters.npz)")),
        as_json: bool = typer.Option(False, "--json", help="machine-readable summary"),
    ) -> None:
        """Decompose MATRIX into MZI phases; print the MZI count and the reconstruction error."""
        from optinc_pdk.cli.output import console, print_json, table

        summary = decompose_file(matrix, output, mesh=mesh, force_unitary=unitary, min_power=min_power)
        if as_json:
            print_json(summary)
            return
        rows = [[name, count] for name, count in summary["mzis"].items()]
        rows.append(["total", summary["n_mzi"]])
        shape = "x".join(str(side) for side in summary["shape"])
        console.print(f"{matrix}: {shape}, {summary['path']} path, {summary['mesh']} mesh")
        console.print(table("MZIs", ["entry", "MZIs"], rows))
        if summary["path"] == "svd":
            console.print(f"layer scale s = {summary['scale']:.6g} (matrix = s x realised)")
        console.print(f"max |reconstruction - matrix| = {summary['max_abs_error']:.3g}")
        if "heater_power" in summary:
            p = summary["heater_power"]
            console.print(f"heater power: plain {p['plain_w']:.3f} W, heaters on their cheaper arms {p['least_w']:.3f} W "
                          f"({100 * p['saving']:.1f} % less); same meshes to {p['max_matrix_error']:.1e}")
        console.print(f"wrote {', '.join(summary['files'])}")


def load_matrix(path: Path):
    """The 2-D finite numeric array stored in a .npy file, or a one-line OptincError."""
    from optinc_pdk.core.npyfile import read_npy
    from optinc_pdk.decompose import as_matrix
    from optinc_pdk.errors import OptincError, located
    from optinc_pdk.spec.limits import check_memory, mesh_mzis

    loaded = read_npy(path, "matrix")
    if loaded.ndim == 2:  # before any conversion: the meshes of the larger side dominate (complex, per MZI)
        side = max(loaded.shape)
        check_memory(64 * mesh_mzis(side) + 48 * side * side, f"decomposing a {loaded.shape} matrix", path)
    try:
        return as_matrix(loaded, "matrix")
    except OptincError as error:
        raise located(path, "", str(error)) from None


def _surely_not_unitary(matrix, atol: float) -> bool:
    """True when a few random probes prove max |UᴴU − I| > atol (an O(N²) test; False proves nothing).

    With G = UᴴU − I, xᴴGx = ‖Ux‖² − ‖x‖² and |xᴴGx| ≤ max|G|·‖x‖₁², so a probe whose
    |‖Ux‖² − ‖x‖²| exceeds atol·‖x‖₁² (plus a generous rounding allowance) shows max|G| > atol.
    Any ordinary weight matrix fails the first probe; a unitary never does.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    n = matrix.shape[1]
    probes = rng.standard_normal((n, 4)) + 1j * rng.standard_normal((n, 4))
    image = np.sum(np.abs(matrix @ probes) ** 2, axis=0)
    norm = np.sum(np.abs(probes) ** 2, axis=0)
    allowance = 1e-10 * (image + norm)
    return bool(np.any(np.abs(image - norm) > atol * np.sum(np.abs(probes), axis=0) ** 2 + allowance))


def _decompose_and_measure(matrix, mesh: str, name: str):
    """(phases or the decomposition's OptincError, max |UᴴU − I|) of a square matrix that may be unitary.

    The O(N³) unitarity product runs in a second thread (numpy's BLAS releases the GIL) while this one
    decomposes, so on two cores it costs no wall time; the caller decides the path from its exact value.
    """
    from concurrent.futures import ThreadPoolExecutor

    from optinc_pdk.decompose import decompose_unitary, unitarity_error
    from optinc_pdk.errors import OptincError

    with ThreadPoolExecutor(max_workers=1) as pool:
        deviation = pool.submit(unitarity_error, matrix)
        try:
            phases = decompose_unitary(matrix, mesh, name=name)
        except OptincError as error:
            phases = error
        return phases, deviation.result()


def decompose_file(matrix_path: Path, output: Path, mesh: str = "clements", force_unitary: bool = False,
                   min_power: bool = False) -> dict:
    """Load, decompose, check the reconstruction and write the phase map; returns a summary dict.

    Every check happens before anything is written. The path is chosen exactly as documented (unitary
    when max |UᴴU − I| ≤ UNITARY_ATOL); a cheap probe spares ordinary (non-unitary) matrices the
    unitarity product, and for likely unitaries that product overlaps the decomposition.
    """
    import numpy as np

    from optinc_pdk.core.atomic import check_output_file
    from optinc_pdk.decompose import MESH_KINDS, UNITARY_ATOL, map_layer_svd, unitarity_error
    from optinc_pdk.decompose.phasemap import layer_entries, phase_map_paths, save_phase_map, unitary_entries
    from optinc_pdk.errors import OptincError

    if mesh not in MESH_KINDS:
        raise OptincError(f"--mesh: must be one of {', '.join(MESH_KINDS)}, got {mesh!r}")
    heaters_path = phase_map_paths(output)[0].with_suffix(".heaters.npz")
    for written in (*phase_map_paths(output), *([heaters_path] if min_power else [])):  # refuse a bad place first
        check_output_file(written, "--output")
    matrix = load_matrix(matrix_path)
    square = matrix.shape[0] == matrix.shape[1]
    phases = None
    if not square:
        deviation = float("inf")
    elif _surely_not_unitary(matrix, UNITARY_ATOL):
        deviation = unitarity_error(matrix) if force_unitary else float("inf")  # exact value for the message
    else:
        phases, deviation = _decompose_and_measure(matrix, mesh, str(matrix_path))
    if force_unitary and not deviation <= UNITARY_ATOL:
        what = f"max |UᴴU − I| = {deviation:.3g} > {UNITARY_ATOL:g}" if square else f"shape {matrix.shape} is not square"
        raise OptincError(f"{matrix_path}: --unitary: not a unitary ({what}); drop --unitary for the SVD path")
    if deviation <= UNITARY_ATOL:
        if isinstance(phases, OptincError):
            raise phases
        entries, layer = unitary_entries("matrix", phases)
        error = float(np.abs(phases.matrix() - matrix).max())
        path, scale = "unitary", 1.0
    else:
        mapping = map_layer_svd(matrix, mesh)
        entries, layer = layer_entries("matrix", mapping)
        error = float(np.abs(mapping.scale * mapping.matrix() - matrix).max())
        path, scale = "svd", mapping.scale
    files = save_phase_map(output, entries, {"layers": [layer], "source": str(matrix_path)})
    mzis = {name: entry.n_mzi for name, entry in entries.items()}
    summary = {
        "matrix": str(matrix_path), "shape": list(matrix.shape), "path": path, "mesh": mesh, "scale": scale,
        "mzis": mzis, "n_mzi": sum(mzis.values()), "max_abs_error": error, "files": [str(f) for f in files],
    }
    if min_power:
        summary["heater_power"] = write_heater_arms(entries, heaters_path)
        summary["files"].append(str(heaters_path))
    return summary


def write_heater_arms(entries: dict, path: Path) -> dict:
    """PREFIX.heaters.npz: per mesh entry its heaters' phases and arms (decompose/heater_arms.py); the power saved.

    Keys ``NAME/theta``, ``NAME/phi``, ``NAME/theta_lower``, ``NAME/phi_lower``, ``NAME/output_phase``: the
    phases of the heaters as placed (θ on the lower internal arm where ``theta_lower``, φ on the lower input
    arm where ``phi_lower``); the phase map beside it stays the plain decomposition, the same matrices.
    """
    import numpy as np

    from optinc_pdk.analysis.power import phase_power_w
    from optinc_pdk.core.atomic import atomic_path
    from optinc_pdk.decompose.heater_arms import least_power_arms
    from optinc_pdk.decompose.mesh import MeshPhases

    arrays, plain, least, worst = {}, [], [], 0.0
    for name, entry in entries.items():
        if not isinstance(entry, MeshPhases):  # a diagonal column keeps its heaters
            plain.append(np.concatenate([entry.theta, entry.phi]))
            least.append(plain[-1])
            continue
        arms = least_power_arms(entry.n_modes, entry.theta, entry.phi, entry.top_mode, entry.column, entry.output_phase)
        worst = max(worst, float(np.abs(arms.matrix(entry.n_modes, entry.top_mode, entry.column) - entry.matrix()).max()))
        arrays |= {f"{name}/theta": arms.theta, f"{name}/phi": arms.phi, f"{name}/theta_lower": arms.theta_lower,
                   f"{name}/phi_lower": arms.phi_lower, f"{name}/output_phase": arms.output_phase}
        plain.append(np.concatenate([entry.theta, entry.phi, entry.output_phase]))
        least.append(arms.phases())
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    plain_w, least_w = phase_power_w(np.concatenate(plain)), phase_power_w(np.concatenate(least))
    return {"plain_w": plain_w, "least_w": least_w, "saving": 1 - least_w / plain_w if plain_w else 0.0,
            "max_matrix_error": worst}
