"""The feature network of the metrics: a small Fashion-MNIST CNN, and how it is trained.

Why not Inception: its maintainers call Inception FID on 28×28 grayscale digits "pretty
meaningless" (mseitzer/pytorch-fid#12) and the FID authors advise a classifier trained on
the data itself (bioinf-jku/TTUR#24). This network is that classifier. Its 128-d penultimate
layer is the feature space of FID, KID, precision/recall and density/coverage; its softmax
gives the class-based metrics. The numbers it produces are only comparable with numbers from
the *same weights* (hence the SHA-256 in every report): see ``docs/metrics.md``.

Training (``gan-atelier classifier train``): seeded, one thread by default (so the run is
bit-for-bit repeatable on one machine and torch version), AdamW with a one-cycle learning
rate (Smith & Topin, "Super-Convergence", arXiv 1708.07120), dropout, 10 epochs. No data
augmentation on purpose: flips or shifts would teach the features to ignore exactly the
defects (mirrored shoes, off-centre garments) a metric should notice. No label smoothing:
the softmax feeds the class metrics and should stay a plain maximum-likelihood estimate.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ..checkpoint import atomic_write_bytes, atomic_write_text

# Fashion-MNIST training-set pixel statistics (images in [0, 1]); part of the metric definition.
PIXEL_MEAN = 0.2860
PIXEL_STD = 0.3530
FEATURE_DIM = 128
NUM_CLASSES = 10


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """3×3 convolution (same size), batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class FashionClassifier(nn.Module):
    """Five 3×3 conv layers in three stages, a 128-d embedding (the feature space), ten logits.

    Takes images ``(B, 1, 28, 28)`` in [0, 1]; normalises them itself, so every caller feeds
    the same thing the generator produces. 0.5 M parameters, most of them in the 3136 → 128
    layer; the full-resolution stage is kept narrow (16 channels) because it dominates the
    CPU time.
    """

    def __init__(self, feature_dim: int = FEATURE_DIM, num_classes: int = NUM_CLASSES,
                 dropout: float = 0.25):
        super().__init__()
        self.feature_dim = feature_dim
        self.body = nn.Sequential(
            _conv_block(1, 16),                     # (B, 16, 28, 28)
            nn.MaxPool2d(2),                        # (B, 16, 14, 14)
            _conv_block(16, 32),                    # (B, 32, 14, 14)
            _conv_block(32, 32),                    # (B, 32, 14, 14)
            nn.MaxPool2d(2),                        # (B, 32, 7, 7)
            _conv_block(32, 64),                    # (B, 64, 7, 7)
            _conv_block(64, 64),                    # (B, 64, 7, 7)
            nn.Flatten(),                           # (B, 3136)
            nn.Dropout(p=dropout),
            nn.Linear(64 * 7 * 7, feature_dim),     # (B, 128)
            nn.ReLU(inplace=True),                  # the feature space: post-ReLU embedding
        )
        self.head = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(feature_dim, num_classes))  # (B, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 28, 28)`` in [0, 1] → ``(B, feature_dim)`` embedding."""
        return self.body((images - PIXEL_MEAN) / PIXEL_STD)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 28, 28)`` in [0, 1] → ``(B, 10)`` logits."""
        return self.head(self.features(images))

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(images)
        return features, self.head(features)


# ------------------------------------------------------------------------------ training
@dataclass(frozen=True)
class ClassifierTrainingConfig:
    """Everything that defines a classifier training run (recorded beside the weights)."""

    dataset: str = "fashion-mnist"
    seed: int = 0
    epochs: int = 10
    batch_size: int = 128
    max_lr: float = 3e-3  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = 5e-4
    threads: int = 1  # torch.set_num_threads during training: fixes the float summation order
    subset: int = 0  # first N training images only (tests); 0 = all 60,000

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on uint8 ``(N, 28, 28)`` or float ``(N, 1, 28, 28)`` images."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        batch = _as_float(images[start:start + batch_size])
        correct += int((model(batch).argmax(dim=1) == labels[start:start + batch_size]).sum())
    model.train(was_training)
    return correct / len(images)


def _as_float(images: torch.Tensor) -> torch.Tensor:
    if images.dtype == torch.uint8:
        return images.unsqueeze(1).float().div_(255.0) if images.dim() == 3 else images.float().div_(255.0)
    return images


def train_classifier(train_images: torch.Tensor, train_labels: torch.Tensor,
                     config: ClassifierTrainingConfig = ClassifierTrainingConfig(), *,
                     test_images: torch.Tensor | None = None, test_labels: torch.Tensor | None = None,
                     log: Callable[[str], None] = print) -> tuple[FashionClassifier, dict]:
    """Train a :class:`FashionClassifier` from uint8 ``(N, 28, 28)`` images; return it and a report.

    The report holds the config, the per-epoch loss (and test accuracy when the test split is
    given), the final test accuracy, the seconds spent and the thread count.
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        torch.manual_seed(config.seed)
        model = FashionClassifier()
        order_generator = torch.Generator().manual_seed(config.seed + 1)
        if config.subset:
            train_images, train_labels = train_images[:config.subset], train_labels[:config.subset]
        count = len(train_images)
        steps_per_epoch = math.ceil(count / config.batch_size)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.max_lr, weight_decay=config.weight_decay)
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.max_lr, total_steps=config.epochs * steps_per_epoch)
        history = []
        started, cpu_started = time.perf_counter(), time.process_time()
        for epoch in range(1, config.epochs + 1):
            model.train()
            permutation = torch.randperm(count, generator=order_generator)
            total_loss = 0.0
            for start in range(0, count, config.batch_size):
                index = permutation[start:start + config.batch_size]
                logits = model(_as_float(train_images[index]))  # (B, 10)
                loss = F.cross_entropy(logits, train_labels[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total_loss += float(loss.detach()) * len(index)
            row = {"epoch": epoch, "loss": total_loss / count,
                   "seconds": round(time.perf_counter() - started, 1)}
            if test_images is not None:
                row["test_accuracy"] = accuracy(model, test_images, test_labels)
            history.append(row)
            log("  ".join(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}"
                          for key, value in row.items()))
        model.eval()
        report = {"training": config.to_dict(), "history": history,
                  "train_seconds": round(time.perf_counter() - started, 1),
                  "train_cpu_seconds": round(time.process_time() - cpu_started, 1),
                  "threads": config.threads}
        if test_images is not None:
            report["test_accuracy"] = history[-1]["test_accuracy"]
        return model, report
    finally:
        torch.set_num_threads(previous_threads)


def save_classifier(model: FashionClassifier, record: dict, out_dir: str | Path, name: str) -> tuple[Path, dict]:
    """Write ``out_dir/name.pt`` (a tensor-only state dict) and ``name.json`` (the record + SHA-256).

    Both writes are atomic. Returns the weights path and the full record.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({key: value.detach().cpu().clone() for key, value in model.state_dict().items()}, buffer)
    payload = buffer.getvalue()
    record = {
        "name": name,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "bytes": len(payload),
        "parameters": sum(p.numel() for p in model.parameters()),
        "feature_dim": model.feature_dim,
        **record,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    weights_path = out_dir / f"{name}.pt"
    atomic_write_bytes(weights_path, lambda file: file.write(payload))
    atomic_write_text(out_dir / f"{name}.json", json.dumps(record, indent=2) + "\n")
    return weights_path, record
