"""Model registry: ``build_models(config)`` → (generator, discriminator).

Models return images (G) or logits (D) and know nothing of losses or optimizers. Every model
declares, as class or instance attributes (read directly, never with a default):

* a generator: ``latent_dim: int`` and ``conditional: bool`` (``forward(z)`` or ``forward(z, labels)``);
* a discriminator: ``conditional: bool`` and ``has_batchnorm: bool`` (a BatchNorm D must see real
  and generated images in separate forward passes, so batch statistics never mix the two).

The VAE has no discriminator (``None``). D's normalisation for a run is the loss's choice
(:func:`gan_atelier.objectives.discriminator_norm`); the builders receive it.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import nn

from ..config import MODELS, RunConfig
from ..errors import ConfigError
from ..objectives import discriminator_norm
from .conditional import ConditionalGenerator, ProjectionDiscriminator
from .self_conditioned import SelfConditionedGenerator
from .dcgan import CHANNELS, DCGANDiscriminator, DCGANGenerator
from .mlp import Discriminator, Generator
from .vae import VAE

__all__ = ["Generator", "Discriminator", "SelfConditionedGenerator", "build_models", "generate_images", "count_parameters",
           "REGISTRY", "BUILDERS", "GeneratorModule", "DiscriminatorModule"]


class GeneratorModule(Protocol):
    latent_dim: int
    conditional: bool


class DiscriminatorModule(Protocol):
    conditional: bool
    has_batchnorm: bool


Builder = Callable[[RunConfig], "tuple[nn.Module, nn.Module | None]"]


def widths(config: RunConfig) -> tuple[int, int]:
    """(G's, D's) base width for the convolutional models: ``model.g_channels`` / ``d_channels``, 0 = 32."""
    return config.model.g_channels or CHANNELS, config.model.d_channels or CHANNELS


def build_mlp(config: RunConfig) -> tuple[nn.Module, nn.Module]:
    """The TP's G and D (no normalisation in D: the loss's choice does not apply)."""
    return Generator(config.model.latent_dim), Discriminator()


def build_dcgan(config: RunConfig) -> tuple[nn.Module, nn.Module]:
    norm = discriminator_norm(config.train.loss, config.model.spectral_norm, config.model.d_norm)
    g_channels, d_channels = widths(config)
    if config.model.clusters:  # self-conditioned: G(z) picks a pseudo-class, D projects it
        k = config.model.clusters
        return (SelfConditionedGenerator(config.model.latent_dim, k, channels=g_channels),
                ProjectionDiscriminator(num_classes=k, channels=d_channels, norm=norm))
    return DCGANGenerator(config.model.latent_dim, g_channels), DCGANDiscriminator(d_channels, norm=norm)


def build_cgan(config: RunConfig) -> tuple[nn.Module, nn.Module]:
    norm = discriminator_norm(config.train.loss, config.model.spectral_norm, config.model.d_norm)
    g_channels, d_channels = widths(config)
    return (ConditionalGenerator(config.model.latent_dim, channels=g_channels),
            ProjectionDiscriminator(channels=d_channels, norm=norm))


def build_vae(config: RunConfig) -> tuple[nn.Module, None]:
    return VAE(config.model.latent_dim), None


REGISTRY: dict[str, Builder] = {"mlp": build_mlp, "dcgan": build_dcgan, "cgan": build_cgan, "vae": build_vae}
BUILDERS = {name: build for name, build in REGISTRY.items() if name != "mlp"}  # the models beyond the TP
if tuple(REGISTRY) != MODELS:
    raise ImportError(f"config.MODELS {MODELS} and the model registry {tuple(REGISTRY)} disagree")


def build_models(config: RunConfig) -> tuple[nn.Module, nn.Module | None]:
    """Fresh G and D for ``config.model`` (initialised from the global torch RNG)."""
    if config.model.name not in REGISTRY:  # config validation already refuses it; a clear error anyway
        raise ConfigError(f"unknown model {config.model.name!r}; valid models: {', '.join(MODELS)}")
    generator, discriminator = REGISTRY[config.model.name](config)
    if config.model.spectral_norm and discriminator is not None:
        apply_spectral_norm(discriminator)
    return generator, discriminator


def apply_spectral_norm(module: nn.Module) -> None:
    """Wrap every Linear/Conv weight of D in spectral normalisation (Miyato et al., 2018)."""
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            apply_spectral_norm(child)


def generate_images(generator: nn.Module, z: torch.Tensor,
                    labels: torch.Tensor | None = None) -> torch.Tensor:
    """Images ``(B, 1, 28, 28)`` in [0, 1] from any generator (the API boundary shape)."""
    images = generator(z, labels) if generator.conditional else generator(z)
    return images.reshape(z.shape[0], 1, 28, 28)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
