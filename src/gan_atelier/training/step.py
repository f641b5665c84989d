"""One training step, written out: :func:`gan_step` (the TP's alternating D and G updates) and
:func:`vae_step`. Both read the models, optimizers and random streams from the trainer and
return a :class:`StepResult` (``None`` when a non-finite loss skipped the step).

Extension points, each in one place:

* every gradient goes through :func:`descend` (``zero_grad → backward →
  trainer.sync_gradients(module) → optimizer.step``): a data-parallel all-reduce is a
  ``sync_gradients`` callable, nothing else changes;
* D's regularisers are added by :func:`d_regularisers` (WGAN-GP's gradient penalty, and the
  zero-centred R1/R2 of the modern recipe, :mod:`.recipe`); the lr schedule is applied at the
  start of each step (:func:`.recipe.apply_lr_schedule`);
* what D's outputs mean is the loss's business (:mod:`gan_atelier.objectives`): the logged
  ``d_real``/``d_fake`` are ``σ(logit)`` for the BCE losses and the raw critic score otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..losses import bernoulli_reconstruction, gaussian_kl, gradient_penalty
from .recipe import apply_lr_schedule, topk_fraction, zero_centred_penalties

if TYPE_CHECKING:
    from .trainer import Trainer


@dataclass
class StepResult:
    """What one step did; every tensor is a detached scalar on the training device.

    ``d_real``/``d_fake``: the batch mean of D's output on real and on generated images (a
    probability σ(logit) for the BCE losses, the raw critic score for the others; NaN for the
    VAE). The VAE reports its KL term as ``d_loss`` and its reconstruction term as ``g_loss``.
    """

    d_loss: torch.Tensor
    g_loss: torch.Tensor
    d_real: torch.Tensor
    d_fake: torch.Tensor
    g_stepped: bool = True  # False on D-only steps (train.d_steps > 1)


def descend(trainer: "Trainer", loss: torch.Tensor, module: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """One gradient step of ``module`` on ``loss``: the only path from a backward to an optimizer step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    trainer.sync_gradients(module)  # no-op by default; data-parallel training all-reduces here
    optimizer.step()


def d_regularisers(trainer: "Trainer", real: torch.Tensor, fake: torch.Tensor,
                   d_kwargs: dict, d_kwargs_fake: dict | None = None) -> torch.Tensor | None:
    """The terms added to D's loss: the loss's own (``LossPair.uses_gradient_penalty``) and R1/R2.

    WGAN-GP: ``λ · E_x̂ (‖∇_x̂ D(x̂)‖₂ − 1)²``, ``x̂ = α·real + (1 − α)·fake``, one α ~ U(0, 1) per
    sample drawn from the noise stream (Gulrajani et al. 2017). R1/R2 (``train.r1_gamma``,
    ``train.r2_gamma``): ``(γ/2)·E‖∇_x D(x)‖²`` on real / generated images, see :mod:`.recipe`.
    None when no term is due.
    """
    t = trainer.config.train
    penalty = None
    if trainer.loss_pair.uses_gradient_penalty:
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=trainer.device,
                           generator=trainer.noise_generator)  # (B, 1, 1, 1): one weight per sample
        penalty = t.gp_weight * gradient_penalty(trainer.discriminator, real, fake.float(), alpha, **d_kwargs)
    zero_centred = zero_centred_penalties(trainer, real, fake, d_kwargs, d_kwargs if d_kwargs_fake is None
                                          else d_kwargs_fake)
    if zero_centred is not None:
        penalty = zero_centred if penalty is None else penalty + zero_centred
    return penalty


