"""What an experiment reports: its result (``summary.md``, ``results.json``), tables, numbers,
and the classifier metrics when the metrics package and its weights are available."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import GanAtelierError
from ..files import atomic_write_text
from .context import LabContext

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
    """A number for a sentence: 3 significant digits ("1,063" rather than "1.06e+03" past them), 'n/a' for NaN/None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def expected_ranges(name: str) -> str:
    """What other runs of experiment ``name`` measured, as Markdown, for a student to set beside their own.

    Read from ``lab/ranges.json`` (shipped with the package, written by ``bench/lab_robustness.py``
    over seeds and thread counts): each conclusion as "held in k of n runs", each quoted number as
    its range. Empty when the experiment was not part of that grid.
    """
    import json
    from importlib import resources

    table = json.loads(resources.files("gan_atelier.lab").joinpath("ranges.json").read_text(encoding="utf-8"))
    if name not in table:
        return ""
    entry = table[name]
    lines = [f"**Other runs of `{name}`** ({'; '.join(entry['runs'])}):", ""]
    lines += [f"- {c['text']}: held in {c['held']} of {c['runs']} runs" for c in entry["conclusions"].values()]
    lines += [f"- {r['label']}: {fmt(r['min'])} to {fmt(r['max'])} ({r['runs']} runs)" for r in entry["ranges"].values()]
    return "\n".join(lines)
