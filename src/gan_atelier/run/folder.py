"""The run folder: naming, path safety, the lock, ``run.json``, and the files a stranger can read.

Layout of ``runs/<preset>-<timestamp>/``::

    config.toml      the resolved config
    run.json         versions, device, seeds, data hash, times, alarms, status
    metrics.csv      one row per epoch, appended and flushed as training goes
    samples/         epoch_005.png … (8×8 grid of the fixed noise) and final.png
    progress.gif     those grids in order
    curves.png       losses and D outputs, drawn from metrics.csv
    checkpoints/     step_*.pt (weights_only-loadable) and latest.json
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..checkpoint import POINTER
from ..files import atomic_write_text
from ..errors import RunDirError, WriteError

DEFAULT_ROOT = "runs"
LOCK_NAME = ".lock"
# Files and folders a run writes; --overwrite removes only these, never anything else.
ARTEFACTS = ("config.toml", "run.json", "metrics.csv", "progress.gif", "curves.png")
ARTEFACT_DIRS = ("samples", "checkpoints")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_run_name(name: str) -> str:
    """A run name is one plain path component: no separators, no ``..``, no control characters."""
    if not _NAME.match(name) or ".." in name:
        raise RunDirError(
            f"invalid run name {name!r}: use letters, digits, '.', '_' and '-' "
            f"(no path separators, no '..', not starting with '.')"
        )
    return name


def default_run_dir(preset: str, root: str | os.PathLike = DEFAULT_ROOT, name: str | None = None) -> Path:
    """``root/name`` (checked) or ``root/<preset>-<timestamp>``, resolved inside ``root``."""
    name = check_run_name(name) if name is not None else f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    root = Path(root).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise RunDirError(f"run folder {path} escapes {root}")
    return path


def prepare_run_dir(path: str | os.PathLike, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Create the folder, refusing to reuse a non-empty one without ``resume`` or ``overwrite``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path} exists and is not a folder")
    if path.is_dir() and any(p.name != LOCK_NAME for p in path.iterdir()):
        if not (resume or overwrite):
            raise RunDirError(
                f"run folder {path} already exists and is not empty; "
                f"use --resume to continue it or --overwrite to replace it"
            )
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / "samples").mkdir(exist_ok=True)
    except OSError as error:
        raise WriteError(f"cannot create run folder {path}: {error.strerror or error}") from None
    if not os.access(path, os.W_OK):
        raise WriteError(f"run folder {path} is not writable")
    return path


def clear_artefacts(path: Path) -> None:
    """For ``--overwrite``: delete the files a run writes (and only those)."""
    for name in ARTEFACTS:
        (path / name).unlink(missing_ok=True)
    for events in path.glob("events.out.tfevents.*"):  # the TensorBoard event files (run/tensorboard.py)
        if events.is_file():
            events.unlink()
    for folder in ARTEFACT_DIRS:
        for child in (path / folder).glob("*"):
            if child.is_file() and (child.suffix in (".png", ".pt", ".json", ".tmp")):
                child.unlink()


class RunLock:
    """An exclusive ``flock`` on ``run_dir/.lock``: a second training on the same folder refuses."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.handle = None

    def __enter__(self) -> "RunLock":
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            owner = self.handle.read().strip() or "another process"
            self.handle.close()
            self.handle = None
            raise RunDirError(f"run folder {self.path.parent} is in use by {owner}; refusing to interleave")
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()} on {platform.node()}\n")
        self.handle.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: torch.device) -> dict[str, Any]:
    info = {
        "gan_atelier": __version__,
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "git_commit": git_commit(),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
    return info


def write_run_json(run_dir: Path, payload: dict[str, Any]) -> None:
    atomic_write_text(run_dir / "run.json", json.dumps(payload, indent=2, sort_keys=True) + "\n")


def read_run_json(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "run.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def remove_stale_temp_files(checkpoints: Path, say) -> None:
    """Delete the ``.*.tmp`` files an interrupted save left (our own pattern only; we hold the lock)."""
    for temp in sorted(checkpoints.glob(".step_*.pt.*.tmp")) + sorted(checkpoints.glob(f".{POINTER}.*.tmp")):
        if temp.is_file() and not temp.is_symlink():
            temp.unlink()
            say(f"Removed {temp.name}, a partial file left by an interrupted save")
