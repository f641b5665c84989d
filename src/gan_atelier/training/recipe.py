"""The modern recipe inside the training step: R1/R2 penalties, cosine schedules, the EMA half-life.

Each ingredient is a config key (``train.r1_gamma``, ``train.r2_gamma``, ``train.r_every``,
``train.gamma_end_ratio``, ``train.lr_end_ratio``, ``train.ema_half_life``, ``train.ema_ramp``)
and a pure function of the training position, so a resumed run recomputes the same values.
The formulas and papers are in :mod:`gan_atelier.regularizers` and :mod:`gan_atelier.schedules`:

* R1 / R2 (Mescheder et al. 2018; R3GAN, Huang et al. 2024): ``(γ/2)·E‖∇_x D(x)‖²`` on real /
  generated images, added to D's loss by :func:`.step.d_regularisers`. Lazy (StyleGAN2, Karras et
  al. 2020, §B): with ``r_every = k`` the penalties are computed every k-th D step only, with
  weight ``k·γ``, the same expected gradient for about 1/k of the double-backward cost.
* γ(t) = γ · cosine(1, gamma_end_ratio, t, T) and lr(t) = lr · cosine(1, lr_end_ratio, t, T) with
  T = epochs × batches per epoch (R3GAN decays both); ratios of 1 leave them constant.
* the EMA decay from a half-life in images with a ramp-up (StyleGAN2-ADA).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from .. import config as cfg
from ..regularizers import gradient_squared_norms
from ..schedules import cosine, ema_decay

if TYPE_CHECKING:
    from .trainer import Trainer


def total_steps(trainer: "Trainer") -> int:
    """T, the schedules' length: ``train.epochs`` × batches per epoch."""
    return trainer.config.train.epochs * trainer.num_batches


def apply_lr_schedule(trainer: "Trainer") -> None:
    """Set both optimizers' lr to ``lr · cosine(1, lr_end_ratio, step, T)`` (nothing when the ratio is 1)."""
    ratio = trainer.config.train.lr_end_ratio
    if ratio == 1.0:
        return
    scale = cosine(1.0, ratio, trainer.step, total_steps(trainer))
    for optimizer, base in ((trainer.optimizer_g, cfg.lr_g(trainer.config)),
                            (trainer.optimizer_d, cfg.lr_d(trainer.config))):
        for group in optimizer.param_groups:
            group["lr"] = base * scale


def topk_fraction(trainer: "Trainer") -> float:
    """ν(t) = cosine(1, topk_end, step, T): the fraction of the fakes G's loss keeps (1 = all, off)."""
    end = trainer.config.train.topk_end
    return 1.0 if end >= 1.0 else cosine(1.0, end, trainer.step, total_steps(trainer))


def penalty_weights(trainer: "Trainer") -> tuple[float, float]:
    """(γ₁, γ₂) applied at this step: 0 between lazy steps, ``r_every · γ · cosine(...)`` on them."""
    t = trainer.config.train
    if not (t.r1_gamma or t.r2_gamma) or trainer.step % t.r_every:
        return 0.0, 0.0
    scale = t.r_every * cosine(1.0, t.gamma_end_ratio, trainer.step, total_steps(trainer))
    return t.r1_gamma * scale, t.r2_gamma * scale


def zero_centred_penalties(trainer: "Trainer", real: torch.Tensor, fake: torch.Tensor,
                           d_kwargs_real: dict, d_kwargs_fake: dict) -> torch.Tensor | None:
    """``(γ₁/2)·E‖∇D(real)‖² + (γ₂/2)·E‖∇D(fake)‖²`` at this step, or None when none is due.

    D runs again on the (detached) images with ``requires_grad``: one pass on ``cat([real, fake])``
    when D allows it (unconditional, no BatchNorm), else one pass per set. Under lazy
    regularisation this extra forward happens on 1 step in ``r_every``.
    """
    gamma_real, gamma_fake = penalty_weights(trainer)
    wanted = [(g, x.detach().float().requires_grad_(True), kw)
              for g, x, kw in ((gamma_real, real, d_kwargs_real), (gamma_fake, fake, d_kwargs_fake)) if g > 0]
    if not wanted:
        return None
    discriminator = trainer.discriminator
    with trainer.autocast:
        if trainer.one_d_pass and len(wanted) == 2:
            logits = discriminator(torch.cat([wanted[0][1], wanted[1][1]]))  # (2B, 1)
            norms = gradient_squared_norms(logits, [wanted[0][1], wanted[1][1]])
        else:
            norms = [gradient_squared_norms(discriminator(x, **kw), [x])[0] for _, x, kw in wanted]
    return sum(0.5 * gamma * norm for (gamma, _, _), norm in zip(wanted, norms))


def ema_weight(trainer: "Trainer") -> float:
    """1 − decay of this EMA update: ``train.ema``, or from ``train.ema_half_life`` (images) and its ramp."""
    t = trainer.config.train
    if not t.ema_half_life:
        return 1.0 - t.ema
    return 1.0 - ema_decay(t.batch_size, t.ema_half_life, images_seen(trainer), t.ema_ramp)


def images_seen(trainer: "Trainer") -> int:
    """Real images processed up to and including the current batch (the last batch of an epoch may be short)."""
    per_epoch = trainer.images.shape[0]
    in_epoch = min((trainer.batch_index + 1) * trainer.config.train.batch_size, per_epoch)
    return trainer.epoch * per_epoch + in_epoch
