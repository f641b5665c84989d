"""The TP's questions as experiments: ``gan-atelier lab <experiment> [--quick]``.

One module per question; each has a ``run(context) -> LabResult`` that trains what it needs,
writes figures, ``summary.md`` (the measured evidence, numbers from this run) and
``results.json`` into its folder, plus small pure analysis functions that the tests check
against closed forms.

=================  ===========  =====================================================
experiment         TP question  what it shows
=================  ===========  =====================================================
saturating         Q1.1         log(1 − D(G(z))) starves G when D rejects its fakes
learning-rate      Q2.1         high or unequal rates oscillate, diverge or stall
detach             Q3.1         what ``.detach()`` spares, and the error without it
d-loss             final Q1     D's loss against 2 ln 2; episodes where D wins
mode-collapse      final Q2     a collapsing setting beside a healthy one
vae                final Q3     GAN vs VAE of matched size: sharpness, metrics, encoder
dcgan              final Q4     MLP vs convolutional GAN: parameters, time, metrics
=================  ===========  =====================================================
"""

from __future__ import annotations

EXPERIMENTS = {
    "saturating": "gan_atelier.lab.saturating",
    "learning-rate": "gan_atelier.lab.learning_rate",
    "detach": "gan_atelier.lab.detach",
    "d-loss": "gan_atelier.lab.d_loss",
    "mode-collapse": "gan_atelier.lab.mode_collapse",
    "vae": "gan_atelier.lab.vae",
    "dcgan": "gan_atelier.lab.dcgan",
}


def run_experiment(name: str, context=None, **context_fields):
    """Run one experiment by name and return its :class:`~gan_atelier.lab.report.LabResult`.

    ``run_experiment("saturating", out_dir="lab/saturating", scale="quick")``.
    """
    import importlib

    from ..errors import ConfigError
    from .context import LabContext

    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; valid experiments: {', '.join(EXPERIMENTS)}")
    module = importlib.import_module(EXPERIMENTS[name])
    context = context or LabContext(**context_fields)
    import torch

    previous = torch.get_num_threads()
    if context.threads:
        torch.set_num_threads(context.threads)
    try:
        return module.run(context)
    finally:
        torch.set_num_threads(previous)
