"""The VAE baseline the TP compares the GAN with (Kingma & Welling 2014, arXiv 1312.6114).

Sizes mirror the TP's MLP-GAN so the comparison is about the objective, not capacity:

* encoder q(z|x): 784 → 1024 → 512 → 256 → 2·latent (mean and log-variance), LeakyReLU(0.2),
  i.e. the TP's discriminator layers without Dropout and with a 2·latent head;
* decoder p(x|z): **the TP's generator**, latent → 256 → 512 → 1024 → 784; its last Linear gives
  the Bernoulli logits, and its Sigmoid gives images in [0, 1] (the mean of p(x|z)).

The loss (−ELBO = Bernoulli reconstruction + KL, see :mod:`gan_atelier.losses`) and the
reparameterisation z = μ + σ·ε live in the training loop; this module only maps tensors.
Sampling from the prior is ``vae(z)`` with z ~ N(0, I), the same call as a GAN generator.
"""

from __future__ import annotations

import torch
from torch import nn

from .mlp import IMAGE_DIM, Generator


class VAE(nn.Module):
    """``encode(x) -> (mean, log_var)``, ``decode_logits(z)``, and ``forward(z)`` = images in [0, 1]."""

    conditional = False

    def __init__(self, latent_dim: int = 100, image_dim: int = IMAGE_DIM):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Linear(image_dim, 1024),  # (B, 1024)
            nn.LeakyReLU(0.2),
            nn.Linear(1024, 512),  # (B, 512)
            nn.LeakyReLU(0.2),
            nn.Linear(512, 256),  # (B, 256)
            nn.LeakyReLU(0.2),
            nn.Linear(256, 2 * latent_dim),  # (B, 2·latent): mean, then log σ²
        )
        self.decoder = Generator(latent_dim, image_dim)  # the TP's G, Sigmoid last

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) = N(mean, diag(exp(log_var))), each ``(B, latent_dim)``."""
        mean, log_var = self.encoder(x.flatten(1)).chunk(2, dim=1)
        return mean, log_var

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of p(x|z), ``(B, 784)``: the TP generator minus its Sigmoid."""
        return self.decoder.model[:-1](z)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))  # (B, 784) in [0, 1]