@torch.no_grad()
def d_outputs(real_logits: torch.Tensor, fake_logits: torch.Tensor, probabilistic: bool,
              dims: int | tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean D output on real and fake: ``σ(logit)`` when the logits are log-odds, else the raw score."""
    real, fake = real_logits.detach().float(), fake_logits.detach().float()
    if probabilistic:
        real, fake = torch.sigmoid(real), torch.sigmoid(fake)
    if dims is None:
        return real.mean(), fake.mean()
    return real.mean(dim=dims), fake.mean(dim=dims)


def gan_step(trainer: "Trainer", real: torch.Tensor, labels: torch.Tensor) -> StepResult | None:
    """One GAN step on a batch of real images ``(B, 1, 28, 28)``: D first, then G on the same fakes.

    With ``σ`` the sigmoid and the TP's non-saturating BCE (other losses: :mod:`gan_atelier.losses`)::

        D step:  L_D = −E log D(x) − E log(1 − D(G(z)))    on real and detached fakes (+ d_regularisers)
        G step:  L_G = −E log D(G(z))                      the same fakes, G's graph kept, D frozen

    ``train.ac_weight = λ`` adds ``λ·CE`` of D's class logits to both (logged) losses
    (:func:`auxiliary_class_loss`); ``train.topk_end < 1`` keeps D's best-rated fakes in L_G (:func:`top_k_fakes`).

    Same math as the TP, arranged for speed: when D has no BatchNorm and is unconditional, real
    and fake go through D in one forward pass (the two means are still taken separately), and
    D's weights are frozen during G's backward (their gradients would be discarded anyway). With
    ``train.d_steps = n``, G steps on every n-th step only.
    """
    t, pair = trainer.config.train, trainer.loss_pair
    generator, discriminator = trainer.generator, trainer.discriminator
    apply_lr_schedule(trainer)  # cosine lr (train.lr_end_ratio); nothing when constant
    z = trainer.noise(real.shape[0])  # (B, latent_dim)
    if trainer.conditional:  # cgan: uniform classes for the fakes
        fake_labels = trainer.random_labels(real.shape[0])
    elif trainer.pseudo_classes:  # self-conditioned: the cluster G draws from z; ``labels`` are x's clusters
        fake_labels = generator.clusters_of(z)
    else:
        fake_labels = None
    g_turn = (trainer.step % t.d_steps) == t.d_steps - 1
    d_kwargs_real = {"labels": labels} if fake_labels is not None else {}
    d_kwargs_fake = {"labels": fake_labels} if fake_labels is not None else {}

    # ---- 1. D step: real → REAL (1 − label smoothing), detached fakes → FAKE ---------------------
    with trainer.autocast, torch.set_grad_enabled(g_turn):  # G's graph only if G steps next
        fake = generator(z, fake_labels) if fake_labels is not None else generator(z)  # (B, 784) or (B, 1, 28, 28)
    fake = fake.view_as(real)  # the MLP's (B, 784) → (B, 1, 28, 28), a view
    with trainer.autocast:
        real_logits, fake_logits, real_classes = discriminator_logits(trainer, real, fake.detach(), d_kwargs_real,
                                                                      d_kwargs_fake)
        d_loss = pair.d_loss(real_logits.float(), fake_logits.float(), real_target=1.0 - t.label_smoothing)
    if t.ac_weight:
        d_loss = d_loss + auxiliary_class_loss(t.ac_weight, real_classes, labels)
    regularisers = d_regularisers(trainer, real, fake.detach(), d_kwargs_real, d_kwargs_fake)
    if regularisers is not None:
        d_loss = d_loss + regularisers
    if not trainer.guard_finite(d_loss, "D"):
        return None
    descend(trainer, d_loss, discriminator, trainer.optimizer_d)
    d_real, d_fake = d_outputs(real_logits, fake_logits, pair.probabilistic)
    if not g_turn:
        return StepResult(d_loss.detach(), torch.zeros_like(d_loss.detach()), d_real, d_fake, g_stepped=False)

    # ---- 2. G step: the same fakes, now with G's graph, scored against REAL ----------------------
    g_loss = generator_step(trainer, fake, fake_labels, d_kwargs_fake, real_logits.detach())
    if g_loss is None:
        return None
    trainer.update_ema()
    return StepResult(d_loss.detach(), g_loss, d_real, d_fake)


def generator_step(trainer: "Trainer", fake: torch.Tensor, fake_labels: torch.Tensor | None, d_kwargs_fake: dict,
                   real_logits: torch.Tensor) -> torch.Tensor | None:
    """G's update on the D step's fakes (G's graph kept), D frozen; its detached loss, None if non-finite.

    ``L_G = pair.generator_loss(D(G(z)))`` (relativistic pairs also read the D step's ``real_logits``),
    over D's best-rated fakes only with ``train.topk_end < 1`` (:func:`top_k_fakes`), plus
    ``λ·CE`` of D's class logits on the labels the fakes were drawn for with ``train.ac_weight``.
    """
    t, pair, discriminator = trainer.config.train, trainer.loss_pair, trainer.discriminator
    discriminator.requires_grad_(False)  # its gradients would be discarded anyway
    try:
        with trainer.autocast:
            if t.ac_weight:
                fake_logits, fake_classes = discriminator(fake, **d_kwargs_fake, with_classes=True)
            else:
                fake_logits = discriminator(fake, **d_kwargs_fake)
        kept = top_k_fakes(trainer, fake_logits)
        if kept is not None:
            fake_logits, real_logits = fake_logits[kept], real_logits[kept]
            if t.ac_weight:
                fake_classes, fake_labels = fake_classes[kept], fake_labels[kept]
        # relativistic pairs (rpgan) compare each fake with the D step's logit of its paired real
        g_loss = pair.generator_loss(fake_logits.float(), real_logits.float())
        if t.ac_weight:
            g_loss = g_loss + auxiliary_class_loss(t.ac_weight, fake_classes, fake_labels)
        if not trainer.guard_finite(g_loss, "G"):
            return None
        descend(trainer, g_loss, trainer.generator, trainer.optimizer_g)
    finally:
        discriminator.requires_grad_(True)
    return g_loss.detach()


def top_k_fakes(trainer: "Trainer", fake_logits: torch.Tensor) -> torch.Tensor | None:
    """Indices of the k fakes D rates most real (``fake_logits`` ``(B, 1)``), or None when off.

    Top-k training (Sinha et al. 2020, "Top-k Training of GANs: Improving GAN Performance by
    Throwing Away Bad Samples", arXiv 2002.06224): G's loss is taken over the k fakes with the
    highest D output only; the worst-rated fakes' gradients, which the paper finds point away from
    where the samples should go, are dropped. k = max(1, round(B · ν(t))) with
    ν(t) = cosine(1, ``train.topk_end``, t, T) (:func:`.recipe.topk_fraction`): every fake early on,
    a fraction ``topk_end`` at the end.
    """
    fraction = topk_fraction(trainer)
    if fraction >= 1.0:
        return None
    k = max(1, round(fake_logits.shape[0] * fraction))
    return fake_logits.detach().view(fake_logits.shape[0], -1).mean(dim=1).topk(k).indices


def auxiliary_class_loss(weight: float, class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``λ · CE(softmax_k ⟨v_k, φ(x)⟩, y)``: the auxiliary classifier of ``train.ac_weight``.

    AC-GAN (Odena et al. 2017, arXiv 1610.09585) gives D a class head and adds its cross-entropy to
    both losses. Here the head is the projection D's own class vectors (the class logits of
    :class:`~gan_atelier.models.ProjectionDiscriminator`), and D's term is taken on **real** images
    only, so D's classifier learns the data's classes, not G's. G's term pushes each sample to read
    as the class it was asked for, and with it away from the class boundaries: the bias of AC-GAN
    towards easily classified samples (Shu, Bui & Ermon 2017, arXiv 1711.04756), seen here as a
    lower recall (docs/results.md, `modern-cgan`).
    """
    return weight * nn.functional.cross_entropy(class_logits.float(), labels)


def discriminator_logits(trainer: "Trainer", real: torch.Tensor, fake: torch.Tensor, d_kwargs_real: dict,
                         d_kwargs_fake: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """D's logits ``(B, 1)`` on real and (detached) fake images: one pass when allowed, else two; and
    D's class logits on the real images when ``train.ac_weight`` asks for them (else None)."""
    if not trainer.one_d_pass:  # BatchNorm statistics must not mix real and fake batches
        real_classes = None
        if trainer.config.train.ac_weight:  # the auxiliary classifier reads the real images' class logits
            real_logits, real_classes = trainer.discriminator(real, **d_kwargs_real, with_classes=True)
        else:
            real_logits = trainer.discriminator(real, **d_kwargs_real)
        return real_logits, trainer.discriminator(fake, **d_kwargs_fake), real_classes
    logits = trainer.discriminator(torch.cat([real, fake]))  # (2B, 1); never conditional, so no class logits
    return logits[:real.shape[0]], logits[real.shape[0]:], None


def vae_step(trainer: "Trainer", real: torch.Tensor, labels: torch.Tensor) -> StepResult | None:
    """One VAE step (Kingma & Welling 2014, arXiv 1312.6114): minimise −ELBO.

        L = −E_q log p(x|z) + KL(q(z|x) ‖ N(0, I)),  z = μ + ε·σ, ε ~ N(0, I)   (reparameterisation)

    the reconstruction a Bernoulli BCE summed over pixels. Logged as d_loss = KL and
    g_loss = reconstruction (there is no discriminator).
    """
    vae = trainer.generator
    with trainer.autocast:
        mean, log_var = vae.encode(real)
        eps = torch.randn(mean.shape, device=trainer.device, generator=trainer.noise_generator)
        z = mean + eps * torch.exp(0.5 * log_var)  # reparameterisation trick
        logits = vae.decode_logits(z)
    reconstruction = bernoulli_reconstruction(logits.float(), real)
    kl = gaussian_kl(mean.float(), log_var.float())
    loss = reconstruction + kl
    if not trainer.guard_finite(loss, "VAE"):
        return None
    descend(trainer, loss, vae, trainer.optimizer_g)
    trainer.update_ema()
    nan = torch.full_like(kl.detach(), float("nan"))
    return StepResult(kl.detach(), reconstruction.detach(), nan, nan)
