"""Calibration sets: real images, damaged on purpose, that show what each score means.

Scored like a generator's samples against the test split, they give the rows of the
calibration table in ``docs/metrics.md`` (``bench/calibrate_metrics.py``) and the sets
``gan-atelier evaluate --real NAME`` accepts:

============  ================================================================
``test``      the first N test images: identical to the reference (FID 0)
``train``     the first N training images: the floor a perfect generator reaches
``noise:S``   those training images plus Gaussian noise of std S (pixels in [0, 1]), clipped
``blur:S``    those training images blurred by a Gaussian of std S pixels
``class:C``   training images of class C only (6,000 at most): total mode collapse
``uniform``   uniform noise in [0, 1]: no structure at all
============  ================================================================

The damaged sets start from *training* images, not from the reference test images: a slightly
noisy copy of a reference image sits right next to its original, which would flatter precision
and density (each sample inside its own original's ball). So ``noise:0`` is ``train``.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from ..data import load_split
from ..errors import ConfigError

NAMES = ("test", "train", "noise:S", "blur:S", "class:C", "uniform")
DEFAULT_SEED = 1234


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, 1, 28, 28)`` images (kernel radius ⌈3σ⌉, zero padding).

    Zero padding matches Fashion-MNIST's black background, so no border artefacts appear.
    """
    if sigma <= 0:
        return images.clone()
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-offsets**2 / (2 * sigma**2))
    kernel = kernel / kernel.sum()  # (2r + 1,)
    blurred = F.conv2d(images, kernel.view(1, 1, 1, -1), padding=(0, radius))  # along rows
    return F.conv2d(blurred, kernel.view(1, 1, -1, 1), padding=(radius, 0))  # along columns


def _parse(name: str) -> tuple[str, float | None]:
    kind, _, value = name.partition(":")
    if kind in ("test", "train", "uniform") and not value:
        return kind, None
    if kind in ("noise", "blur", "class") and value:
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if kind == "class" and (not number.is_integer() or not 0 <= number <= 9):
            raise ConfigError(f"bad calibration set {name!r}: class must be an integer 0..9")
        if not number >= 0:
            raise ConfigError(f"bad calibration set {name!r}: the value must be a number >= 0")
        return kind, number
    raise ConfigError(f"unknown calibration set {name!r}; valid: {', '.join(NAMES)} "
                      f"(S a number, C a class 0..9)")


def calibration_images(name: str, n: int = 10000, *, data_dir: str | None = None,
                       seed: int = DEFAULT_SEED) -> torch.Tensor:
    """The images ``(N, 1, 28, 28)`` in [0, 1] of calibration set ``name`` (see the module table)."""
    kind, value = _parse(name)
    generator = torch.Generator().manual_seed(seed)
    if kind == "uniform":
        return torch.rand(n, 1, 28, 28, generator=generator)
    if kind == "test":
        return load_split("fashion-mnist", "test", data_dir).as_float()[:n]
    split = load_split("fashion-mnist", "train", data_dir)
    if kind == "class":
        return split.as_float()[split.labels == int(value)][:n]
    train = split.as_float()[:n]
    if kind == "noise":
        return (train + value * torch.randn(train.shape, generator=generator)).clamp(0.0, 1.0)
    if kind == "blur":
        return gaussian_blur(train, value)
    return train
