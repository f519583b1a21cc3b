"""The ONN as a torch MLP whose approximated layers are always block diag×orthogonal.

Phase 1 trains plain ``nn.Linear`` layers. Phase 2 (hardware-aware) replaces every selected layer
by :class:`BlockDiagOrthogonalLinear`, initialised at the closest block form (eq. 4–6, via
:mod:`optinc_pdk.decompose.blocks`): each block is diag(d)·exp(A − Aᵀ)·Û₀, so the weights stay exactly
in the hardware's form while d, A and the biases train.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from optinc_pdk.blockform import block_factors


class BlockDiagOrthogonalLinear(nn.Module):
    def __init__(self, part, d: np.ndarray, unitary: np.ndarray, bias: np.ndarray):
        super().__init__()
        self.part = part
        self.d = nn.Parameter(torch.as_tensor(d, dtype=torch.float32))
        self.unitary = nn.Parameter(torch.as_tensor(unitary, dtype=torch.float32))
        self.bias = nn.Parameter(torch.as_tensor(bias, dtype=torch.float32))

    @torch.no_grad()
    def retract(self) -> None:
        """Replace Û by its closest orthogonal matrix (polar factor), computed in float64.

        float32 SVD can fail to converge on blocks with repeated singular values; if even float64
        fails, this retraction is skipped (the next one, or the final projection, catches up).
        """
        try:
            p, _, qh = torch.linalg.svd(self.unitary.double())
        except torch.linalg.LinAlgError:
            return
        self.unitary.copy_((p @ qh).to(self.unitary.dtype))

    @property
    def weight(self) -> torch.Tensor:
        blocks = self.d[:, :, None] * self.unitary
        nb, k = self.part.n_blocks, self.part.k
        if self.part.orientation == "wide":
            return blocks.transpose(0, 1).reshape(k, nb * k)[:, : self.part.in_dim]
        return blocks.reshape(nb * k, k)[: self.part.out_dim]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


class OnnMLP(nn.Module):
    def __init__(self, widths: list[int]):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < last:
                x = torch.relu(x)
        return x

    def approximate(self, layers_1based: list[int]) -> None:
        """Switch the selected layers to the block form, starting from their projection."""
        for number in layers_1based:
            old = self.layers[number - 1]
            if isinstance(old, BlockDiagOrthogonalLinear):
                continue
            w = old.weight.detach().double().cpu().numpy()
            part, d, unitary = block_factors(w)
            new = BlockDiagOrthogonalLinear(part, d, unitary, old.bias.detach().cpu().numpy())
            self.layers[number - 1] = new.to(old.weight.device)

    def freeze_unitaries(self) -> None:
        """Polish stage: keep every Û fixed so the block form holds exactly while d and biases train."""
        for layer in self.layers:
            if isinstance(layer, BlockDiagOrthogonalLinear):
                layer.unitary.requires_grad_(False)

    def retract(self) -> None:
        for layer in self.layers:
            if isinstance(layer, BlockDiagOrthogonalLinear):
                layer.retract()

    def plain_state(self) -> dict[str, np.ndarray]:
        """float64 arrays named like a plain MLP's state_dict (layers.i.weight, layers.i.bias)."""
        out = {}
        with torch.no_grad():
            for index, layer in enumerate(self.layers):
                out[f"layers.{index}.weight"] = layer.weight.detach().double().cpu().numpy()
                out[f"layers.{index}.bias"] = layer.bias.detach().double().cpu().numpy()
        return out
