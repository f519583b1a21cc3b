"""What optinc supports: gradient widths, server counts, input file sizes, and the memory a job may ask for.

Ranges (the scenario validator states them in its messages):

* ``bits``: even, 2..32. PAM4 carries 2 bits per symbol; a server's gradient and the sum of N of them
  are exact in int64 (N·2^b < 2^63), the reconstructed value Σ 4^k o_k is exact in float64 (< 2^53),
  and the decoded gradients are written as unsigned integers of at most 32 bits.
* ``servers``: 2..1024. The optics average the servers' signals, so one server has nothing to
  average (the averager tree needs two inputs); the dataset keeps the server sums in int32 and the
  averager's splitter tree grows with N. A cascade's ``servers`` is ``servers_per_optinc``² ≤ 1024.
* ``widths``: positive, and limited by memory, below.

Memory guard: before anything is allocated, the scenario validator estimates the memory a chip of the
given widths needs to build (:func:`scenario_memory_bytes`: its weight matrices and its full-layer
MZI meshes, an upper bound for block-approximated layers), the exhaustive dataset does the same for its
samples, and `optinc decompose` for its matrix. Beyond the limit they refuse with one line. The limit is
``OPTINC_MAX_MEMORY_GB`` (gigabytes, 10^9 bytes; ``inf`` switches the guard off), default
:data:`DEFAULT_MAX_MEMORY_GB` = 12: about eight times the estimate for the largest shipped scenario
(b8n16_full: 1.74 M MZIs, estimated 1.54 GB), and within the 16 GB of a small workstation.
"""

from __future__ import annotations

import math
import os

from optinc_pdk.errors import OptincError

BITS_MIN, BITS_MAX = 2, 32
BITS_REASON = ("PAM4 carries 2 bits per symbol; up to 32 bits the server sums stay exact in int64 and the "
               "reconstructed gradients in float64")
SERVERS_MIN, SERVERS_MAX = 2, 1024
SERVERS_REASON = "the optics average at least 2 servers' signals; the averager tree and dataset sums support up to 1024"

MEMORY_ENV = "OPTINC_MAX_MEMORY_GB"
DEFAULT_MAX_MEMORY_GB = 12.0
GB = 10**9

# Calibrated on b8n16_full (1.74 M MZIs, 1.39 M weights): `optinc describe` peaks at 0.29 GB, `optinc build`
# (layout included) passed 1.1 GB; the estimate, 1.54 GB, bounds both. Per MZI: its phases, mesh entries,
# circuit records and layout instances.
BYTES_PER_MZI = 600
BYTES_PER_WEIGHT = 64  # float64 weights, their copies in the description and the simulator
BASE_BYTES = 400 * 10**6  # interpreter, numpy, gdsfactory

SCENARIO_FILE_MAX_BYTES = 1 << 20  # a scenario is a few hundred bytes of YAML


def mesh_mzis(n: int) -> int:
    """MZIs of an n×n unitary mesh (Clements or Reck): n(n−1)/2."""
    return n * (n - 1) // 2


def scenario_memory_bytes(widths: list[int]) -> int:
    """Estimated peak memory of building a chip with these ONN widths (input first), in bytes.

    Every layer counted as a full SVD mesh (Vᴴ mesh, Σ column, U mesh): an upper bound for block-approximated
    layers, whose weight matrices are still dense out×in arrays.
    """
    mzis = weights = 0
    for fan_in, fan_out in zip(widths, widths[1:]):
        mzis += mesh_mzis(fan_out) + mesh_mzis(fan_in) + min(fan_out, fan_in)
        weights += fan_out * fan_in
    return BASE_BYTES + BYTES_PER_MZI * mzis + BYTES_PER_WEIGHT * weights


def memory_limit_bytes() -> float:
    """The memory guard's limit in bytes: ``OPTINC_MAX_MEMORY_GB`` or the default (inf: no limit)."""
    raw = os.environ.get(MEMORY_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_MEMORY_GB * GB
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not value > 0:  # also refuses nan
        raise OptincError(f"{MEMORY_ENV}: must be a positive number of gigabytes, or inf (got {raw!r})")
    return value * GB


def gigabytes(n_bytes: float) -> str:
    return f"{n_bytes / GB:.3g} GB"


def memory_problem(needed: float, what: str) -> str | None:
    """None when ``needed`` bytes fit the limit, else the sentence that says so (without file or field)."""
    limit = memory_limit_bytes()
    if needed <= limit:
        return None
    return (f"{what} needs about {gigabytes(needed)} of memory, above the limit of {gigabytes(limit)} "
            f"(set {MEMORY_ENV} to raise it, if the machine has the memory)")


def check_memory(needed: float, what: str, source: object = None, field: str = "") -> None:
    """Refuse (one line naming ``source`` and ``field``) when ``needed`` bytes exceed the limit."""
    from optinc_pdk.errors import located

    problem = memory_problem(needed, what)
    if problem:
        raise located(source, field, problem)
