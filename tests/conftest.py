"""Shared fixtures: synthetic IDX files, tiny configs, the real data when installed."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_atelier import data as data_module

REAL_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array: np.ndarray, dtype_code: int = 0x08) -> bytes:
    """Encode a uint8 array as IDX: magic 0x0000<dtype><ndim>, big-endian dims, payload."""
    header = struct.pack(">HBB", 0, dtype_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_dataset(directory: Path, n_train: int = 64, n_test: int = 32, compress: bool = True,
                      seed: int = 0) -> Path:
    """Four synthetic IDX files (images and labels for train and test) in ``directory``."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", n_train), ("test", n_test)):
        image_name, label_name = data_module.FILES[split]
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(count,), dtype=np.uint8)
        for name, array in ((image_name, images), (label_name, labels)):
            payload = idx_bytes(array)
            if compress:
                (directory / f"{name}.gz").write_bytes(gzip.compress(payload))
            else:
                (directory / name).write_bytes(payload)
    return directory


@pytest.fixture
def idx_dir(tmp_path: Path, monkeypatch) -> Path:
    """Synthetic IDX files; the official-hash check is lifted for them (they are not the real files)."""
    monkeypatch.setattr(data_module, "SHA256", {"fashion-mnist": {}, "mnist": {}})
    return write_idx_dataset(tmp_path / "fake-data")


@pytest.fixture(autouse=True)
def _isolate_environment(monkeypatch, tmp_path):
    """No test reads the user's cache or environment by accident."""
    monkeypatch.delenv("GAN_ATELIER_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture
def real_data_dir() -> Path:
    if not all((REAL_DATA_DIR / f"{n}.gz").exists() for ns in data_module.FILES.values() for n in ns):
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    return REAL_DATA_DIR


@pytest.fixture
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def run_dir_hash(run_dir: Path) -> tuple[int, str]:
    """(step, state_hash) of a run folder's newest checkpoint, rebuilt into a fresh Trainer."""
    from gan_atelier import config as cfg
    from gan_atelier.checkpoint import find_latest, load_checkpoint
    from gan_atelier.training import Trainer, state_hash

    state = load_checkpoint(find_latest(run_dir / "checkpoints"))
    config = cfg.from_dict(state["config"])
    trainer = Trainer(config, data_module.synthetic_split(config.data.subset, seed=config.train.seed))
    trainer.load_state_dict(state)
    return trainer.step, state_hash(trainer)


def metric_rows(run_dir: Path) -> list[dict[str, str]]:
    """metrics.csv rows without the timing column (equal across interrupted and plain runs)."""
    import csv

    with open(run_dir / "metrics.csv", newline="") as file:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(file)]
