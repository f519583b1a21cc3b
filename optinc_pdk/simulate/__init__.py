"""Behavioural S-matrix simulation of a circuit description (vectorised numpy).

Public API::

    from optinc_pdk.simulate import compile_chain, simulate_scenario, allreduce
    chain = compile_chain(description)          # every layer's optical matrix, computed once
    decided, info = chain.decide(digits)        # (servers, B, b/2) digits in -> decided digits
    report = simulate_scenario(scenario, weights)
    decoded = allreduce(chain, gradients)       # (servers, elements) ints -> what each server decodes
    decoded = optical_allreduce("b8n4", gradients)   # the same in one call (shipped weights)

Primitive models: :mod:`optinc_pdk.simulate.primitives`; mesh composition:
:func:`optinc_pdk.decompose.transfer.mesh_transfer` (shared with the decomposer's checks).
"""

from optinc_pdk.decompose.transfer import mesh_transfer
from optinc_pdk.simulate.allreduce import AllReduceCheck, allreduce, check_gradients, compare, optical_allreduce
from optinc_pdk.simulate.chain import OpticalChain, compile_chain, group_sums_to_digits
from optinc_pdk.simulate.report import simulate_description, simulate_scenario

__all__ = [
    "AllReduceCheck", "OpticalChain", "allreduce", "check_gradients", "compare", "compile_chain",
    "group_sums_to_digits", "mesh_transfer", "optical_allreduce", "simulate_description", "simulate_scenario",
]
