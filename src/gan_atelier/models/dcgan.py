"""DCGAN for 28×28 grayscale (Radford, Metz & Chintala 2016, arXiv 1511.06434), sized for a CPU.

The paper's rules, applied to Fashion-MNIST:

* G is all transposed convolutions: z viewed as a 1×1 map is "projected and reshaped" to 7×7 by a
  7×7 transposed convolution, then upsampled ×2 twice (7 → 14 → 28). BatchNorm after every layer
  but the last, ReLU inside, and a **Sigmoid** output rather than the paper's Tanh, because the
  TP's data live in [0, 1] (``ToTensor``, no ``Normalize``).
* D is strided convolutions (no pooling), LeakyReLU(0.2), no normalisation on its first layer,
  and a linear head returning one **logit** (no Sigmoid: the loss owns it).
* Weights ~ N(0, 0.02); BatchNorm weights ~ N(1, 0.02) and biases 0 (the paper's §4 init).

D's normalisation (the ``norm`` argument, chosen from the run's loss by
:func:`gan_atelier.objectives.discriminator_norm`):

* ``"batch"`` — the DCGAN default, for the ns / saturating / lsgan / hinge losses. A BatchNorm D
  sees real and fake batches in **separate** forward passes (``has_batchnorm = True`` tells the
  trainer), so one batch's statistics never mix the two.
* ``"layer"`` — for WGAN-GP. The penalty is defined per sample, and BatchNorm couples the samples
  of a batch, so Gulrajani et al. (2017, §4) drop it from the critic and suggest layer
  normalisation: here ``GroupNorm(num_groups=1)``, normalising each sample over (C, H, W) with a
  per-channel affine, as their released code does.
* ``"none"`` — with ``model.spectral_norm = true``: spectral normalisation is the Lipschitz control
  and, as in Miyato et al. (2018)'s SN-GAN discriminators, D carries no other normalisation.

Width: ``channels = 32`` (G 64 → 32 → 1 maps, D 1 → 32 → 64) keeps one training step at about
2.2× the TP's MLP step on this CPU (96 vs 44 ms per batch of 128, one thread; width 64 costs
about 4×); pytorch/examples uses 64 at 64×64.
"""

from __future__ import annotations

import torch
from torch import nn

CHANNELS = 32  # base width; see the module docstring
BATCHNORM_EPS = 1e-5  # PyTorch's default, written out: never pass eps positionally
BATCHNORM_MOMENTUM = 0.1
NORMS = ("batch", "layer", "none")


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN initialisation: conv/linear weights N(0, 0.02), norm weights N(1, 0.02), biases 0."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, mean=0.0, std=0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.normal_(layer.weight, mean=1.0, std=0.02)
            nn.init.zeros_(layer.bias)


def _norm_2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels, eps=BATCHNORM_EPS, momentum=BATCHNORM_MOMENTUM)
    if kind == "layer":
        return nn.GroupNorm(num_groups=1, num_channels=channels, eps=BATCHNORM_EPS)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; valid norms: {', '.join(NORMS)}")


class DCGANGenerator(nn.Module):
    """G: z ``(B, latent_dim)`` → images ``(B, 1, 28, 28)`` in [0, 1]."""

    conditional = False

    def __init__(self, latent_dim: int = 100, channels: int = CHANNELS):
        super().__init__()
        self.latent_dim = latent_dim
        self.model = nn.Sequential(
            # "project and reshape": (B, latent, 1, 1) → (B, 2c, 7, 7); the BatchNorm makes a bias redundant
            nn.ConvTranspose2d(latent_dim, 2 * channels, kernel_size=7, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(2 * channels, eps=BATCHNORM_EPS, momentum=BATCHNORM_MOMENTUM),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * channels, channels, kernel_size=4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels, eps=BATCHNORM_EPS, momentum=BATCHNORM_MOMENTUM),  # (B, c, 14, 14)
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, kernel_size=4, stride=2, padding=1),  # (B, 1, 28, 28)
            nn.Sigmoid(),  # [0, 1], the data's range
        )
        dcgan_init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z.view(z.shape[0], self.latent_dim, 1, 1))  # (B, 1, 28, 28)


class DCGANDiscriminator(nn.Module):
    """D: images ``(B, 1, 28, 28)`` (or ``(B, 784)``) → logits ``(B, 1)``.

    ``features(x)`` ``(B, 2c·7·7)`` is exposed for the projection discriminator of the cGAN.
    """

    conditional = False

    def __init__(self, channels: int = CHANNELS, norm: str = "batch"):
        super().__init__()
        self.norm = norm
        self.has_batchnorm = norm == "batch"
        self.feature_dim = 2 * channels * 7 * 7
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=4, stride=2, padding=1),  # (B, c, 14, 14), no norm here
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, kernel_size=4, stride=2, padding=1,
                      bias=norm == "none"),  # (B, 2c, 7, 7); a following norm makes a bias redundant
            _norm_2d(norm, 2 * channels),
            nn.LeakyReLU(0.2),
            nn.Flatten(),  # (B, 2c·49)
        )
        self.head = nn.Linear(self.feature_dim, 1)  # (B, 1) logits
        dcgan_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.view(x.shape[0], 1, 28, 28)))

