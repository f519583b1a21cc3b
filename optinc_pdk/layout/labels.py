"""Per-MZI phase labels (``--labels``): one text per MZI and per output phase shifter, small designs only.

Phases are never geometry: labels are texts on the TEXT layer, in a cell of their own placed at
the top, so the shared mesh cells stay phase-free. Each text sits at the centre of its MZI:
``L3/B1/U#17 t=1.234567 p=0.123456`` (θ, φ in radians; ``#k`` is the MZI's index in propagation
order, as in the phase map), ``L3/B1/U.ps5 psi=...`` for output phase shifters,
``L3/B1/D#2 t=... p=...`` for attenuators.
"""

from __future__ import annotations

import numpy as np

from optinc_pdk.circuit.model import AttenuatorColumn, Block, Composite, MeshBlock
from optinc_pdk.errors import OptincError
from optinc_pdk.layout.planner import Planner
from optinc_pdk.pdk import dimensions as dim
from optinc_pdk.spec.geometry import DeviceGeometry

#: Largest number of labels ``--labels`` writes (one text per MZI and output phase shifter).
LABEL_LIMIT = 60_000


def _phase_text(name: str, index: np.ndarray, theta: np.ndarray, phi: np.ndarray) -> list[str]:
    return [f"{name}#{k} t={t:.6f} p={p:.6f}" for k, t, p in zip(index.tolist(), theta.tolist(), phi.tolist())]


def mzi_origins(block: Block, g: DeviceGeometry) -> np.ndarray:
    """(k, 2) lower-left port of every MZI of a leaf, in the leaf's plan frame, in description order."""
    p, length = g.mode_pitch, dim.mzi_length(g)
    if isinstance(block, MeshBlock):
        return np.stack([block.column * length, (block.n_modes - 2 - block.top_mode) * p], axis=1).astype(np.float64)
    if isinstance(block, AttenuatorColumn):
        n = max(block.n_in, block.n_out)
        return np.stack([np.zeros(block.n_mzis), (n - 1 - block.mode) * p - g.attenuator_arm_spacing], axis=1)
    return np.zeros((0, 2))


def leaf_origins(top: Block, planner: Planner, origin: tuple[float, float] = (0.0, 0.0)):
    """Yield (leaf block, x, y): every leaf's plan origin in the frame whose (0, 0) is the plan's ``origin``."""
    def walk(block: Block, x: float, y: float):
        if isinstance(block, Composite):
            for child, (cx, cy) in zip(block.children, planner.plan(block).origins.tolist()):
                yield from walk(child, x + cx, y + cy)
        else:
            yield block, x, y

    yield from walk(top, -origin[0], -origin[1])


def _leaf_labels(block: Block, x: float, y: float, g: DeviceGeometry) -> tuple[list[str], np.ndarray]:
    p, length = g.mode_pitch, dim.mzi_length(g)
    if isinstance(block, MeshBlock):
        n = block.n_modes
        mzi_xy = mzi_origins(block, g) + (length / 2, p / 2)
        modes = np.arange(n)
        ps_xy = np.stack([np.full(n, block.n_columns * length + g.heater_length / 2), (n - 1 - modes) * p], axis=1)
        texts = _phase_text(block.name, np.arange(block.n_mzis), block.theta, block.phi)
        texts += [f"{block.name}.ps{m} psi={v:.6f}" for m, v in zip(modes.tolist(), block.output_phase.tolist())]
        return texts, np.vstack([mzi_xy, ps_xy]) + (x, y)
    if isinstance(block, AttenuatorColumn):
        xy = mzi_origins(block, g) + (length / 2, g.attenuator_arm_spacing / 2)
        return _phase_text(block.name, np.arange(block.n_mzis), block.theta, block.phi), xy + (x, y)
    return [], np.zeros((0, 2))


def phase_labels(top: Block, planner: Planner,
                 origin: tuple[float, float] = (0.0, 0.0)) -> tuple[list[str], np.ndarray]:
    """(texts, xy) of every phase in the design, xy in the frame whose (0, 0) is the plan's ``origin``."""
    total = sum(b.n_mzis + (b.n_modes if isinstance(b, MeshBlock) else 0)
                for b in top.walk() if isinstance(b, (MeshBlock, AttenuatorColumn)))
    if total > LABEL_LIMIT:
        raise OptincError(f"{top.name}: labels: {total} phases to label, more than the {LABEL_LIMIT} a layout "
                          "carries readably; leave --labels off (the phase map holds every phase)")
    texts: list[str] = []
    points: list[np.ndarray] = [np.zeros((0, 2))]
    for block, x, y in leaf_origins(top, planner, origin):
        t, xy = _leaf_labels(block, x, y, planner.geometry)
        texts.extend(t)
        points.append(xy)
    return texts, np.vstack(points)
