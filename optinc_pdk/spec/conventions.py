"""The numbers every part of optinc agrees on (docs/conventions.md): PAM4 levels, the group size G."""

from __future__ import annotations

from optinc_pdk.errors import OptincError

PAM4_LEVELS = 4  # a PAM4 symbol carries one base-4 digit: 2 bits


def group_size(bits: int, onn_inputs: int) -> int:
    """G = b / (2M): PAM4 digits per ONN input (docs/conventions.md, Preprocessing)."""
    if bits <= 0 or bits % 2:
        raise OptincError(f"bits: must be a positive even number (got {bits})")
    if onn_inputs < 1 or (bits // 2) % onn_inputs:
        raise OptincError(f"bits: {bits} bits give {bits // 2} PAM4 digits, not a multiple of M = {onn_inputs}")
    return bits // (2 * onn_inputs)
