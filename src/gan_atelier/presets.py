"""The named presets: each a map of dotted config keys to values, applied on top of the TP's defaults.

Read by :func:`gan_atelier.config.get_config` (which checks every key and value); split from
``config.py`` to keep it small. Standard library only, like it.
"""

from __future__ import annotations

from typing import Any

# The modern recipe (docs/results.md "The modern preset"), chosen by equal-CPU runs on this machine:
# a spectrally normalised D without other normalisation (Miyato et al. 2018) and the hinge loss (SN-GAN),
# Adam β = (0, 0.9) with D's lr twice G's (TTUR, Heusel et al. 2017), batch 32 (more updates for the
# same CPU time), a cosine lr decay to a quarter, and an EMA of G with a 10,000-image half-life and a
# 5 % ramp (StyleGAN2-ADA). The R3GAN ingredients (train.loss=rpgan, train.r1_gamma / r2_gamma,
# r_every, gamma_end_ratio) stay available as keys; on these networks they scored worse (results.md).
_MODERN = {"model.spectral_norm": True, "model.d_norm": "none", "train.loss": "hinge", "train.beta1": 0.0,
           "train.beta2": 0.9, "train.batch_size": 32, "train.lr_d": 4e-4, "train.lr_end_ratio": 0.25,
           "train.ema_half_life": 10000.0, "train.ema_ramp": 0.05, "train.epochs": 14, "train.sample_every": 2}


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
        # The modern recipe (see _MODERN above) on the DCGAN networks, self-conditioned on 10 k-means
        # clusters of the pixels (Liu et al. 2020; no labels: models/self_conditioned.py; 30 clusters
        # collapsed within clusters at 2 of 3 seeds, docs/results.md); the same without the clusters;
        # and on the projection cGAN with the dataset's labels, whose D also learns to classify the
        # real images through its class vectors, G being pushed to draw the class asked for
        # (train.ac_weight: label agreement 0.91 → 0.96 at seed 0, docs/results.md).
        "modern": _MODERN | {"model.name": "dcgan", "model.clusters": 10},
        "modern-plain": _MODERN | {"model.name": "dcgan"},
        "modern-cgan": _MODERN | {"model.name": "cgan", "train.ac_weight": 0.2},
        # Gulrajani et al. 2017: n_critic = 5, λ = 10, Adam lr 1e-4, betas (0, 0.9); layer-norm critic.
        "wgan-gp": {"model.name": "dcgan", "train.loss": "wgan-gp", "train.d_steps": 5,
                    "train.lr": 1e-4, "train.beta1": 0.0, "train.beta2": 0.9,
                    "train.epochs": 18, "train.sample_every": 2},
        # The TP's sizes as a VAE; Adam's usual (0.9, 0.999) at 1e-3. Cheaper per step than the GAN.
        "vae": {"model.name": "vae", "train.lr": 1e-3, "train.beta1": 0.9, "train.epochs": 50,
                "train.sample_every": 5},
    }
