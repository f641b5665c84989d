"""GAN objectives as matched pairs of pure functions on logits, looked up by name.

Every pair has the signature ``d_loss(real_logits, fake_logits) -> scalar`` and
``g_loss(fake_logits) -> scalar`` (relativistic pairs: ``g_loss(fake_logits, real_logits)``,
called through :meth:`LossPair.generator_loss`). Logits everywhere; labels: ``REAL = 1.0``, ``FAKE = 0.0``.
With ``σ`` the sigmoid and ``D(x) = σ(logit)``:

* ``ns`` — Goodfellow et al. 2014 (arXiv 1406.2661), the TP's objective.
  ``L_D = BCE(real, 1) + BCE(fake, 0) = −E log D(x) − E log(1 − D(G(z)))`` (the sum of two
  means, as the TP sums them: 2 ln 2 ≈ 1.386 at equilibrium), and the *non-saturating*
  ``L_G = BCE(fake, 1) = −E log D(G(z))``.
* ``saturating`` — the minimax G loss of the paper, ``L_G = E log(1 − D(G(z))) = −E softplus(logit)``;
  its gradient vanishes when D confidently rejects fakes (the TP's Q1.1).
* ``lsgan`` — Mao et al. 2017 (arXiv 1611.04076), targets a=0, b=c=1:
  ``L_D = ½E(D(x)−1)² + ½E D(G(z))²``, ``L_G = ½E(D(G(z))−1)²`` on raw outputs.
* ``hinge`` — Lim & Ye 2017 / Miyato et al. 2018: ``L_D = E relu(1 − real) + E relu(1 + fake)``,
  ``L_G = −E fake``.
* ``wgan-gp`` — Gulrajani et al. 2017 (arXiv 1704.00028): ``L_D = E fake − E real`` (+ λ·GP,
  added by the training loop with :func:`gradient_penalty`), ``L_G = −E fake``.
* ``rpgan`` — relativistic pairing GAN (Jolicoeur-Martineau 2019, arXiv 1807.00734; the loss of
  R3GAN, Huang et al. 2024, arXiv 2501.05441): real and fake of one batch are *paired*,
  ``L_D = E softplus(−(real_i − fake_i))``, ``L_G = E softplus(−(fake_i − real_i))``. Its G loss
  needs the real logits too: such a pair sets ``g_uses_real_logits``, and every caller goes
  through :meth:`LossPair.generator_loss` ``(fake_logits, real_logits)``, one signature for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .objectives import GRADIENT_PENALTY, LOSSES, OBJECTIVES, objective

REAL = 1.0
FAKE = 0.0


def bce_with_logits(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Mean binary cross-entropy against a constant target (the TP's ``BCEWithLogitsLoss``)."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def ns_d_loss(real_logits, fake_logits, real_target: float = REAL):
    """L_D = −E log σ(real) − E log(1 − σ(fake)), as two BCE means summed (the TP)."""
    return bce_with_logits(real_logits, real_target) + bce_with_logits(fake_logits, FAKE)


def ns_g_loss(fake_logits):
    """Non-saturating L_G = −E log σ(fake) (the TP: G's fakes scored against REAL)."""
    return bce_with_logits(fake_logits, REAL)


def saturating_g_loss(fake_logits):
    """Minimax L_G = E log(1 − σ(fake)) = −E softplus(fake); gradient → 0 as σ(fake) → 0."""
    return -F.softplus(fake_logits).mean()


def lsgan_d_loss(real_logits, fake_logits, real_target: float = REAL):
    """L_D = ½E(real − 1)² + ½E fake² (LSGAN, a=0, b=1, on raw outputs)."""
    return 0.5 * ((real_logits - real_target) ** 2).mean() + 0.5 * (fake_logits ** 2).mean()


def lsgan_g_loss(fake_logits):
    """L_G = ½E(fake − 1)² (LSGAN, c=1)."""
    return 0.5 * ((fake_logits - REAL) ** 2).mean()


def hinge_d_loss(real_logits, fake_logits, real_target: float = REAL):
    """L_D = E relu(1 − real) + E relu(1 + fake). ``real_target`` is ignored (no smoothing)."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def wasserstein_d_loss(real_logits, fake_logits, real_target: float = REAL):
    """Critic L_D = E fake − E real (the gradient penalty is added separately)."""
    return fake_logits.mean() - real_logits.mean()


def wasserstein_g_loss(fake_logits):
    """L_G = −E fake (shared by hinge and WGAN)."""
    return -fake_logits.mean()


def rpgan_d_loss(real_logits, fake_logits, real_target: float = REAL):
    """L_D = E_i softplus(−(real_i − fake_i)) = −E_i log σ(real_i − fake_i), real and fake paired by index.

    Relativistic pairing (Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024): D is asked that
    each real image score above *its* paired fake, not above a fixed threshold. ``real_target``
    is ignored (no label smoothing for a relativistic loss).
    """
    if real_logits.shape != fake_logits.shape:
        raise ValueError(f"rpgan pairs real and fake: shapes {tuple(real_logits.shape)} and "
                         f"{tuple(fake_logits.shape)} differ")
    return F.softplus(-(real_logits - fake_logits)).mean()


def rpgan_g_loss(fake_logits, real_logits):
    """L_G = E_i softplus(−(fake_i − real_i)): G wants each fake to score above its paired real."""
    if real_logits.shape != fake_logits.shape:
        raise ValueError(f"rpgan pairs real and fake: shapes {tuple(real_logits.shape)} and "
                         f"{tuple(fake_logits.shape)} differ")
    return F.softplus(-(fake_logits - real_logits)).mean()


@dataclass(frozen=True)
class LossPair:
    """D's and G's loss of one objective; the flags mirror its :class:`~gan_atelier.objectives.Objective`."""

    name: str
    d_loss: Callable[..., torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]
    uses_gradient_penalty: bool = False
    probabilistic: bool = True  # logits are log-odds, so σ(logit) = D(x) means something
    g_uses_real_logits: bool = False  # relativistic: g_loss(fake_logits, real_logits)

    def generator_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None) -> torch.Tensor:
        """G's loss with one signature for every pair; ``real_logits`` is used by relativistic pairs only."""
        if self.g_uses_real_logits:
            if real_logits is None:
                raise ValueError(f"the {self.name!r} G loss needs the real logits of the same batch")
            return self.g_loss(fake_logits, real_logits)
        return self.g_loss(fake_logits)


_FUNCTIONS = {  # name → (d_loss, g_loss); the names and D's needs live in gan_atelier.objectives
    "ns": (ns_d_loss, ns_g_loss),
    "saturating": (ns_d_loss, saturating_g_loss),
    "lsgan": (lsgan_d_loss, lsgan_g_loss),
    "hinge": (hinge_d_loss, wasserstein_g_loss),
    "wgan-gp": (wasserstein_d_loss, wasserstein_g_loss),
    "rpgan": (rpgan_d_loss, rpgan_g_loss),
}
LOSS_PAIRS = {
    o.name: LossPair(o.name, *_FUNCTIONS[o.name], uses_gradient_penalty=o.d_penalty == GRADIENT_PENALTY,
                     probabilistic=o.probabilistic, g_uses_real_logits=o.relativistic)
    for o in OBJECTIVES
}
if set(_FUNCTIONS) != set(LOSSES):  # a loss added to gan_atelier.objectives without its functions
    raise ImportError(f"losses without functions: {sorted(set(LOSSES) ^ set(_FUNCTIONS))}")


def get_loss_pair(name: str) -> LossPair:
    """The pair named ``name``; an unknown name raises ConfigError (a ValueError) listing the valid ones."""
    return LOSS_PAIRS[objective(name).name]


def gradient_penalty(critic: Callable[..., torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     alpha: torch.Tensor, **critic_kwargs) -> torch.Tensor:
    """GP = E_x̂ (‖∇_x̂ critic(x̂)‖₂ − 1)², x̂ = α·real + (1 − α)·fake (Gulrajani et al. 2017).

    ``alpha`` holds **one** weight per sample, shape ``(B, 1, ..., 1)`` broadcastable to the
    images (not one per pixel: a bug several popular implementations shipped). The norm is over
    all non-batch dimensions, and the gradient is of the critic's raw output, not a probability.
    """
    if alpha.shape[0] != real.shape[0] or alpha[0].numel() != 1:
        raise ValueError(f"alpha must hold one weight per sample, got shape {tuple(alpha.shape)}")
    interpolated = (alpha * real + (1.0 - alpha) * fake).requires_grad_(True)
    scores = critic(interpolated, **critic_kwargs)
    (gradients,) = torch.autograd.grad(scores.sum(), interpolated, create_graph=True)
    norms = gradients.flatten(1).norm(2, dim=1)  # (B,)
    return ((norms - 1.0) ** 2).mean()


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) = −½ Σ (1 + log σ² − μ² − σ²), summed over latent dims, mean over batch."""
    return (-0.5 * (1.0 + log_var - mean ** 2 - log_var.exp()).sum(dim=1)).mean()


def bernoulli_reconstruction(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """−log p(x|z) for Bernoulli pixels: BCE summed over pixels, mean over the batch."""
    return F.binary_cross_entropy_with_logits(
        logits.flatten(1), target.flatten(1), reduction="none"
    ).sum(dim=1).mean()
