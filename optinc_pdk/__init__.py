"""optinc: the OptINC layout compiler.

Trained optical-neural-network weights -> MZI phases -> circuit description ->
S-matrix simulation, area reports, netlists and gdsfactory layout.

Heavy dependencies (torch, gdsfactory) are imported lazily by the modules that need them,
so ``import optinc_pdk`` and the CLI start fast.
"""

__version__ = "0.2.0"
