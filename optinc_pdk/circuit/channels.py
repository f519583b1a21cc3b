"""Which top-level channel carries which server digit (the OptINC's west and east ports).

West (inputs, N·b/2 channels): grouped by ONN input so that each averager combiner tree takes
adjacent channels — group j = digit // G occupies channels [j·N·G, (j+1)·N·G), server-major inside
the group: digit k of server i is on channel j·N·G + i·G + (k mod G). East (outputs, N·b/2
channels): digit-major, digit k for server i on channel k·N + i, so each splitter tree's N leaves
are adjacent. Both orders are those of the PDK's ``averager`` and ``splitter_array`` cells.
"""

from __future__ import annotations

import numpy as np


def input_channels(servers: int, digits: int, onn_inputs: int) -> np.ndarray:
    """(servers, digits) array: the west channel of digit k of server i."""
    group = digits // onn_inputs
    server = np.arange(servers)[:, None]
    digit = np.arange(digits)[None, :]
    j, t = np.divmod(digit, group)
    return j * servers * group + server * group + t


def output_channels(servers: int, digits: int) -> np.ndarray:
    """(servers, digits) array: the east channel of digit k delivered to server i."""
    return np.arange(digits)[None, :] * servers + np.arange(servers)[:, None]
