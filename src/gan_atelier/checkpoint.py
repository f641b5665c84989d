"""Atomic checkpoints that load with ``weights_only=True``, and a pointer to the newest one.

Write protocol: the state is first serialised in memory (as Lightning's ``_atomic_save``
does), then written to a temporary file in the target folder, flushed, fsynced, moved onto
the final name with ``os.replace``, the folder fsynced, then the same for ``latest.json``. A
crash at any point leaves the previous checkpoint and pointer intact; a stray ``*.tmp`` is
never loaded. Serialising first means a full disk surfaces as an ``OSError`` naming the
cause (``No space left on device``, ``File too large``), which becomes a one-line
:class:`~gan_atelier.errors.WriteError`, instead of ``torch.save``'s opaque
``RuntimeError: [enforce fail at inline_container.cc] unexpected pos``.

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
import re
import shutil
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import CheckpointError, WriteError
from .files import atomic_write_bytes, atomic_write_text

SCHEMA_VERSION = 1
POINTER = "latest.json"
KEEP = 2  # checkpoints retained in a run's checkpoints/ folder


def plain_state(value: Any, where: str = "state") -> Any:
    """``value`` as only tensors and plain values, ready for ``weights_only`` loading.

    A checkpoint is only useful if ``torch.load(weights_only=True)`` reads it back, so the check
    runs when saving (a bug found at resume time would cost the run). Subclasses of str, int and
    float (``torch.__version__`` is a ``TorchVersion``, an ``IntEnum`` is an int) and numpy scalars
    become the plain type, since pickling them would name a class the loader refuses; any other
    object raises :class:`CheckpointError` naming where it sits.
    """
    if value is None or type(value) in (str, int, float, bool, torch.Size) or isinstance(value, torch.Tensor):
        return value
    for plain in (str, int, float):
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, np.generic) and not isinstance(value, np.object_):
        return value.item()
    # Containers are rebuilt only if something inside changed, so a module's state_dict keeps its
    # OrderedDict type and ``_metadata`` (layer versions ``load_state_dict`` may need).
    if isinstance(value, dict):
        pairs = [(plain_state(key, f"{where} key"), plain_state(item, f"{where}[{key!r}]"))
                 for key, item in value.items()]
        unchanged = all(new_key is key and new_item is item
                        for (new_key, new_item), (key, item) in zip(pairs, value.items()))
        return value if unchanged and type(value) in (dict, OrderedDict) else dict(pairs)
    if isinstance(value, (list, tuple)):
        items = [plain_state(item, f"{where}[{index}]") for index, item in enumerate(value)]
        unchanged = all(new is old for new, old in zip(items, value))
        if unchanged and type(value) in (list, tuple):
            return value
        return items if isinstance(value, list) else tuple(items)
    raise CheckpointError(
        f"refusing to save a checkpoint: {where} is a {type(value).__module__}.{type(value).__qualname__}, "
        f"which weights_only loading would reject (use tensors and plain values)"
    )


def save_checkpoint(state: dict[str, Any], directory: str | os.PathLike, name: str) -> Path:
    """Save ``state`` as ``directory/name`` atomically, point ``latest.json`` at it, prune old ones.

    Raises :class:`WriteError` (disk full, unwritable folder) leaving the previous checkpoint,
    the pointer and the folder as they were.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(f"cannot create checkpoint folder {directory}: {error.strerror or error}") from None
    state = plain_state({"schema_version": SCHEMA_VERSION, **state})
    path = directory / name
    buffer = io.BytesIO()
    torch.save(state, buffer)
    blob = buffer.getbuffer()
    _check_free_space(directory, len(blob), path)
    atomic_write_bytes(path, lambda file: file.write(blob))
    atomic_write_text(directory / POINTER, json.dumps({"checkpoint": name}) + "\n")
    _prune(directory, keep=KEEP, current=name)
    return path


