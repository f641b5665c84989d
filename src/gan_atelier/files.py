"""Files a run writes: atomic writes, and ``metrics.csv`` (one row per epoch).

Atomic write protocol (:func:`atomic_write_bytes`): write a temporary file in the target folder,
flush, fsync, ``os.replace`` onto the final name, fsync the folder. A crash at any point leaves
the previous file intact; a stray ``.*.tmp`` is never read.

``metrics.csv`` columns (:data:`METRIC_COLUMNS`, stable since the first version): ``d_real`` and
``d_fake`` are the epoch means of D's output on real and generated images — ``σ(logit)``, a
probability, for the BCE losses (``ns``, ``saturating``); the raw critic score for the critic
losses (``lsgan``, ``hinge``, ``wgan-gp``; see :mod:`gan_atelier.objectives`). The VAE writes its
KL term as ``d_loss`` and its reconstruction as ``g_loss`` (``d_real``/``d_fake`` empty).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Callable

from .errors import WriteError

METRIC_COLUMNS = ("epoch", "step", "d_loss", "g_loss", "d_real", "d_fake", "seconds", "diversity",
                  "fid", "recall", "class_entropy", "classes_covered")


def fsync_dir(directory: Path) -> None:
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
        fsync_dir(path.parent)
    except OSError as error:
        temp.unlink(missing_ok=True)
        reason = error.strerror or str(error)
        raise WriteError(f"could not write {path}: {reason} (nothing was replaced)") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, lambda file: file.write(text.encode("utf-8")))


def write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.csv`` from the history (used when a run starts or resumes)."""
    lines = [",".join(METRIC_COLUMNS)]
    lines += [_csv_line(row) for row in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def append_metrics(path: Path, row: dict[str, Any]) -> None:
    """Append one row and flush it to disk, so the file follows training live."""
    try:
        with open(path, "a") as file:
            file.write(_csv_line(row) + "\n")
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        raise WriteError(f"could not append to {path}: {error.strerror or error}") from None


def _csv_line(row: dict[str, Any]) -> str:
    cells = []
    for column in METRIC_COLUMNS:
        value = row.get(column)
        if value is None:
            cells.append("")
        elif isinstance(value, float):
            cells.append(f"{value:.6g}")
        else:
            cells.append(str(value))
    return ",".join(cells)


def read_metrics_rows(path: Path) -> list[dict[str, str]]:
    """Rows of ``metrics.csv`` as strings, as written."""
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def read_metrics(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of ``metrics.csv`` as floats (empty cells become NaN)."""
    return [{k: float(v) if v not in ("", None) else float("nan") for k, v in row.items()}
            for row in read_metrics_rows(Path(path))]
