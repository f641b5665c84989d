"""Zero-centred gradient penalties on D's input: R1 (on real images) and R2 (on generated images).

Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?"
(arXiv 1801.04406), and R3GAN (Huang et al. 2024, "The GAN is dead; long live the GAN!",
arXiv 2501.05441), which uses both:

    R1 = (γ/2) · E_{x ~ p_data} ‖∇_x D(x)‖²          R2 = (γ/2) · E_{z} ‖∇_x D(x)|_{x = G(z)}‖²

``D`` is the discriminator's raw logit (before any sigmoid). The penalty is *zero-centred*: it
pulls the gradient norm towards 0, unlike WGAN-GP's ``(‖∇‖ − 1)²`` on interpolates. For a linear
D(x) = ⟨w, x⟩ + b the gradient is w for every x, so E ‖∇_x D(x)‖² = ‖w‖² and R1 = (γ/2)‖w‖²:
R1 is a weight decay on what D can see (the tests check this closed form).

**γ convention.** :func:`gradient_squared_norm` returns E ‖∇_x D(x)‖², *without* the factor; the
training step adds ``(γ/2) · gradient_squared_norm`` (StyleGAN2's and R3GAN's convention, where
the loss carries ``r1_gamma / 2``). Their γ values assume pixels in [-1, 1]; this project's pixels
are in [0, 1] (x₀₁ = (x₋₁ + 1)/2), so ∇_{x₀₁} D = 2 ∇_{x₋₁} D and the same penalty strength needs
γ₀₁ = γ₋₁ / 4.

**Where the logits come from.** The functions take D's logits and the images they were computed
from (with ``requires_grad_(True)``) and differentiate ``logits.sum()`` with ``create_graph=True``:
the sum's gradient w.r.t. sample i is ∂D(x_i)/∂x_i because D treats samples independently (no
BatchNorm in a penalised D), and D's parameter gradients then include the penalty's (double
backward). ``bench/recipe_search.py`` reuses the D step's own forward; the trainer
(:mod:`gan_atelier.training.recipe`) runs one extra forward on the steps where a lazy penalty is due.
"""

from __future__ import annotations

from typing import Sequence

import torch


def gradient_squared_norms(logits: torch.Tensor, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """[E_i ‖∂ logits / ∂ inputs_k[i]‖² for each k], with one backward pass for all inputs.

    For R1 and R2 from a single D forward on ``cat([real, fake])``: ``logits.sum()``'s gradient
    w.r.t. ``real`` only involves the real samples' logits (D treats samples independently), so one
    ``autograd.grad`` call gives both penalties.
    """
    for tensor in inputs:
        if not tensor.requires_grad:
            raise ValueError("inputs must require grad (call inputs.requires_grad_(True) before D's forward)")
    gradients = torch.autograd.grad(logits.float().sum(), list(inputs), create_graph=True)
    return [g.float().flatten(1).pow(2).sum(dim=1).mean() for g in gradients]  # (B,) squared norms → mean


def gradient_squared_norm(logits: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """E_i ‖∂ logits_i / ∂ inputs_i‖², the mean over the batch of the squared gradient norm.

    ``logits``: D's raw outputs ``(B,)`` or ``(B, 1)``, computed from ``inputs`` ``(B, ...)``,
    which must require grad. The norm is over all non-batch dimensions. The result keeps its
    graph (``create_graph=True``) so that a loss containing it trains D. D must treat the samples
    of a batch independently (no BatchNorm), else the sum's gradient mixes samples.
    """
    if not inputs.requires_grad:
        raise ValueError("inputs must require grad (call inputs.requires_grad_(True) before D's forward)")
    if logits.shape[0] != inputs.shape[0]:
        raise ValueError(f"logits {tuple(logits.shape)} and inputs {tuple(inputs.shape)} differ in batch size")
    (gradients,) = torch.autograd.grad(logits.float().sum(), inputs, create_graph=True)
    return gradients.float().flatten(1).pow(2).sum(dim=1).mean()  # (B,) squared norms → mean


def zero_centred_penalty(logits: torch.Tensor, inputs: torch.Tensor, gamma: float) -> torch.Tensor:
    """(γ/2) · E ‖∇_x D(x)‖²: R1 when ``inputs`` are real images, R2 when they are G's (detached) fakes.

    γ = 0 returns an exact zero without building the double-backward graph.
    """
    if gamma < 0:
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    if gamma == 0:
        return logits.new_zeros((), dtype=torch.float32)
    return 0.5 * gamma * gradient_squared_norm(logits, inputs)