def _check_free_space(directory: Path, needed: int, path: Path) -> None:
    """Refuse before writing when the disk visibly lacks room (quotas and rlimits show up later)."""
    try:
        free = shutil.disk_usage(directory).free
    except OSError:
        return
    if free < needed:
        raise WriteError(
            f"could not write {path}: not enough free space ({needed / 1e6:.1f} MB needed, "
            f"{free / 1e6:.1f} MB free; nothing was replaced)"
        )


_OUR_NAME = re.compile(r"step_(\d{9,})\.pt")


def checkpoint_name(step: int) -> str:
    return f"step_{step:09d}.pt"


def _our_checkpoints(directory: Path) -> list[Path]:
    """The files named exactly like :func:`checkpoint_name` makes them, oldest (fewest steps) first."""
    ours = [(int(match.group(1)), path) for path in directory.glob("step_*.pt")
            if (match := _OUR_NAME.fullmatch(path.name))]
    return [path for _, path in sorted(ours)]


def _prune(directory: Path, keep: int, current: str) -> None:
    """Delete our own older ``step_NNNNNNNNN.pt`` files beyond ``keep``; never anything else.

    A symlink is unlinked, never followed; a user's ``step_best.pt`` does not match the pattern.
    """
    ours = [p for p in _our_checkpoints(directory) if p.name != current]
    for old in ours[: max(0, len(ours) - (keep - 1))]:
        old.unlink(missing_ok=True)


# What torch's weights-only unpickler names when it refuses a file (torch 2.6 to 2.13 wording).
_REFUSED_GLOBAL = re.compile(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)")
_REFUSED_OPCODE = re.compile(r"Unsupported operand (\d+)")
SAFE_TORCH = (2, 10)  # CVE-2026-24747: weights-only unpickler memory corruption before torch 2.10
_warned_old_torch = False


def _refusal_reason(error: Exception) -> str:
    """What torch refused, e.g. ``it references numpy._core.multiarray._reconstruct``."""
    if match := _REFUSED_GLOBAL.search(str(error)):
        return f"it references {match.group(1)}"
    if match := _REFUSED_OPCODE.search(str(error)):
        return f"it uses pickle opcode {match.group(1)}"
    return "it holds objects other than tensors and plain values"


def _warn_if_old_torch() -> None:
    global _warned_old_torch
    version = tuple(int(part) for part in re.findall(r"\d+", torch.__version__)[:2])
    if version < SAFE_TORCH and not _warned_old_torch:
        _warned_old_torch = True
        warnings.warn(
            f"torch {torch.__version__}: its weights_only loader has known memory-corruption bugs "
            f"(CVE-2026-24747, fixed in 2.10); load only checkpoints you made or trust, "
            f"or upgrade torch", stacklevel=3)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint with ``weights_only=True``; refuse anything else with a clear message.

    A file carrying pickled code, numpy arrays or pickled modules is refused without running
    anything (torch's weights-only unpickler only builds tensors and plain containers). There is
    no fallback to ``weights_only=False``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    _warn_if_old_torch()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path}: refused: {_refusal_reason(error)}, which a gan-atelier checkpoint never needs "
            f"(only tensors and plain values are loaded; load only files you made or trust)"
        ) from None
    except Exception as error:  # the reader's errors on a damaged archive vary: all mean the same
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or "schema_version" not in state:
        raise CheckpointError(f"{path}: not a gan-atelier checkpoint")
    version = state["schema_version"]
    if version != SCHEMA_VERSION:
        versions = state.get("versions")
        made_by = versions.get("gan_atelier") if isinstance(versions, dict) else None
        raise CheckpointError(
            f"{path}: checkpoint schema v{version} (made by gan-atelier {made_by or 'of unknown version'}); "
            f"this version reads v{SCHEMA_VERSION}"
        )
    return state


def load_error_summary(error: Exception) -> str:
    """One line from ``load_state_dict``'s error: the first problem it lists (size mismatch, missing key)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict"):
        return lines[1].rstrip(".")
    return lines[0] if lines else type(error).__name__


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
    candidates += list(reversed(_our_checkpoints(directory)))
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
