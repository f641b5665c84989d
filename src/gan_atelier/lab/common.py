"""What every lab experiment shares: its context, its data, per-step recording, its report.

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
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import config as cfg
from ..checkpoint import atomic_write_bytes, atomic_write_text
from ..config import RunConfig
from ..data import Split, load_split, synthetic_split
from ..errors import ConfigError, GanAtelierError

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
        from ..api import train

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


# ----------------------------------------------------------------------------- per-step values
STEP_COLUMNS = ("step", "epoch", "d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm")


class StepRecorder:
    """A ``LoopHooks.on_step`` callback keeping every step's D loss, G loss, D(x), D(G(z)) and ‖∇G‖.

    The values are the increments of the trainer's epoch accumulator (so they are exactly what
    the epoch means in ``metrics.csv`` average); ‖∇G‖ is the L2 norm over all of G's parameters of
    the gradient left by the step's G backward (NaN on D-only steps).
    """

    def __init__(self, grad_norm: bool = True):
        self.grad_norm = grad_norm
        self.rows: list[dict[str, float]] = []
        self._accumulator = None
        self._previous = [0.0, 0.0, 0.0, 0.0]
        self._previous_g = 0

    def __call__(self, trainer) -> None:
        accumulator = trainer.accumulator
        if accumulator is not self._accumulator:  # a new epoch started from zero
            self._accumulator, self._previous, self._previous_g = accumulator, [0.0] * 4, 0
        sums = accumulator.sums.tolist()
        increments = [now - before for now, before in zip(sums, self._previous)]
        g_stepped = accumulator.g_batches > self._previous_g
        self._previous, self._previous_g = sums, accumulator.g_batches
        if not any(increments):  # a skipped (non-finite) step adds nothing
            return
        norm = gradient_norm(trainer.generator) if self.grad_norm and g_stepped else float("nan")
        self.rows.append({
            "step": trainer.step,
            "epoch": trainer.epoch + trainer.batch_index / trainer.num_batches,
            "d_loss": increments[0], "g_loss": increments[1] if g_stepped else float("nan"),
            "d_real": increments[2], "d_fake": increments[3], "g_grad_norm": norm,
        })

    def column(self, name: str) -> list[float]:
        return [row[name] for row in self.rows]

    def write_csv(self, path: Path) -> Path:
        lines = [",".join(STEP_COLUMNS)]
        lines += [",".join(f"{row[c]:.6g}" for c in STEP_COLUMNS) for row in self.rows]
        atomic_write_text(path, "\n".join(lines) + "\n")
        return path


class StepCpuClock:
    """A ``LoopHooks.on_step`` callback: the process CPU seconds of each training step.

    CPU time (``time.process_time``, all threads of this process), not wall time: on a machine
    shared with other jobs it measures the work, not the queue. The first step of each epoch is
    skipped (its interval also holds the previous epoch's grids, plots and checkpoints).
    """

    def __init__(self):
        import time

        self._clock = time.process_time
        self._last: float | None = None
        self.seconds: list[float] = []
        self.steps_per_epoch = 0

    def __call__(self, trainer) -> None:
        now = self._clock()
        if self._last is not None and trainer.batch_index > 1:
            self.seconds.append(now - self._last)
        self._last = now
        self.steps_per_epoch = trainer.num_batches

    @property
    def median_step(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[len(ordered) // 2] if ordered else float("nan")

    @property
    def per_epoch(self) -> float:
        """Median step CPU time × steps per epoch."""
        return self.median_step * self.steps_per_epoch


def gradient_norm(module: torch.nn.Module) -> float:
    """‖∇θ‖₂ over all parameters holding a gradient (0.0 when none does)."""
    squares = [p.grad.detach().float().pow(2).sum() for p in module.parameters() if p.grad is not None]
    return math.sqrt(float(torch.stack(squares).sum())) if squares else 0.0


def moving_average(values: list[float], window: int) -> list[float]:
    """Trailing mean over the last ``window`` finite values (the first ones average what exists)."""
    out, total, queue = [], 0.0, []
    for value in values:
        if math.isfinite(value):
            queue.append(value)
            total += value
            if len(queue) > window:
                total -= queue.pop(0)
        out.append(total / len(queue) if queue else float("nan"))
    return out


# ----------------------------------------------------------------------------- metrics
def metrics_unavailable() -> str | None:
    """Why the classifier metrics cannot run here (package or shipped weights missing), or None."""
    try:
        from ..metrics import load_classifier
    except ImportError as error:
        return f"the metrics package is not installed ({error})"
    try:
        load_classifier()
    except GanAtelierError as error:
        return str(error)
    return None


def score(images: torch.Tensor, context: LabContext) -> dict[str, Any] | None:
    """Classifier metrics of generated ``images`` (N, 1, 28, 28) against real test images, or None.

    None when ``context.evaluate`` is off or the metrics are unavailable. At the quick and full
    scales this is :func:`gan_atelier.metrics.evaluate_images` (FID-FMNIST-CNN, precision,
    recall, density, coverage, class histogram, entropy and coverage; the first N test images,
    cached). At the tiny scale the same definitions run on a synthetic reference set of the
    same size (no real-data statistics to compute: the numbers only prove the path works).
    """
    if not context.evaluate or metrics_unavailable():
        return None
    from .. import metrics

    if not context.tiny:
        return metrics.evaluate_images(images, n=len(images), memorisation=False,
                                       data_dir=context.data_dir)
    real = metrics.extract_features(context.test_data(len(images)).as_float())
    fake = metrics.extract_features(images)
    result = {"fid": metrics.fid_from_features(fake.features, real.features)}
    result.update(metrics.prdc(real.features, fake.features))
    result.update(metrics.class_metrics(fake.logits))
    return result


def metrics_notes(context: LabContext) -> list[str]:
    """A caveat for the report when metrics were wanted but could not run."""
    reason = metrics_unavailable() if context.evaluate else None
    return [f"no classifier metrics in this report: {reason}"] if reason else []


def classify(images: torch.Tensor) -> torch.Tensor | None:
    """Predicted Fashion-MNIST classes ``(N,)`` from the shipped classifier, or None without it."""
    if metrics_unavailable():
        return None
    from ..metrics import predict_classes

    return predict_classes(images)


# ----------------------------------------------------------------------------- report
@dataclass
class LabResult:
    """What an experiment measured and where it put it."""

    name: str
    question: str
    out_dir: Path
    scale: str
    evidence: list[str]  # two or three sentences with this run's numbers
    numbers: dict[str, Any] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    runs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # caveats (e.g. a missing optional package)
    table: str = ""  # an optional markdown table (e.g. metrics side by side)

    @property
    def command(self) -> str:
        flag = {"full": "", "quick": " --quick", "tiny": " --tiny"}[self.scale]
        return f"gan-atelier lab {self.name}{flag}"

    def summary_markdown(self) -> str:
        lines = [f"# {self.question}: `{self.name}` ({self.scale} scale)", "", " ".join(self.evidence), ""]
        if self.table:
            lines += [self.table.rstrip(), ""]
        if self.figures:
            lines += ["Figures: " + ", ".join(f"[{p.name}]({p.name})" for p in self.figures), ""]
        if self.runs:
            lines += ["Runs: " + ", ".join(f"`{_relative(p, self.out_dir)}`" for p in self.runs), ""]
        for note in self.notes:
            lines += [f"Note: {note}", ""]
        lines += [f"Reproduce: `{self.command}`", ""]
        return "\n".join(lines)

    def write(self) -> "LabResult":
        self.out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out_dir / "summary.md", self.summary_markdown())
        payload = {"experiment": self.name, "question": self.question, "scale": self.scale,
                   "command": self.command, "evidence": self.evidence, "numbers": self.numbers,
                   "figures": [p.name for p in self.figures],
                   "runs": [_relative(p, self.out_dir) for p in self.runs], "notes": self.notes}
        atomic_write_text(self.out_dir / "results.json",
                          json.dumps(_plain(payload), indent=2, sort_keys=False) + "\n")
        return self


def _relative(path: Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def _plain(value: Any) -> Any:
    """JSON-safe: tensors and numpy scalars to floats, NaN/inf to None, paths to strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _plain(value.tolist())
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-markdown table; floats with 3 significant digits."""
    def cell(value: Any) -> str:
        return fmt(value) if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: float, digits: int = 3) -> str:
    """A number for a sentence: 3 significant digits, 'n/a' for NaN/None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}"


