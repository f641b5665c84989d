"""One scenario per question of the TP, each a short 2-D run that writes frames, a GIF and a
``summary.md`` quoting its own numbers. Entry point: :func:`run_scenario`.

=============  ============  ===========================================================
scenario       TP question   what it shows
=============  ============  ===========================================================
saturating     Q1.1          log(1 − D(G(z))): G's arrows vanish once D wins; −log D does not
learning-rate  Q2.1          Adam 1e-3 / 3e-2 / 1e-1 on the ring: stable, oscillating, diverging
detach         Q3.1          ``.detach()``: G's gradient after D's backward, the crash, the leak
d-loss         final Q1      D loss around 2 ln 2 in a fair game; D wins (loss → 0, map saturated)
mode-collapse  final Q2      G 50× faster than D collapses onto 0–2 modes; a fair game covers 8
optimal-d      section I     D trained against a fixed Gaussian G converges to D* = p/(p + p_g)
dirac          Q2.1          Dirac-GAN: simultaneous vs alternating steps, gradient penalty
play           —             the TP's game on any data set (ring, grid, moons, spiral, line, file)
=============  ============  ===========================================================
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..errors import ConfigError
from .recording import SCENARIOS, Context, Toy2DResult, write_outputs

__all__ = ["SCENARIOS", "Toy2DResult", "run_scenario"]


def run_scenario(name: str, *, out_dir, steps: int | None = None, seed: int = 0, quick: bool = False,
                 frames: bool = True, dataset: str | None = None) -> Toy2DResult:
    """Run one scenario of :data:`SCENARIOS` into ``out_dir``; ``quick`` = a few seconds (CI)."""
    if name not in SCENARIOS:
        raise ConfigError(f"unknown toy2d scenario {name!r}; valid scenarios: {', '.join(SCENARIOS)}")
    if steps is not None and steps < 1:
        raise ConfigError(f"--steps must be ≥ 1, got {steps}")
    from . import questions, theory

    module = theory if name in ("optimal-d", "dirac") else questions
    context = Context(Path(out_dir), steps, seed, quick, frames, dataset)
    context.out_dir.mkdir(parents=True, exist_ok=True)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.process_time()
    try:
        numbers, lines, frame_paths, figure = getattr(module, name.replace("-", "_"))(context)
    finally:
        torch.set_num_threads(previous)
    numbers["cpu_seconds"] = round(time.process_time() - start, 2)
    return write_outputs(context, name, numbers, lines, frame_paths, figure)
