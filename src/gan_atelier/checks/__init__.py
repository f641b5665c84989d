"""Checks that name the classic mistakes in a student's own GAN code, against the TP's definitions.

Use them in the student notebook after each cell, or on a script with ``gan-atelier check FILE.py``::

    from gan_atelier.checks import check_generator, check_discriminator, check_d_step, check_g_step, check_training
    check_generator(Generator)          # the class (built with the TP's sizes) or an instance
    check_discriminator(Discriminator)
    check_d_step(train_gan)             # the TP's train_gan(G, D, G_optimizer, D_optimizer, criterion,
    check_g_step(train_gan)             #                    dataloader, epochs, latent_dim, device)
    check_training(train_gan)

Each prints one ✓ line, or raises :class:`~gan_atelier.errors.CheckFailed` whose message names
each mistake and the TP line it concerns, in French (default) or English (``lang="en"``); pass
``raise_on_failure=False`` to get the :class:`CheckResult` instead. Each runs in well under a
second on CPU, on tiny synthetic data (no dataset). The loop checks run ``train_gan`` with the
checker's own tiny G and D, so that a mistake in the student's models is reported only by
``check_generator`` / ``check_discriminator``.
"""

import importlib

_PUBLIC = {"check_generator": "models", "check_discriminator": "models", "check_d_step": "loop",
           "check_g_step": "loop", "check_training": "loop", "CheckResult": "report"}
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    """Lazy (PEP 562): ``gan-atelier``'s parser reads :mod:`.messages` without importing torch."""
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
