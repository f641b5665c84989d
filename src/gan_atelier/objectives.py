"""What each GAN objective asks of the discriminator: the one list of loss names, torch-free.

:mod:`gan_atelier.config` validates ``train.loss`` against :data:`LOSSES`, the model registry
asks :func:`discriminator_norm` which normalisation D gets, :mod:`gan_atelier.losses` pairs each
name with its two functions, and the training step reads the rest from :func:`objective`:

* ``probabilistic`` — D's logits are log-odds, so ``σ(logit) = D(x)`` is a probability (the BCE
  family: ``ns``, ``saturating``). Otherwise D is a *critic* whose raw score is what means
  something (LSGAN, hinge, Wasserstein): the logs show the raw mean score, not a sigmoid.
* ``d_penalty`` — a regulariser added to D's loss by the training step (``"gradient-penalty"``:
  WGAN-GP). A per-sample gradient penalty forbids BatchNorm in D (it would mix the samples whose
  gradients are penalised one by one; Gulrajani et al. 2017 §4 use layer norm).
* ``relativistic`` — G's loss needs the real logits of the same batch too (RpGAN pairs each real
  image with one fake); the step calls ``LossPair.generator_loss(fake_logits, real_logits)``.
* ``d_loss_floor`` — D's loss has a floor of 0 meaning "D separates perfectly", which the
  D-winning alarm watches (BCE only; the other losses have other scales).
* ``generator_loss_rejection`` — G's loss is −E ln D(G(z)) (``ns`` only), which the collapse
  detector reads as D's confidence that G's samples are fake.

Standard library only, like :mod:`gan_atelier.config`, which imports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

GRADIENT_PENALTY = "gradient-penalty"


@dataclass(frozen=True)
class Objective:
    name: str
    probabilistic: bool = True  # σ(logit) = D(x) is a probability; False: a critic score
    d_penalty: str | None = None  # a regulariser the step adds to D's loss (GRADIENT_PENALTY)
    paper: str = ""
    relativistic: bool = False  # G's loss compares each fake with the real of its pair: g_loss(fake, real)

    @property
    def d_loss_floor(self) -> bool:
        """D's loss is a BCE sum with floor 0 = perfect separation (the D-winning alarm's signal)."""
        return self.probabilistic

    @property
    def generator_loss_rejection(self) -> bool:
        """G's loss is −E ln D(G(z)) (the non-saturating BCE), so e^(−loss) is D(G(z))'s geometric mean
        (the collapse detector's "samples rejected outright" signal)."""
        return self.name == "ns"

    @property
    def batchnorm_allowed(self) -> bool:
        """False under a per-sample gradient penalty (BatchNorm would mix the penalised samples)."""
        return self.d_penalty is None


OBJECTIVES = (
    Objective("ns", paper="Goodfellow et al. 2014, arXiv 1406.2661 (the TP)"),
    Objective("saturating", paper="Goodfellow et al. 2014, the minimax G loss"),
    Objective("lsgan", probabilistic=False, paper="Mao et al. 2017, arXiv 1611.04076"),
    Objective("hinge", probabilistic=False, paper="Lim & Ye 2017; Miyato et al. 2018"),
    Objective("wgan-gp", probabilistic=False, d_penalty=GRADIENT_PENALTY,
              paper="Gulrajani et al. 2017, arXiv 1704.00028"),
    Objective("rpgan", probabilistic=False, relativistic=True,
              paper="Jolicoeur-Martineau 2019, arXiv 1807.00734; R3GAN, Huang et al. 2024, arXiv 2501.05441"),
)
LOSSES = tuple(o.name for o in OBJECTIVES)  # the one list of loss names
_BY_NAME = {o.name: o for o in OBJECTIVES}


def objective(name: str) -> Objective:
    if name not in _BY_NAME:
        raise ConfigError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    return _BY_NAME[name]


def discriminator_norm(loss: str, spectral_norm: bool, d_norm: str = "auto") -> str:
    """D's normalisation for a run: ``d_norm`` when not "auto"; else none under spectral norm,
    layer when the loss forbids BatchNorm, batch otherwise."""
    if d_norm != "auto":
        if d_norm == "batch" and not objective(loss).batchnorm_allowed:
            raise ConfigError(f"model.d_norm=batch is not allowed with train.loss={loss!r} (its penalty "
                              f"is per sample); use layer or none")
        return d_norm
    if spectral_norm:
        return "none"
    return "batch" if objective(loss).batchnorm_allowed else "layer"
