"""Conditional GAN on the DCGAN backbone: class labels into both G and D.

* G (Mirza & Osindero 2014, arXiv 1411.1784): a learned label embedding ``e(y)`` is concatenated
  to z, and the DCGAN generator maps ``[z, e(y)]`` to an image: ``G(z, y)``.
* D is a **projection discriminator** (Miyato & Koyama 2018, arXiv 1802.05637, eq. 3):
  ``D(x, y) = ψ(φ(x)) + ⟨v_y, φ(x)⟩``, with φ the DCGAN discriminator's convolutional features
  ``(B, F)``, ψ its linear head and ``v_y`` a learned per-class vector (an embedding of y). The
  projection term is the log-ratio of class-conditional densities; it needs no one-hot channels.

Backbone: convolutional (the DCGAN of :mod:`.dcgan`), because conv features make class identity
easy to read from the images, which the "change only the label, the predicted class changes"
check relies on. D's normalisation follows the same rule as DCGAN's (:func:`gan_atelier.objectives.discriminator_norm`);
with BatchNorm the trainer never concatenates real and fake (it never does for conditional D's).
"""

from __future__ import annotations

import torch
from torch import nn

from .dcgan import CHANNELS, DCGANDiscriminator, DCGANGenerator

NUM_CLASSES = 10
LABEL_EMBEDDING_DIM = 10  # G's label code, concatenated to z


class ConditionalGenerator(nn.Module):
    """G(z, y): z ``(B, latent_dim)``, labels ``(B,)`` int64 in 0..9 → images ``(B, 1, 28, 28)`` in [0, 1]."""

    conditional = True

    def __init__(self, latent_dim: int = 100, num_classes: int = NUM_CLASSES,
                 embedding_dim: int = LABEL_EMBEDDING_DIM, channels: int = CHANNELS):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.label_embedding = nn.Embedding(num_classes, embedding_dim)  # N(0, 1) init, like z
        self.backbone = DCGANGenerator(latent_dim + embedding_dim, channels)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        code = torch.cat([z, self.label_embedding(labels)], dim=1)  # (B, latent + embedding)
        return self.backbone(code)  # (B, 1, 28, 28)


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = ψ(φ(x)) + ⟨v_y, φ(x)⟩ → logits ``(B, 1)`` (Miyato & Koyama 2018)."""

    conditional = True

    def __init__(self, num_classes: int = NUM_CLASSES, channels: int = CHANNELS, norm: str = "batch"):
        super().__init__()
        self.backbone = DCGANDiscriminator(channels, norm)
        self.has_batchnorm = self.backbone.has_batchnorm
        self.class_projection = nn.Embedding(num_classes, self.backbone.feature_dim)  # v_y, (10, F)
        nn.init.normal_(self.class_projection.weight, mean=0.0, std=0.02)  # the DCGAN init scale

    def forward(self, x: torch.Tensor, labels: torch.Tensor,
                with_classes: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, 1)``; with ``with_classes``, also the class logits ``⟨v_k, φ(x)⟩`` ``(B, num_classes)``.

        The class logits are the projection term for every class at once (entry ``y`` of row i is
        the projection term of ``D(x_i, y)``): the auxiliary classifier of ``train.ac_weight``
        reads them, with no parameter of its own.
        """
        features = self.backbone.features(x.view(x.shape[0], 1, 28, 28))  # φ(x), (B, F)
        unconditional = self.backbone.head(features)  # ψ(φ(x)), (B, 1)
        projection = (self.class_projection(labels) * features).sum(dim=1, keepdim=True)  # (B, 1)
        if not with_classes:
            return unconditional + projection
        return unconditional + projection, features @ self.class_projection.weight.t()  # (B, 1), (B, K)
