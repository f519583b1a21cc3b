"""Plots of a build (matplotlib, headless): area per layer, ratios across scenarios, phase maps, Fig. 6.

Every function writes one PNG atomically and returns its path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from optinc_pdk.core.area import OnnArea
from optinc_pdk.core.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _pyplot().close(fig)
    return path


def plot_layer_area(result: OnnArea, path: Path) -> Path:
    """MZIs per layer: full SVD mapping beside the realised form, stacked by mesh / Σ and with trees."""
    plt = _pyplot()
    layers = result.layers
    x = np.arange(len(layers))
    full_mesh = np.array([l.full_mzis - min(l.out_dim, l.in_dim) for l in layers])
    full_sigma = np.array([min(l.out_dim, l.in_dim) for l in layers])
    mesh = np.array([l.mesh_mzis for l in layers])
    sigma = np.array([l.sigma_mzis for l in layers])
    trees = np.array([l.tree_splitters + l.tree_combiners for l in layers])
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(layers) + 2), 4))
    w = 0.38
    ax.bar(x - w / 2, full_mesh, w, label="full: U and Vᴴ meshes", color="#9db4d3")
    ax.bar(x - w / 2, full_sigma, w, bottom=full_mesh, label="full: Σ column", color="#4a6fa5")
    ax.bar(x + w / 2, mesh, w, label="realised: unitary meshes", color="#f2b880")
    ax.bar(x + w / 2, sigma, w, bottom=mesh, label="realised: Σ / diagonal columns", color="#d9822b")
    ax.bar(x + w / 2, trees, w, bottom=mesh + sigma, label="realised: fan-out / summing tree elements", color="#6b8f47")
    ax.set_xticks(x, [f"L{l.layer}\n{l.out_dim}×{l.in_dim}" + ("\napprox." if l.approximated else "") for l in layers])
    ax.set_ylabel("elements")
    ax.set_yscale("log")
    ax.set_title(f"{result.scenario}: MZIs per layer (total {result.approx_mzis} vs {result.full_mzis} full, "
                 f"{100 * result.ratio:.1f}%)")
    ax.legend(fontsize=7, loc="upper left")
    return _save(fig, path)


def plot_ratios(results: Sequence[OnnArea], path: Path, paper: dict[str, float] | None = None) -> Path:
    """Area ratio (approximated / full) per scenario, with the paper's published value where known."""
    plt = _pyplot()
    names = [r.scenario for r in results]
    ours = [100 * r.ratio for r in results]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(names) + 2), 3.6))
    x = np.arange(len(names))
    ax.bar(x - 0.2, ours, 0.4, label="optinc (computed)", color="#d9822b")
    if paper:
        ax.bar(x + 0.2, [100 * paper.get(n, np.nan) for n in names], 0.4, label="paper", color="#4a6fa5")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("area ratio (%)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title("MZIs of the approximated ONN relative to full SVD mapping")
    return _save(fig, path)


def plot_phase_maps(meshes: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray, int]], path: Path, limit: int = 64) -> Path:
    """Heatmaps of θ per mesh: (name, theta, top_mode, column, n_modes) tuples; the first ``limit`` are drawn."""
    plt = _pyplot()
    chosen = list(meshes)[:limit]
    cols = min(8, max(1, len(chosen)))
    rows = max(1, -(-len(chosen) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.0 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (name, theta, top_mode, column, n_modes) in zip(axes.flat, chosen):
        grid = np.full((max(n_modes - 1, 1), int(column.max()) + 1 if column.size else 1), np.nan)
        if column.size:
            grid[top_mode, column] = theta
        ax.axis("on")
        image = ax.imshow(grid, aspect="auto", cmap="twilight", vmin=0, vmax=2 * np.pi, interpolation="nearest")
        ax.set_title(f"{name} ({n_modes} modes)", fontsize=8)
        ax.set_xlabel("column", fontsize=7)
        ax.set_ylabel("top mode", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.colorbar(image if chosen else None, ax=axes, shrink=0.6, label="θ (rad)") if chosen else None
    fig.subplots_adjust(hspace=0.55, wspace=0.35)
    fig.suptitle("Internal phase θ of each MZI (column × top mode)", y=0.94)
    return _save(fig, path)


def plot_comm(report: dict, path: Path) -> Path:
    """Fig. 6: communication data per server normalised to the gradient size."""
    plt = _pyplot()
    rows = report["servers"]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.bar(x - 0.2, [r["ring_data"] for r in rows], 0.4, label="ring all-reduce", color="#4a6fa5")
    ax.bar(x + 0.2, [r["optinc_data"] for r in rows], 0.4, label="OptINC", color="#d9822b")
    for i, r in enumerate(rows):
        ax.text(i - 0.2, r["ring_data"] + 0.03, f"+{100 * r['ring_overhead']:.1f}%", ha="center", fontsize=8)
    ax.set_xticks(x, [f"{r['servers']} servers" for r in rows])
    ax.set_ylabel("data / gradient size")
    ax.set_ylim(0, 2.2)
    ax.legend(fontsize=8)
    ax.set_title("Communication data (Fig. 6)")
    return _save(fig, path)


def plot_heater_power(power: dict, path: Path) -> Path:
    """Static heater power per stage (W), from the build's phases."""
    plt = _pyplot()
    # two bars per stage: plain and least-power heaters (a --min-power build draws the second, its report has "plain")
    plain = power.get("plain") or power
    least = power if power.get("plain") else power.get("least")
    stages = plain["stages"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    x = np.arange(len(stages))
    width = 0.4 if least else 0.8
    drawn = {True: " (drawn)", False: ""}
    ax.bar(x, [r["power_w"] for r in stages], width, color="#c0504d",
           label=f"plain: {plain['total_w']:.0f} W{drawn[plain is power]}")
    if least:
        by_stage = {r["stage"]: r["power_w"] for r in least["stages"]}
        ax.bar(x + width, [by_stage.get(r["stage"], 0.0) for r in stages], width, color="#4f81bd",
               label=f"heaters on their cheaper arms: {least['total_w']:.0f} W{drawn[least is power]}")
        ax.legend(fontsize=7)
    ax.set_xticks(x + (width / 2 if least else 0.0), [r["stage"] for r in stages])
    ax.set_ylabel("static heater power (W)")
    ax.set_title(f"Heater power: {power['heaters']} heaters (P_pi = {power['p_pi_mw']:g} mW)", fontsize=9)
    return _save(fig, path)
