"""gan-atelier: the TP's MLP-GAN on Fashion-MNIST as a small, tested toolkit.

The public Python API (what the notebooks use)::

    from gan_atelier import get_config, train, load_generator, sample, show_grid
    run = train(get_config("quick"))
    generator = load_generator(run.run_dir)
    show_grid(sample(generator, 64, seed=0))
"""

__version__ = "0.1.0"

from .config import get_config, load_toml  # noqa: E402
from .api import load_generator, sample, train  # noqa: E402
from .viz import make_grid, show_grid  # noqa: E402

__all__ = ["get_config", "load_toml", "train", "load_generator", "sample", "make_grid", "show_grid",
           "__version__"]
