"""The TP's MLP-GAN, exactly as the lab defines it (``../shared/seed/tp_mlp_gan.md``, §2.2–2.3).

PyTorch's default initialisation, no BatchNorm. The module layout (``self.model`` as one
``nn.Sequential``) matches the TP notebook, so its ``state_dict`` keys do too.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGE_DIM = 28 * 28  # 784


class Generator(nn.Module):
    """G: z ~ N(0, I) of ``latent_dim`` → an image flattened to 784 values in [0, 1] (Sigmoid)."""

    conditional = False

    def __init__(self, latent_dim: int = 100, image_dim: int = IMAGE_DIM):
        super().__init__()
        self.latent_dim = latent_dim
        self.model = nn.Sequential(
            nn.Linear(latent_dim, 256),  # (B, 256)
            nn.LeakyReLU(0.2),
            nn.Linear(256, 512),  # (B, 512)
            nn.LeakyReLU(0.2),
            nn.Linear(512, 1024),  # (B, 1024)
            nn.LeakyReLU(0.2),
            nn.Linear(1024, image_dim),  # (B, 784)
            nn.Sigmoid(),  # the TP's images live in [0, 1] (ToTensor), not [-1, 1]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z)  # (B, 784)


class Discriminator(nn.Module):
    """D: an image (any shape flattening to 784) → one logit per image. No Sigmoid: the loss has it."""

    conditional = False
    has_batchnorm = False  # real and fake may share one forward pass

    def __init__(self, image_dim: int = IMAGE_DIM):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(image_dim, 1024),  # (B, 1024)
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(1024, 512),  # (B, 512)
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(512, 256),  # (B, 256)
            nn.LeakyReLU(0.2),
            nn.Dropout(0.3),
            nn.Linear(256, 1),  # (B, 1) logits
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.flatten(1))  # (B, 784) → (B, 1)
