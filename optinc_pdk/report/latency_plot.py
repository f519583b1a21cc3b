"""The sensitivity plot of the latency model (docs/ddp.md): step-time reduction against batch per replica."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optinc_pdk.analysis.latency import PAPER_REDUCTIONS, WORKLOADS, LatencyAssumptions, batch_sweep
from optinc_pdk.core.atomic import atomic_path


def sensitivity_plot(path: str | Path, base: LatencyAssumptions = LatencyAssumptions()) -> Path:
    """One panel per workload: a line per named assumption set, the paper's claim as a dashed line,
    the assumed batch as a dotted one. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batches = np.logspace(-1, 5, 121).tolist()
    fig, axes = plt.subplots(1, len(WORKLOADS), figsize=(12, 4.5))
    for axis, work in zip(axes, WORKLOADS.values()):
        for name, reductions in batch_sweep(work, batches, base).items():
            axis.semilogx(batches, 100 * np.array(reductions), label=name)
        axis.axhline(100 * PAPER_REDUCTIONS[work.name], color="k", ls="--", lw=1, label="paper's claim")
        axis.axvline(work.samples_per_step, color="grey", ls=":", lw=1, label="assumed batch")
        axis.set_title(f"{work.name}, {base.servers} servers")
        axis.set_xlabel("samples per replica per step (images or tokens)")
        axis.set_ylabel("step-time reduction by OptINC (%)")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return target
