"""Checks of the modern recipe's config keys, called by :func:`gan_atelier.config.validate`.

Split from ``config.py`` to keep it small; standard library only, like it.
"""

from __future__ import annotations

from .errors import ConfigError
from .objectives import discriminator_norm


def validate_recipe(config) -> None:
    """The modern recipe's keys of a :class:`~gan_atelier.config.RunConfig`: ranges, and the combinations
    that cannot work (R1/R2 with a BatchNorm D, two EMA decays, a D norm for a model without one)."""
    t = config.train
    for key in ("ema_half_life", "ema_ramp", "r1_gamma", "r2_gamma"):
        if getattr(t, key) < 0:
            raise ConfigError(f"bad value {getattr(t, key)!r} for train.{key}: must be >= 0")
    for key in ("r_every", "gamma_end_ratio", "lr_end_ratio"):
        if getattr(t, key) <= 0:
            raise ConfigError(f"bad value {getattr(t, key)!r} for train.{key}: must be > 0")
    for key in ("g_channels", "d_channels"):
        if getattr(config.model, key) < 0:
            raise ConfigError(f"bad value {getattr(config.model, key)!r} for model.{key}: must be >= 0 (0 = default)")
        if getattr(config.model, key) and config.model.name not in ("dcgan", "cgan"):
            raise ConfigError(f"model.{key} applies to the dcgan and cgan models, not {config.model.name!r}")
    if config.model.clusters < 0:
        raise ConfigError(f"bad value {config.model.clusters!r} for model.clusters: must be >= 0 (0 = off)")
    if config.model.clusters and config.model.name != "dcgan":
        raise ConfigError(f"model.clusters (self-conditioning) applies to the dcgan model, not {config.model.name!r}")
    if 0 < config.data.subset < config.model.clusters:
        raise ConfigError(f"model.clusters={config.model.clusters} needs at least as many training images; "
                          f"data.subset={config.data.subset}")
    if not 0 < t.topk_end <= 1:
        raise ConfigError(f"bad value {t.topk_end!r} for train.topk_end: must be in (0, 1] (1 = off)")
    if t.ac_weight < 0:
        raise ConfigError(f"bad value {t.ac_weight!r} for train.ac_weight: must be >= 0 (0 = off)")
    if t.ac_weight and config.model.name != "cgan" and not config.model.clusters:
        raise ConfigError("train.ac_weight (auxiliary classifier) needs a projection D: model.name='cgan' "
                          "or model.clusters > 0")
    if t.ema and t.ema_half_life:
        raise ConfigError("train.ema and train.ema_half_life both set: choose one way to give the EMA's decay")
    if (t.r1_gamma or t.r2_gamma) and config.model.name == "vae":
        raise ConfigError("train.r1_gamma / r2_gamma need a discriminator; model.name='vae' has none")
    if config.model.name not in ("dcgan", "cgan"):
        if config.model.d_norm != "auto":
            raise ConfigError(f"model.d_norm applies to the dcgan and cgan models, not {config.model.name!r}")
        return
    norm = discriminator_norm(t.loss, config.model.spectral_norm, config.model.d_norm)  # may refuse "batch"
    if (t.r1_gamma or t.r2_gamma) and norm == "batch":
        raise ConfigError("R1/R2 penalise each sample's gradient, which BatchNorm in D mixes: "
                          "set model.d_norm=none (or layer)")
