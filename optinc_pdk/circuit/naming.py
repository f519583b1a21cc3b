"""Deterministic names of the blocks of an OptINC description.

Names are paths of ``/``-separated parts, parent first; layers count from 1 (as in the paper
and ``approx_layers``), blocks and channels from 0::

    optinc                      the whole OptINC (composite)
    averager                    preprocessing (composite)
    averager/weights            attenuators weighting digit t of a group by 4^(t−G+1)  (G > 1 only)
    averager/sum                M combiner trees of N·G leaves
    L3                          layer 3 (composite): matrix, bias, nonlinear units
    L3/matrix                   the weight matrix (composite)
    L3/VH  L3/S  L3/U           full layer: Vᴴ mesh, Σ attenuator column, U mesh
    L3/fanout                   tall block layer: k splitter trees 1→nb
    L3/B1                       block 1 of a block layer (composite)
    L3/B1/U  L3/B1/D            its Û mesh and diagonal attenuator column (light meets Û first)
    L3/sum                      wide block layer: k combiner trees nb→1
    L3/bias                     bias injection (composite)
    L3/bias/source              the bias light input
    L3/bias/split               1→out splitter tree
    L3/bias/amplitude           one attenuator MZI per neuron (|b| and sign)
    L3/bias/merge               one 2→1 combiner per neuron: signal (upper) + bias (lower)
    L3/relu                     nonlinear units (hidden layers only)
    broadcast                   splitter array: every output digit to every server

File names replace ``/`` by ``.`` (``L3.B1.U.yml``). Element instances inside a leaf block are
``mzi{i}`` (i = propagation order), ``ps{m}`` (output phase shifter of mode m), ``t{tree}_n{node}``
(tree element, breadth-first), ``nl{c}`` (nonlinear unit of channel c), ``source``.
"""

from __future__ import annotations

TOP = "optinc"
AVERAGER = "averager"
AVERAGER_WEIGHTS = "averager/weights"
AVERAGER_SUM = "averager/sum"
BROADCAST = "broadcast"


def layer(index: int) -> str:
    """Layer ``index`` (1-based)."""
    return f"L{index}"


def layer_part(index: int, part: str) -> str:
    return f"{layer(index)}/{part}"


def block(index: int, block_index: int) -> str:
    return f"{layer(index)}/B{block_index}"


def block_part(index: int, block_index: int, part: str) -> str:
    return f"{block(index, block_index)}/{part}"


def file_stem(name: str) -> str:
    return name.replace("/", ".")


def mzi_instance(index: int) -> str:
    return f"mzi{index}"


def phase_shifter_instance(mode: int) -> str:
    return f"ps{mode}"


def tree_instance(tree: int, node: int) -> str:
    return f"t{tree}_n{node}"


def nonlinear_instance(channel: int) -> str:
    return f"nl{channel}"


SOURCE_INSTANCE = "source"
