"""The `modern` preset's networks: a convolutional G and a discriminator without normalisation layers.

R3GAN (Huang et al. 2024, "The GAN is dead; long live the GAN!", arXiv 2501.05441) trains a D
with **no normalisation layers**: its Lipschitz control is the zero-centred R1/R2 penalty
(:mod:`gan_atelier.regularizers`), and a penalty per sample needs a D that treats the samples
of a batch independently (BatchNorm couples them). Sized for a CPU budget, the layout is the
DCGAN's (Radford et al. 2016) with these changes, each chosen by measurement (docs/results.md,
"The modern preset"):

* G: z → Linear → (4c, 7, 7) (the "project and reshape"), then two ×2 stages
  (nearest upsample + 3×3 conv, which avoids the checkerboard of 4×4 stride-2 transposed
  convolutions; Odena et al. 2016, Distill) to (c, 28, 28), a 3×3 conv to 1 map, Sigmoid out (the
  data are in [0, 1]). BatchNorm + ReLU inside G: G is not penalised, and BatchNorm in G speeds
  early training at no cost; sampling uses its running statistics (eval mode).
* D: 3×3 conv (1 → c) at 28×28, then two stride-2 stages (c → 2c at 14×14, 2c → 4c at 7×7), each
  a 4×4 stride-2 conv, LeakyReLU(0.2), **no normalisation**; a linear head on the flattened
  (4c·7·7) features returns one logit.
* Initialisation: PyTorch's defaults (Kaiming-uniform), not DCGAN's N(0, 0.02): without
  normalisation layers in D, small weights would scale every layer's output down.
"""

from __future__ import annotations

import torch
from torch import nn

G_CHANNELS = 32  # c of G: maps 4c → 2c → c
D_CHANNELS = 32  # c of D: maps c → 2c → 4c
BATCHNORM_EPS = 1e-5
BATCHNORM_MOMENTUM = 0.1


def _upsample_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels, eps=BATCHNORM_EPS, momentum=BATCHNORM_MOMENTUM),
            nn.ReLU()]


class ModernGenerator(nn.Module):
    """G: z ``(B, latent_dim)`` → images ``(B, 1, 28, 28)`` in [0, 1]."""

    conditional = False

    def __init__(self, latent_dim: int = 100, channels: int = G_CHANNELS):
        super().__init__()
        self.latent_dim = latent_dim
        self.channels = channels
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 4 * channels * 7 * 7, bias=False),  # (B, 4c·49)
            nn.BatchNorm1d(4 * channels * 7 * 7, eps=BATCHNORM_EPS, momentum=BATCHNORM_MOMENTUM),
            nn.ReLU(),
        )
        self.body = nn.Sequential(
            *_upsample_block(4 * channels, 2 * channels),  # (B, 2c, 14, 14)
            *_upsample_block(2 * channels, channels),  # (B, c, 28, 28)
            nn.Conv2d(channels, 1, kernel_size=3, padding=1),  # (B, 1, 28, 28)
            nn.Sigmoid(),  # [0, 1], the data's range
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        hidden = self.project(z).view(z.shape[0], 4 * self.channels, 7, 7)  # (B, 4c, 7, 7)
        return self.body(hidden)


class ModernDiscriminator(nn.Module):
    """D without normalisation layers: images ``(B, 1, 28, 28)`` (or ``(B, 784)``) → logits ``(B, 1)``.

    Samples are processed independently (∂D(x_i)/∂x_j = 0 for i ≠ j), as R1/R2 require.
    """

    conditional = False
    has_batchnorm = False

    def __init__(self, channels: int = D_CHANNELS):
        super().__init__()
        self.channels = channels
        self.feature_dim = 4 * channels * 7 * 7
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3, padding=1),  # (B, c, 28, 28)
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, kernel_size=4, stride=2, padding=1),  # (B, 2c, 14, 14)
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * channels, 4 * channels, kernel_size=4, stride=2, padding=1),  # (B, 4c, 7, 7)
            nn.LeakyReLU(0.2),
            nn.Flatten(),  # (B, 4c·49)
        )
        self.head = nn.Linear(self.feature_dim, 1)  # (B, 1) logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.view(x.shape[0], 1, 28, 28)))
