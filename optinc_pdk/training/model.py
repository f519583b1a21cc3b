"""The ONN as a torch MLP whose approximated layers train in block diag×orthogonal form.

Phase 1 trains plain ``nn.Linear`` layers; :func:`block_row_coupling` can pull the selected ones
towards the block form meanwhile. Phase 2 (hardware-aware) replaces every selected layer by
:class:`BlockDiagOrthogonalLinear`, initialised at the closest block form (eq. 4–6, via
:mod:`optinc_pdk.decompose.blocks`): each block is diag(d)·Û, d, Û and the biases train, and Û is
retracted onto the orthogonal matrices (polar factor) every few steps and at the end.

With ``scale_rows`` the parameter is Û scaled row-wise by |d| (the scale is reset at every
retraction). Adam moves every parameter entry by about the learning rate, so a plain Û entry
moves its weight entry |d_i| times as far: rows with |d| ≈ 100 take steps a hundred times those
of the pretraining and throw a near-perfect switch out of its minimum. Scaled, every weight
entry moves by about the learning rate, as in the pretraining; the gradient with respect to the
scaled parameter (sign(d)·∂L/∂W) does not depend on the scale, so Adam's moments stay valid
when it is reset.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from optinc_pdk.decompose.blockform import block_factors
from optinc_pdk.decompose.blocks import BlockLayout


def join_blocks(part: BlockLayout, blocks: torch.Tensor) -> torch.Tensor:
    """BlockLayout.join for torch tensors: (n_blocks, k, k) blocks -> the out×in weight, padding dropped."""
    nb, k = part.n_blocks, part.k
    if part.orientation == "wide":
        return blocks.transpose(0, 1).reshape(k, nb * k)[:, : part.in_dim]
    return blocks.reshape(nb * k, k)[: part.out_dim]


class BlockDiagOrthogonalLinear(nn.Module):
    def __init__(self, part, d: np.ndarray, unitary: np.ndarray, bias: np.ndarray, scale_rows: bool = False):
        super().__init__()
        self.part = part
        self.scale_rows = scale_rows
        self.d = nn.Parameter(torch.as_tensor(d, dtype=torch.float32))
        # the parameter holds row_scale·Û; row_scale is 1 unless scale_rows (see the module docstring)
        self.register_buffer("row_scale", torch.ones_like(self.d))
        self.unitary = nn.Parameter(torch.as_tensor(unitary, dtype=torch.float32))
        self.bias = nn.Parameter(torch.as_tensor(bias, dtype=torch.float32))
        if scale_rows:
            self._rescale(self.unitary.detach().clone())

    @torch.no_grad()
    def _rescale(self, orthogonal: torch.Tensor) -> None:
        if self.scale_rows:
            magnitude = self.d.abs()
            # a row with d ≈ 0 still needs a finite scale: floor it at 1e-3 of its block's mean
            self.row_scale.copy_(torch.maximum(magnitude, 1e-3 * magnitude.mean(dim=1, keepdim=True).clamp_min(1e-12)))
        self.unitary.copy_(self.row_scale[:, :, None] * orthogonal)

    @property
    def orthogonal(self) -> torch.Tensor:
        """Û of every block (the parameter divided by its row scale)."""
        return self.unitary / self.row_scale[:, :, None]

    @torch.no_grad()
    def retract(self) -> None:
        """Replace Û by its closest orthogonal matrix (polar factor), computed in float64.

        float32 SVD can fail to converge on blocks with repeated singular values; if even float64
        fails, this retraction is skipped (the next one, or the final projection, catches up).
        """
        try:
            p, _, qh = torch.linalg.svd(self.orthogonal.double())
        except torch.linalg.LinAlgError:
            return
        self._rescale((p @ qh).to(self.unitary.dtype))

    @property
    def weight(self) -> torch.Tensor:
        return join_blocks(self.part, (self.d / self.row_scale)[:, :, None] * self.unitary)

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

    def approximate(self, layers_1based: list[int], scale_rows: bool = False) -> None:
        """Switch the selected layers to the block form, starting from their projection."""
        for number in layers_1based:
            old = self.layers[number - 1]
            if isinstance(old, BlockDiagOrthogonalLinear):
                continue
            w = old.weight.detach().double().cpu().numpy()
            part, d, unitary = block_factors(w)
            new = BlockDiagOrthogonalLinear(part, d, unitary, old.bias.detach().cpu().numpy(), scale_rows)
            self.layers[number - 1] = new.to(old.weight.device)

    def freeze_unitaries(self) -> None:
        """Polish stage: keep every Û fixed so the block form holds exactly while d and biases train."""
        for layer in self.layers:
            if isinstance(layer, BlockDiagOrthogonalLinear):
                layer.unitary.requires_grad_(False)

    def freeze_output(self) -> None:
        """Keep the output layer as it is (``freeze_output_layer``): it gets no gradient, so Adam skips it."""
        self.layers[-1].requires_grad_(False)

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


def block_row_coupling(weight: torch.Tensor) -> torch.Tensor:
    """How far a plain weight is from block diag×orthogonal: 0 exactly when it is in that form.

    A block is diag(d)·Û with Û orthogonal exactly when its rows are mutually orthogonal, so the
    measure is each block's off-diagonal Gram energy relative to its diagonal energy (scale-free),
    averaged over blocks. Differentiable and SVD-free, so it can steer every training step.
    """
    layout = BlockLayout.of(*weight.shape)
    k, nb = layout.k, layout.n_blocks
    if layout.orientation == "wide":
        padded = nn.functional.pad(weight, (0, nb * k - layout.in_dim))
        blocks = padded.reshape(k, nb, k).transpose(0, 1)
    else:
        padded = nn.functional.pad(weight, (0, 0, 0, nb * k - layout.out_dim))
        blocks = padded.reshape(nb, k, k)
    gram = blocks @ blocks.transpose(1, 2)
    on = torch.diagonal(gram, dim1=1, dim2=2)
    # the off-diagonal part directly: total − diagonal cancels to 0 in float32 below ~1e-7
    off = (gram - torch.diag_embed(on)).square().sum(dim=(1, 2))
    return (off / on.square().sum(dim=1).clamp_min(1e-12)).mean()
