"""Port naming shared by the cells and their sax models.

gdsfactory numbers optical ports clockwise from the bottom-left: up the west side
(o1 = lowest west port), then down the east side. The project counts *channels* from the top
(channel 0 = mode m, the "upper" mode of docs/conventions.md, drawn at the highest y), so:

* west channel i of a cell with ``n_west`` west ports is ``o{n_west - i}``;
* east channel j is ``o{n_west + 1 + j}``.

For a 2x2 MZI this gives o2 = upper-in (mode m), o1 = lower-in (mode m+1), o3 = upper-out,
o4 = lower-out. Heater contacts are electrical ports ``e1, e2, ...`` numbered west to east
per heater, four per MZI: e1/e2 the external (φ) heater, e3/e4 the internal (θ) heater.
"""

from __future__ import annotations


def west_port(channel: int, n_west: int) -> str:
    """Name of west-side optical port ``channel`` (0 = top) of a cell with ``n_west`` west ports."""
    if not 0 <= channel < n_west:
        raise ValueError(f"west channel {channel} out of range for {n_west} west ports")
    return f"o{n_west - channel}"


def east_port(channel: int, n_west: int, n_east: int) -> str:
    """Name of east-side optical port ``channel`` (0 = top) of a cell with ``n_west`` west ports."""
    if not 0 <= channel < n_east:
        raise ValueError(f"east channel {channel} out of range for {n_east} east ports")
    return f"o{n_west + 1 + channel}"


def west_ports(n_west: int) -> list[str]:
    """West optical port names, top channel first."""
    return [west_port(i, n_west) for i in range(n_west)]


def east_ports(n_west: int, n_east: int) -> list[str]:
    """East optical port names, top channel first."""
    return [east_port(j, n_west, n_east) for j in range(n_east)]


def heater_ports(index: int) -> tuple[str, str, str, str]:
    """Electrical ports (φ west, φ east, θ west, θ east) of the ``index``-th MZI inside a cell (0 = top)."""
    base = 4 * index
    return tuple(f"e{base + k}" for k in (1, 2, 3, 4))  # type: ignore[return-value]
