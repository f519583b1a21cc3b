"""Read weights people bring: a torch state_dict (``weights_only=True``, never arbitrary pickle) or safetensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from optinc_pdk.core.weights import OnnWeights, from_state_dict
from optinc_pdk.errors import located


def read_foreign_state(path: str | Path) -> OnnWeights:
    path = Path(path)
    if not path.is_file():
        raise located(path, "", "file not found")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            state = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise located(path, "", f"not a valid safetensors file ({error})") from None
    else:
        import pickle

        import torch

        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise located(path, "", f"not a plain torch state_dict (loaded with weights_only=True): {first}") from None
        if not isinstance(loaded, dict) or not all(hasattr(v, "detach") for v in loaded.values()):
            raise located(path, "", "not a state_dict of tensors")
        state = {k: v.detach().double().cpu().numpy() for k, v in loaded.items()}
    state = {k: np.asarray(v) for k, v in state.items()}
    return from_state_dict(state, {"imported_from": str(path)}, str(path))
