"""Atomic checkpoints that load with ``weights_only=True``, and a pointer to the newest one.

Write protocol: a temporary file in the target folder, flush, fsync, ``os.replace`` onto the
final name, fsync the folder, then the same for ``latest.json``. A crash at any point leaves
the previous checkpoint and pointer intact; a stray ``*.tmp`` is never loaded.

A checkpoint holds only tensors and plain values (dicts, lists, str, int, float, bool), so
``torch.load(weights_only=True)`` reads it without running any pickled code. Load only
checkpoints you made or trust: even so, prefer ``weights_only`` loading (which is all this
module ever does) and the ``safetensors`` export for sharing.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import CheckpointError, WriteError

SCHEMA_VERSION = 1
POINTER = "latest.json"
KEEP = 2  # checkpoints retained in a run's checkpoints/ folder


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write ``path`` through ``write(file)`` so that it is either complete or untouched."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
        _fsync_dir(path.parent)
    except OSError as error:
        temp.unlink(missing_ok=True)
        reason = error.strerror or str(error)
        raise WriteError(f"could not write {path}: {reason} (nothing was replaced)") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, lambda file: file.write(text.encode("utf-8")))


def save_checkpoint(state: dict[str, Any], directory: str | os.PathLike, name: str) -> Path:
    """Save ``state`` as ``directory/name`` atomically, point ``latest.json`` at it, prune old ones."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {"schema_version": SCHEMA_VERSION, **state}
    path = directory / name
    atomic_write_bytes(path, lambda file: torch.save(state, file))
    atomic_write_text(directory / POINTER, json.dumps({"checkpoint": name}) + "\n")
    _prune(directory, keep=KEEP, current=name)
    return path


def _prune(directory: Path, keep: int, current: str) -> None:
    """Delete our own older ``step_*.pt`` files beyond ``keep``; never anything else."""
    ours = sorted(p for p in directory.glob("step_*.pt") if p.name != current)
    for old in ours[: max(0, len(ours) - (keep - 1))]:
        old.unlink(missing_ok=True)


def checkpoint_name(step: int) -> str:
    return f"step_{step:09d}.pt"


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint with ``weights_only=True``; refuse anything else with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "unpickling error"
        raise CheckpointError(
            f"{path}: refused: not a plain-tensor checkpoint (weights_only load failed: {first})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or "schema_version" not in state:
        raise CheckpointError(f"{path}: not a gan-atelier checkpoint")
    version = state["schema_version"]
    if version != SCHEMA_VERSION:
        made_by = state.get("versions", {}).get("gan_atelier", "an unknown version")
        raise CheckpointError(
            f"{path}: checkpoint schema v{version} (made by gan-atelier {made_by}); "
            f"this version reads v{SCHEMA_VERSION}"
        )
    return state


def find_latest(directory: str | os.PathLike) -> Path | None:
    """The newest loadable checkpoint in ``directory``, skipping partial or corrupt files with a warning."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    for temp in directory.glob(".*.tmp"):
        warnings.warn(f"ignoring partial checkpoint file {temp} (an interrupted save)", stacklevel=2)
    candidates: list[Path] = []
    pointer = directory / POINTER
    if pointer.is_file():
        try:
            candidates.append(directory / json.loads(pointer.read_text())["checkpoint"])
        except (ValueError, KeyError, TypeError):
            warnings.warn(f"ignoring unreadable pointer {pointer}", stacklevel=2)
    candidates += sorted(directory.glob("step_*.pt"), reverse=True)
    seen = set()
    for candidate in candidates:
        if candidate in seen or not candidate.is_file():
            continue
        seen.add(candidate)
        try:
            load_checkpoint(candidate)
            return candidate
        except CheckpointError as error:
            warnings.warn(f"skipping unusable checkpoint: {error}", stacklevel=2)
    return None
