"""The 2-D lab: the adversarial game drawn where it can be seen whole (``gan-atelier lab toy2d``).

``from gan_atelier.toy2d import run_scenario, SCENARIOS``::

    result = run_scenario("mode-collapse", out_dir="runs/toy2d/mode-collapse", quick=True)
    result.summary, result.summary_path, result.frames, result.gif, result.figure_path
"""

from .scenarios import SCENARIOS, Toy2DResult, run_scenario

__all__ = ["SCENARIOS", "Toy2DResult", "run_scenario"]
