"""``gan-atelier compare RUN… --out DIR``: runs side by side, read from their files only.

Each run folder is read from what it wrote (``config.toml``, ``run.json``, ``metrics.csv``,
``samples/``, ``checkpoints/latest.json``, and an ``evaluation.json`` written by
``gan-atelier evaluate RUN --json RUN/evaluation.json`` or the ``scores.json`` of
``bench/results_table.py`` when there is one); nothing is
imported from training and no model is loaded, so thirty folders take a second or two.
Folders that are incomplete, interrupted, crashed or written by an older version still get
a row, with a mark saying so.

The table (one row per run): preset, the settings that differ between the runs, epochs done,
CPU time, the last epoch's D and G losses, the latest evaluation's FID / precision / recall /
coverage, alarms and status. :mod:`gan_atelier.compare_report` writes it as ``compare.md``,
``compare.csv`` and a self-contained ``compare.html``.
"""

from __future__ import annotations

import csv
import fcntl
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .compare_report import EVAL_KEYS, MISSING, write_report
from .errors import ConfigError

# Full-protocol evaluations a run folder may hold, newest convention first: `gan-atelier evaluate RUN
# --json RUN/evaluation.json`, and the scores bench/results_table.py caches beside each run.
EVALUATION_FILES = ("evaluation.json", "scores.json")


