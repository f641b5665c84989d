"""gan-atelier: the TP's MLP-GAN on Fashion-MNIST as a small, tested toolkit.

The public Python API (what the notebooks use)::

    from gan_atelier import get_config, train, load_generator, sample, show_grid
    run = train(get_config("quick"))
    generator = load_generator(run.run_dir)
    show_grid(sample(generator, 64, seed=0))

The package face is lazy (PEP 562): ``import gan_atelier.config`` imports the standard library
only, and each name below imports its room on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_PUBLIC = {  # name → the module that defines it
    "get_config": "gan_atelier.config",
    "load_toml": "gan_atelier.config",
    "train": "gan_atelier.run.driver",
    "load_generator": "gan_atelier.inference",
    "sample": "gan_atelier.inference",
    "make_grid": "gan_atelier.viz",
    "show_grid": "gan_atelier.viz",
}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        if name != "train":  # gan_atelier.train stays resolved here (a submodule import would shadow it)
            globals()[name] = value
        return value
    raise AttributeError(f"module 'gan_atelier' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
