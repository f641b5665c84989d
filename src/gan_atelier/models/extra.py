"""Models beyond the TP, registered by name for :func:`gan_atelier.models.build_models`.

Each builder maps a :class:`~gan_atelier.config.RunConfig` to ``(generator, discriminator)``;
the VAE has no discriminator (``None``). The run config decides D's normalisation: BatchNorm by
default, layer norm for the WGAN-GP critic, none under spectral norm (see :mod:`.dcgan`).
"""

from __future__ import annotations

from torch import nn

from ..config import RunConfig
from .conditional import ConditionalGenerator, ProjectionDiscriminator
from .dcgan import DCGANDiscriminator, DCGANGenerator, discriminator_norm
from .vae import VAE


def build_dcgan(config: RunConfig) -> tuple[nn.Module, nn.Module]:
    norm = discriminator_norm(config.train.loss, config.model.spectral_norm)
    return DCGANGenerator(config.model.latent_dim), DCGANDiscriminator(norm=norm)


def build_cgan(config: RunConfig) -> tuple[nn.Module, nn.Module]:
    norm = discriminator_norm(config.train.loss, config.model.spectral_norm)
    return ConditionalGenerator(config.model.latent_dim), ProjectionDiscriminator(norm=norm)


def build_vae(config: RunConfig) -> tuple[nn.Module, None]:
    return VAE(config.model.latent_dim), None


BUILDERS = {"dcgan": build_dcgan, "cgan": build_cgan, "vae": build_vae}
