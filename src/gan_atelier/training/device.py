"""Where a run trains: the device choice and deterministic kernels."""

from __future__ import annotations

import os

import torch

from ..errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device='cuda' but no CUDA device is available; use auto or cpu")
    return torch.device(name)


def set_determinism(enabled: bool) -> None:
    """Deterministic kernels (slower); the CUBLAS variable must be set before CUDA starts."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def apply_threads_and_determinism(threads: int, deterministic: bool) -> None:
    """``train.threads`` (0 = leave PyTorch's default) and ``train.deterministic``, before any model is built."""
    if threads:
        torch.set_num_threads(threads)
    set_determinism(deterministic)
