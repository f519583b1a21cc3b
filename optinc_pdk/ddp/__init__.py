"""OptINC inside torch DDP: a communication hook that averages each gradient bucket as an OptINC would.

Usage, like torch's own ``default_hooks``::

    from optinc_pdk.ddp import OptincHookState, optinc_comm_hook
    model.register_comm_hook(OptincHookState(bits=8), optinc_comm_hook)

This package is the only place optinc imports torch for DDP; nothing else in optinc imports it
(except the CLI), so the main job never needs torch. See docs/ddp.md.
"""

from optinc_pdk.ddp.hook import OptincHookState, TimedAllreduceState, optinc_comm_hook, timed_allreduce_hook
from optinc_pdk.ddp.quantize import ErrorModel, error_model_from_report

__all__ = [
    "ErrorModel", "OptincHookState", "TimedAllreduceState", "error_model_from_report", "optinc_comm_hook",
    "timed_allreduce_hook",
]
