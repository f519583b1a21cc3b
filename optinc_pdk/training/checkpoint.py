"""Checkpoints without pickle: tensors in safetensors, everything else in JSON.

Adam's state is flattened per parameter index; the learning-rate schedule and the shuffling are
pure functions of (epoch, step, seed), so saving these restores training exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from optinc_pdk.core.atomic import atomic_path, write_text_atomic


def save_checkpoint(directory: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, meta: dict,
                    extra: dict[str, torch.Tensor] | None = None) -> None:
    """``extra``: further tensors of the training state, stored as ``extra.NAME``."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"extra.{k}": v.detach().cpu().contiguous() for k, v in (extra or {}).items()})
    for index, param in enumerate(p for group in optimizer.param_groups for p in group["params"]):
        state = optimizer.state.get(param, {})
        for name, value in state.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optim.{index}.{name}"] = tensor.detach().cpu().contiguous()
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / "checkpoint.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_text_atomic(directory / "checkpoint.json", json.dumps(meta, indent=2) + "\n")


def load_checkpoint(directory: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    meta = json.loads((directory / "checkpoint.json").read_text())
    return meta, load_file(str(directory / "checkpoint.safetensors"))


def load_model_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """load_state_dict, accepting checkpoints written before block layers had a row scale (it was 1)."""
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith(".row_scale")]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"checkpoint does not match the model: missing {missing}, unexpected {result.unexpected_keys}")
    with torch.no_grad():
        for key in result.missing_keys:
            model.get_buffer(key).fill_(1.0)


def restore(model: torch.nn.Module, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    load_model_state(model, {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, param in enumerate(params):
        prefix = f"optim.{index}."
        # Adam keeps "step" on the CPU unless capturable; the moments live with the parameter
        state = {k[len(prefix):]: (v if k.endswith(".step") else v.to(param.device))
                 for k, v in tensors.items() if k.startswith(prefix)}
        if state:
            optimizer.state[param] = state