@dataclass
class RunSummary:
    """What one run folder says about itself (every field read from a file, None when absent)."""

    path: Path
    name: str
    settings: dict[str, Any] = field(default_factory=dict)  # "train.lr" → value, from config.toml
    info: dict[str, Any] = field(default_factory=dict)  # run.json
    rows: list[dict[str, float]] = field(default_factory=list)  # metrics.csv
    evaluation: dict[str, Any] = field(default_factory=dict)  # latest FID / precision / recall / coverage
    grid: Path | None = None
    checkpoint: str | None = None
    marks: list[str] = field(default_factory=list)

    @property
    def preset(self) -> str:
        return str(self.settings.get("preset") or self.info.get("preset") or MISSING)

    @property
    def status(self) -> str:
        return ", ".join([str(self.info.get("status", "unknown"))] + self.marks)

    @property
    def epochs(self) -> str:
        done = self.info.get("epochs_done", len(self.rows) if self.rows else None)
        total = self.settings.get("train.epochs")
        return f"{done if done is not None else MISSING}/{total if total is not None else MISSING}"

    def last(self, column: str) -> float | None:
        values = [row[column] for row in self.rows if not math.isnan(row.get(column, math.nan))]
        return values[-1] if values else None


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _float(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _lock_held(run_dir: Path) -> bool:
    """True while a training holds the run folder's lock (``runs.RunLock``); never creates the file."""
    lock = run_dir / ".lock"
    if not lock.is_file():
        return False
    with open(lock) as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def read_run(path: str | Path) -> RunSummary | None:
    """A run folder's summary, or None when the folder holds neither config.toml nor run.json."""
    path = Path(path)
    if not path.is_dir() or not ((path / "config.toml").is_file() or (path / "run.json").is_file()):
        return None
    run = RunSummary(path=path, name=path.name)
    _read_config(run)
    _read_info(run)
    _read_metrics(run)
    _read_evaluation(run)
    latest = path / "checkpoints" / "latest.json"
    try:
        run.checkpoint = json.loads(latest.read_text()).get("checkpoint") if latest.is_file() else None
    except (OSError, ValueError, AttributeError):
        run.marks.append("unreadable checkpoints/latest.json")
    grids = sorted((path / "samples").glob("epoch_*.png")) if (path / "samples").is_dir() else []
    final = path / "samples" / "final.png"
    run.grid = final if final.is_file() else (grids[-1] if grids else None)
    _mark(run)
    return run


def _read_config(run: RunSummary) -> None:
    try:
        with open(run.path / "config.toml", "rb") as file:
            run.settings = _flatten(tomllib.load(file))
    except FileNotFoundError:
        run.marks.append("no config.toml")
    except (OSError, tomllib.TOMLDecodeError):
        run.marks.append("unreadable config.toml")


def _read_info(run: RunSummary) -> None:
    try:
        run.info = json.loads((run.path / "run.json").read_text())
    except FileNotFoundError:
        run.marks.append("no run.json")
    except (OSError, ValueError):
        run.marks.append("unreadable run.json")
    if not isinstance(run.info, dict):
        run.info = {}


def _read_metrics(run: RunSummary) -> None:
    try:
        with open(run.path / "metrics.csv", newline="") as file:
            run.rows = [{key: _float(value) for key, value in row.items() if key} for row in csv.DictReader(file)]
    except FileNotFoundError:
        run.marks.append("no metrics.csv")
    except (OSError, csv.Error, UnicodeDecodeError):
        run.marks.append("unreadable metrics.csv")


def _read_evaluation(run: RunSummary) -> None:
    """The latest evaluation: ``evaluation.json`` / ``scores.json`` (full protocol) else the last
    in-training row of ``metrics.csv``."""
    for name in EVALUATION_FILES:
        path = run.path / name
        if not path.is_file():
            continue
        try:
            values = json.loads(path.read_text())
            run.evaluation = {key: float(values[key]) for key in EVAL_KEYS if key in values}
            run.evaluation["source"] = f"{name} (N = {values.get('n_generated', '?')})"
            return
        except (OSError, ValueError, TypeError, AttributeError):
            run.marks.append(f"unreadable {name}")
    evaluated = [row for row in run.rows if not math.isnan(row.get("fid", math.nan))]
    if evaluated:
        row = evaluated[-1]
        run.evaluation = {key: row[key] for key in EVAL_KEYS if not math.isnan(row.get(key, math.nan))}
        run.evaluation["source"] = f"metrics.csv epoch {int(row['epoch'])}"


def _mark(run: RunSummary) -> None:
    """Marks for what a reader must know before trusting the row."""
    if run.info.get("status") == "running" and not _lock_held(run.path):
        run.info["status"] = "stopped without closing"  # killed, crashed or the machine went away
    version = (run.info.get("environment") or {}).get("gan_atelier")
    if version and version != __version__:
        older = _version_tuple(version) < _version_tuple(__version__)
        run.marks.append(f"{'older' if older else 'other'} version {version}")
    elif run.settings and "log.image_scale" not in run.settings:
        run.marks.append("older format")  # a config.toml from before the [log] table
    total, done = run.settings.get("train.epochs"), run.info.get("epochs_done", len(run.rows))
    if isinstance(total, int) and isinstance(done, int) and done < total and run.info.get("status") != "running":
        run.marks.append(f"incomplete ({done} of {total} epochs)")


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def read_runs(paths: list[str | Path]) -> tuple[list[RunSummary], list[Path]]:
    """(summaries in the order given, folders that are not run folders)."""
    runs, skipped = [], []
    for path in paths:
        run = read_run(path)
        (runs.append(run) if run is not None else skipped.append(Path(path)))
    return runs, skipped


def differing_settings(runs: list[RunSummary]) -> list[str]:
    """The config keys whose value is not the same in every run (a key some runs lack counts)."""
    keys = sorted({key for run in runs for key in run.settings if key != "preset"})
    return [key for key in keys if len({repr(run.settings.get(key)) for run in runs}) > 1]


def compare(paths: list[str | Path], out: str | Path) -> dict[str, Path]:
    """Read ``paths`` and write the comparison into ``out``; returns the files written."""
    runs, skipped = read_runs(paths)
    if not runs:
        raise ConfigError(f"none of the {len(paths)} folder(s) given is a run folder (no config.toml or run.json)")
    return write_report(runs, differing_settings(runs), Path(out), skipped)
