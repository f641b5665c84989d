"""What every lab experiment starts from: its context (folder, scale, data, seed, configs).

Three scales, chosen on the command line:

* ``full``  — the TP's settings (all 60,000 images; epochs as the experiment states);
* ``quick`` — ``--quick``: a subset and few epochs, ≤ 5 minutes on a 2-core CPU;
* ``tiny``  — ``--tiny``: synthetic blobs, seconds; the smoke path of the tests and of CI's notebook run.
  The numbers it prints are real measurements of a meaningless run.

Each experiment folder holds ``summary.md`` (two or three sentences of evidence, numbers from
this run), ``results.json`` (the same numbers, machine-readable), its figures and ``runs/``
(ordinary run folders, readable with every other tool of the project).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .. import config as cfg
from ..config import RunConfig
from ..data import Split, load_split, synthetic_split
from ..errors import ConfigError

SCALES = ("full", "quick", "tiny")
TINY_IMAGES = 256  # synthetic images at the tiny scale
EVAL_SAMPLES = {"full": 10000, "quick": 2000, "tiny": 128}  # generated images scored per model


@dataclass(frozen=True)
class LabContext:
    """Where an experiment writes, at which scale, on which data, with which seed."""

    out_dir: Path = Path("runs/lab")
    scale: str = "quick"  # one of SCALES
    data_dir: str | None = None
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch.set_num_threads for the runs (0 = leave PyTorch's default)
    verbose: bool = True
    evaluate: bool = True  # score samples with the metrics package when it is installed

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ConfigError(f"unknown scale {self.scale!r}; valid scales: {', '.join(SCALES)}")
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    @property
    def tiny(self) -> bool:
        return self.scale == "tiny"

    @property
    def eval_samples(self) -> int:
        return EVAL_SAMPLES[self.scale]

    def pick(self, settings: dict[str, Any]) -> Any:
        """The value of ``settings`` (a ``{scale: value}`` map) for this scale."""
        return settings[self.scale]

    def say(self, message: str) -> None:
        if self.verbose:
            print(message, flush=True)

    def data(self, subset: int = 0) -> Split:
        """Training images: Fashion-MNIST (first ``subset``), or synthetic blobs at the tiny scale."""
        if self.tiny:
            return synthetic_split(subset or TINY_IMAGES, seed=self.seed)
        return _load_cached("fashion-mnist", "train", self.data_dir, subset)

    def test_data(self, count: int = 0) -> Split:
        """The real test images (or other synthetic blobs at the tiny scale)."""
        if self.tiny:
            return synthetic_split(count or TINY_IMAGES, seed=self.seed + 1000)
        return _load_cached("fashion-mnist", "test", self.data_dir, count)

    def config(self, overrides: dict[str, Any] | None = None, preset: str = "seed") -> RunConfig:
        """A preset (default: the TP) with the lab's defaults and ``overrides`` applied (checked)."""
        values: dict[str, Any] = {"train.seed": self.seed, "train.device": self.device,
                                  "train.threads": self.threads, "train.checkpoint_every": 0}
        if self.data_dir:
            values["data.data_dir"] = self.data_dir
        values.update(overrides or {})
        return cfg.get_config(preset, values)

    def train(self, name: str, config: RunConfig, data: Split, hooks=None):
        """Train into ``out_dir/runs/name`` (replacing an earlier lab run there) and return the Run."""
        from ..run import train

        run_dir = self.out_dir / "runs" / name
        self.say(f"[lab] training {name}: {len(data)} images, {config.train.epochs} epochs")
        run = train(config, run_dir, overwrite=True, data=data, progress=False, hooks=hooks,
                    verbose=self.verbose, handle_signals=False)
        if run.status != "completed":  # Ctrl-C: the run saved a checkpoint; stop the experiment too
            raise KeyboardInterrupt
        return run


@functools.lru_cache(maxsize=4)
def _load_cached(dataset: str, split: str, data_dir: str | None, subset: int) -> Split:
    return load_split(dataset, split, data_dir, subset)


def fixed_noise_images(run, count: int = 64) -> torch.Tensor:
    """The run's fixed-noise samples ``(count, 1, 28, 28)``, as in its grids."""
    return run.trainer.fixed_grid_images()[:count]


def sample_images(run, count: int, seed: int = 12345) -> torch.Tensor:
    """``count`` fresh samples of a run's generator (seeded, eval mode)."""
    from ..inference import sample

    return sample(run.generator, count, seed=seed)
