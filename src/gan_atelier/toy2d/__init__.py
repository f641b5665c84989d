"""The 2-D lab: the adversarial game drawn where it can be seen whole (``gan-atelier lab toy2d``).

``from gan_atelier.toy2d import run_scenario, SCENARIOS``::

    result = run_scenario("mode-collapse", out_dir="runs/toy2d/mode-collapse", quick=True)
    result.summary, result.summary_path, result.frames, result.gif, result.figure_path

Modules: ``data`` (2-D data sets, densities, modes covered), ``models`` (MLP and linear G, MLP D),
``game`` (the training loop), ``optimal`` (D*, JS on a grid), ``dirac`` (the Dirac-GAN),
``observe`` / ``render`` (frames, GIF, MP4), ``scenarios`` / ``questions`` / ``theory`` (one
scenario per TP question); its options live in ``gan_atelier.cli.lab_toy2d``. Imported lazily, so the ``gan-atelier`` parser stays light.
"""

__all__ = ["SCENARIOS", "Toy2DResult", "run_scenario"]


def __getattr__(name: str):
    if name in __all__:
        from . import scenarios

        return getattr(scenarios, name)
    raise AttributeError(f"module 'gan_atelier.toy2d' has no attribute {name!r}")
