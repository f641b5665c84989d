"""The named presets: each a map of dotted config keys to values, applied on top of the TP's defaults.

Read by :func:`gan_atelier.config.get_config` (which checks every key and value); split from
``config.py`` to keep it small. Standard library only, like it.
"""

from __future__ import annotations

from typing import Any

_MODERN = {"model.d_norm": "none", "train.loss": "rpgan", "train.r1_gamma": 0.01, "train.r2_gamma": 0.01,
           "train.r_every": 8, "train.gamma_end_ratio": 0.1, "train.lr_end_ratio": 0.25, "train.beta1": 0.0,
           "train.beta2": 0.99, "train.ema_half_life": 10000.0, "train.ema_ramp": 0.05, "train.epochs": 16,
           "train.sample_every": 2}


def preset_values() -> dict[str, dict[str, Any]]:
    """Each preset as a dotted-key → value map applied on top of the TP's defaults."""
    return {
        # The TP, exactly: the defaults of every dataclass of config.py.
        "seed": {},
        # First contact on a 2-core laptop CPU: same model and step, a fifth of the data, fewer epochs.
        "quick": {"data.subset": 12000, "train.epochs": 10, "train.sample_every": 1},
        # A couple of seconds: the dry-run path used by tests and CI.
        "dry-run": {"data.subset": 512, "train.epochs": 2, "train.sample_every": 1},
        # Beyond the TP. Epochs are set so each preset trains in no more CPU time than the seed's
        # 50 epochs (one DCGAN step ≈ 2.2 TP steps on a CPU); see docs/results.md.
        "dcgan": {"model.name": "dcgan", "train.epochs": 20, "train.sample_every": 2},
        "cgan": {"model.name": "cgan", "train.epochs": 18, "train.sample_every": 2},
        # Loss comparisons on the DCGAN architecture (against the dcgan preset: only the loss differs).
        "lsgan": {"model.name": "dcgan", "train.loss": "lsgan", "train.epochs": 20, "train.sample_every": 2},
        "hinge": {"model.name": "dcgan", "train.loss": "hinge", "train.epochs": 20, "train.sample_every": 2},
        # The modern recipe (R3GAN-like, docs/results.md "The modern preset"): RpGAN loss, lazy R1 + R2
        # (γ = 0.01 for pixels in [0, 1], every 8 D steps), a D without normalisation, Adam β = (0, 0.99),
        # cosine decay of lr (→ ×0.25) and γ (→ ×0.1), EMA of G with a 10,000-image half-life and a 5 % ramp.
        "modern": _MODERN | {"model.name": "dcgan"},
        "modern-cgan": _MODERN | {"model.name": "cgan"},
        # Gulrajani et al. 2017: n_critic = 5, λ = 10, Adam lr 1e-4, betas (0, 0.9); layer-norm critic.
        "wgan-gp": {"model.name": "dcgan", "train.loss": "wgan-gp", "train.d_steps": 5,
                    "train.lr": 1e-4, "train.beta1": 0.0, "train.beta2": 0.9,
                    "train.epochs": 18, "train.sample_every": 2},
        # The TP's sizes as a VAE; Adam's usual (0.9, 0.999) at 1e-3. Cheaper per step than the GAN.
        "vae": {"model.name": "vae", "train.lr": 1e-3, "train.beta1": 0.9, "train.epochs": 50,
                "train.sample_every": 5},
    }