# ----------------------------------------------------------------------------- figures
def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """A matplotlib Figure and its axes, built without pyplot.

    No global backend switch and nothing left open: a notebook keeps its inline plots, and a
    script needs no display. ``kwargs`` as for ``Figure.subplots`` plus ``figsize``.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=kwargs.pop("figsize", None))
    return figure, figure.subplots(nrows, ncols, **kwargs)


def save_figure(figure, path: Path) -> Path:
    """Write a matplotlib figure as PNG (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    titled = getattr(figure, "_suptitle", None) is not None
    figure.tight_layout(rect=(0, 0, 1, 0.93) if titled else None)  # leave room for a suptitle
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    atomic_write_bytes(path, lambda file: compact_png(buffer.getvalue(), file))
    return path


def compact_png(png: bytes, file) -> None:
    """Re-encode a matplotlib PNG small: grayscale when it has no colour, else a 256-colour palette."""
    from PIL import Image

    picture = Image.open(io.BytesIO(png)).convert("RGB")
    red, green, blue = picture.split()
    if red.tobytes() == green.tobytes() == blue.tobytes():
        picture = red  # a gray image (grids): one channel
    else:
        picture = picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    picture.save(file, format="PNG", optimize=True)


def show_grids(axes, grids: dict[str, torch.Tensor], nrow: int = 8) -> None:
    """One image grid per axis, titled by the dict's keys (images in [0, 1])."""
    from ..viz import make_grid

    for axis, (title, images) in zip(axes, grids.items()):
        grid = make_grid(images, nrow=nrow)
        axis.imshow(grid[0].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
        axis.set_title(title, fontsize=9)
        axis.axis("off")


def save_grids_figure(grids: dict[str, torch.Tensor], path: Path, nrow: int = 8,
                      title: str = "") -> Path:
    """Grids side by side in one PNG."""
    figure, axes = subplots(1, len(grids), figsize=(3.2 * len(grids), 3.6), squeeze=False)
    show_grids(axes[0], grids, nrow=nrow)
    if title:
        figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)


def fixed_noise_images(run, count: int = 64) -> torch.Tensor:
    """The run's fixed-noise samples ``(count, 1, 28, 28)``, as in its grids."""
    return run.trainer.fixed_grid_images()[:count]


def sample_images(run, count: int, seed: int = 12345) -> torch.Tensor:
    """``count`` fresh samples of a run's generator (seeded, eval mode)."""
    from ..api import sample

    return sample(run.generator, count, seed=seed)
