"""K copies of the TP's MLP as one module: stacked weights, one batched matmul per layer.

How the K members of a sweep share one pass:

* every ``nn.Linear(in, out)`` of the TP's MLPs becomes one stacked weight ``(K, out, in)`` and
  bias ``(K, out)``; activations are ``(K, B, features)`` and a layer is one batched matmul,
  ``h = b + x @ Wᵀ`` (``torch.baddbmm``). Kept in ``nn.Linear``'s layout, each member's products
  are bitwise those of ``nn.Linear`` on this CPU (the same BLAS kernel per member; measured),
  which is what makes the one-by-one comparison exact to rounding;
* each member's slice of a stacked weight is also a leaf tensor sharing its storage
  (:func:`member_leaves`), so one optimizer can hold one parameter group per member.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError


class _StackedLinearFunction(torch.autograd.Function):
    """h = b + x @ Wᵀ per member, with ``nn.Linear``'s backward: ∂W = gᵀ @ x, ∂x = g @ W, ∂b = Σ_B g.

    Written out because autograd's ``baddbmm`` backward yields ∂W as a transposed view, which
    the gradient accumulator then copies into W's layout with a slow strided transpose
    (≈ 100 ms per step for 8 members, measured); ``gᵀ @ x`` comes out in W's layout directly.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):  # (K, B, in), (K, out, in), (K, out)
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))  # (K, B, out)

    @staticmethod
    def backward(ctx, grad):  # (K, B, out)
        x, weight = ctx.saved_tensors
        grad_x = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None  # (K, B, in)
        grad_weight = torch.bmm(grad.transpose(1, 2), x) if ctx.needs_input_grad[1] else None  # (K, out, in)
        grad_bias = grad.sum(dim=1) if ctx.needs_input_grad[2] else None  # (K, out)
        return grad_x, grad_weight, grad_bias


class StackedLinear(nn.Module):
    """K ``nn.Linear(in, out)`` side by side: ``(K, B, in) → (K, B, out)``, h = b + x @ Wᵀ."""

    def __init__(self, linears: list[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([l.weight.detach() for l in linears]))  # (K, out, in)
        self.bias = nn.Parameter(torch.stack([l.bias.detach() for l in linears]))  # (K, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _StackedLinearFunction.apply(x, self.weight, self.bias)  # (K, B, out)


class StackedMLP(nn.Module):
    """K copies of one of the TP's MLPs (``.model`` an ``nn.Sequential`` of Linear and elementwise layers)."""

    ELEMENTWISE = (nn.LeakyReLU, nn.Sigmoid, nn.Dropout, nn.ReLU, nn.Tanh)

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        template = members[0].model
        layers = []
        for position, layer in enumerate(template):
            if isinstance(layer, nn.Linear):
                layers.append(StackedLinear([m.model[position] for m in members]))
            elif isinstance(layer, self.ELEMENTWISE):
                layers.append(type(layer)(**_elementwise_arguments(layer)))
            else:
                raise ConfigError(f"a batched sweep cannot stack a {type(layer).__name__} layer; "
                                  f"it supports the TP's MLP (model.name='mlp') only")
        self.model = nn.Sequential(*layers)
        self.members = len(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.flatten(2))  # (K, B, features)

    def member_state_dict(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s weights with the keys and layout of the original module (``model.0.weight`` …)."""
        state = {}
        for position, layer in enumerate(self.model):
            if isinstance(layer, StackedLinear):
                state[f"model.{position}.weight"] = layer.weight[k].detach().clone()
                state[f"model.{position}.bias"] = layer.bias[k].detach().clone()
        return state


def _elementwise_arguments(layer: nn.Module) -> dict[str, Any]:
    if isinstance(layer, nn.LeakyReLU):
        return {"negative_slope": layer.negative_slope}
    if isinstance(layer, nn.Dropout):
        return {"p": layer.p}
    return {}


def member_leaves(stacked: nn.Module) -> list[list[torch.Tensor]]:
    """For each member k, leaf tensors that share storage with the k-th slice of every stacked parameter."""
    leaves = [[] for _ in range(stacked.members)]
    for parameter in stacked.parameters():
        base = parameter.detach()
        for k in range(stacked.members):
            leaves[k].append(base[k].requires_grad_(True))
    return leaves
