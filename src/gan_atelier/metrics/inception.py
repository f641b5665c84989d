"""Optional Inception FID, only from a weights file the user already has. Never downloads.

Inception FID on 28×28 grayscale images is discouraged by the people who maintain it
(mseitzer/pytorch-fid#12: "pretty meaningless" on MNIST); it is offered only to compare with
published tables such as Lucic et al. 2018, whose protocol this follows: gray tiled to three
channels, 10,000 generated vs 10,000 test images, torch-fidelity's TF1-compatible bilinear
resize to 299 × 299 (done inside the extractor), pool3 features (2048-d).

It needs ``torchmetrics`` and ``torch-fidelity`` (``pip install torchmetrics torch-fidelity``)
and the file ``weights-inception-2015-12-05-6726825d.pth`` (torch-fidelity's release) given
explicitly; without a file this module refuses instead of fetching one from the internet.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import CheckpointError, ConfigError
from .features import as_image_batch

EXPECTED_FILE = "weights-inception-2015-12-05-6726825d.pth"


def inception_fid(generated: torch.Tensor, real: torch.Tensor, weights_path: str | os.PathLike | None,
                  *, batch_size: int = 100) -> float:
    """Inception FID between two image sets ``(N, 1, 28, 28)`` in [0, 1], from local weights only."""
    if not weights_path:
        raise ConfigError(f"Inception FID needs a local weights file (e.g. {EXPECTED_FILE}); "
                          f"gan-atelier never downloads it. Pass --inception-weights FILE")
    path = Path(weights_path)
    if not path.is_file():
        raise ConfigError(f"Inception weights file not found: {path} (nothing is downloaded)")
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
        import torch_fidelity  # noqa: F401  (torchmetrics' Inception extractor lives there)
    except ImportError as error:
        raise ConfigError(f"Inception FID needs torchmetrics and torch-fidelity "
                          f"(pip install torchmetrics torch-fidelity): {error}") from None
    try:
        metric = FrechetInceptionDistance(feature=2048, normalize=True,
                                          feature_extractor_weights_path=str(path))
    except Exception as error:
        raise CheckpointError(f"{path}: not usable Inception weights "
                              f"({type(error).__name__}: {str(error).splitlines()[0][:120]})") from None
    for images, is_real in ((real, True), (generated, False)):
        images = as_image_batch(images)
        for start in range(0, images.shape[0], batch_size):
            batch = images[start:start + batch_size].repeat(1, 3, 1, 1)  # (B, 3, 28, 28): gray tiled
            metric.update(batch, real=is_real)
    return float(metric.compute())
