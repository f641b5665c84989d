"""Model registry: ``build_models(config)`` → (generator, discriminator).

Models return images (G) or logits (D) and know nothing of losses or optimizers.
"""

from __future__ import annotations

import torch
from torch import nn

from ..config import MODELS, RunConfig
from ..errors import ConfigError
from .mlp import Discriminator, Generator

__all__ = ["Generator", "Discriminator", "build_models", "generate_images", "count_parameters"]


def build_models(config: RunConfig) -> tuple[nn.Module, nn.Module]:
    """Fresh G and D for ``config.model`` (initialised from the global torch RNG)."""
    name, latent_dim = config.model.name, config.model.latent_dim
    if name == "mlp":
        generator, discriminator = Generator(latent_dim), Discriminator()
    else:
        builders = _extra_builders()
        if name not in builders:
            raise ConfigError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
        generator, discriminator = builders[name](config)
    if config.model.spectral_norm and discriminator is not None:
        apply_spectral_norm(discriminator)
    return generator, discriminator


def _extra_builders() -> dict:
    """Models beyond the TP, imported lazily so the TP's path stays minimal."""
    builders = {}
    try:
        from . import extra  # noqa: F401  (dcgan, cgan, vae when present)
        builders.update(extra.BUILDERS)
    except ImportError:
        pass
    return builders


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
    images = generator(z, labels) if getattr(generator, "conditional", False) else generator(z)
    return images.reshape(z.shape[0], 1, 28, 28)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
