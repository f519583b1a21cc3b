"""Why level 1 must keep the decimal part (Sec. III-C, eq. 8–10): exact error counts of eq. 9.

With Q level-1 OptINCs of N servers each, group q has integer sum S_q = N·a_q + r_q (0 ≤ r_q < N).
Eq. 8 (exact): floor(Σ S_q / (QN)). Eq. 9 (decimal part discarded in level 1):
floor(Σ a_q / Q). Writing A = Σ a_q and R = Σ r_q, the difference is
floor((N·(A mod Q) + R) / (QN)) ≥ 0, so eq. 9 can only under-estimate. It depends on each group
only through (a_q mod Q, r_q): the counts over the whole input space follow from a Q-fold
convolution of the per-group distribution of that pair, in exact integer arithmetic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


def _group_sum_multiplicity(servers: int, bits: int) -> list[int]:
    """Number of server-gradient tuples giving each group sum S = 0..servers·(2^b − 1)."""
    counts = [1]
    one = [1] * (2**bits)
    for _ in range(servers):
        counts = [int(v) for v in np.convolve(np.array(counts, dtype=object), np.array(one, dtype=object))]
    return counts


@dataclass(frozen=True)
class Eq9Failures:
    servers_per_optinc: int
    groups: int
    bits: int
    weighting: str  # "server gradients" (every 16-server gradient tuple once) or "group sums"
    total: int
    wrong: int
    error_sizes: dict[int, int]  # exact − eq. 9 value → count

    @property
    def fraction(self) -> float:
        return self.wrong / self.total


def eq9_failures(servers_per_optinc: int = 4, groups: int = 4, bits: int = 8, weighting: str = "server gradients") -> Eq9Failures:
    n, q = servers_per_optinc, groups
    if weighting == "server gradients":
        mult = _group_sum_multiplicity(n, bits)
    elif weighting == "group sums":
        mult = [1] * (n * (2**bits - 1) + 1)
    else:
        raise ValueError(f"weighting: unknown {weighting!r}")
    # per-group distribution over (a mod Q, r)
    per_group: Counter[tuple[int, int]] = Counter()
    for s, count in enumerate(mult):
        per_group[((s // n) % q, s % n)] += count
    state: Counter[tuple[int, int]] = Counter({(0, 0): 1})
    for _ in range(q):
        nxt: Counter[tuple[int, int]] = Counter()
        for (a, r), c in state.items():
            for (a2, r2), c2 in per_group.items():
                nxt[((a + a2) % q, r + r2)] += c * c2
        state = nxt
    sizes: Counter[int] = Counter()
    for (a, r), c in state.items():
        sizes[(n * a + r) // (q * n)] += c
    total = sum(sizes.values())
    wrong = total - sizes.get(0, 0)
    return Eq9Failures(n, q, bits, weighting, total, wrong, {k: v for k, v in sorted(sizes.items()) if k})
