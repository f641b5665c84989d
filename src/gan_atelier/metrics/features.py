"""The shipped classifier as a feature extractor: load it (hash-checked), embed images.

The weights live in ``gan_atelier/weights/`` beside a JSON record (SHA-256, test accuracy,
seed, the command that trained them, torch version). They load with
``torch.load(weights_only=True)``: a tensor-only file, no pickled code runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch

from ..errors import CheckpointError, DataError
from .classifier import FashionClassifier

WEIGHTS_NAME = "fmnist_cnn_v1"
EXTRACTOR_NAME = "FMNIST-CNN v1"  # the metric's version: change it with the weights
FID_NAME = "FID-FMNIST-CNN v1"  # how the FID is named in every user-facing output
_LOADED: dict[tuple[str, str], "Extractor"] = {}  # one load per file and device and process
# The forward pass always runs on one CPU thread: conv results differ in the last bits between
# thread counts (≈ 4e-6 here), and cached real features must equal freshly computed ones, or two
# copies of the same images stop being identical sets (density 1.1 instead of 1).
FEATURE_THREADS = 1


@contextlib.contextmanager
def torch_threads(count: int):
    """Run the block with ``torch.set_num_threads(count)``, then restore the previous setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def shipped_weights_path() -> Path:
    """``…/gan_atelier/weights/fmnist_cnn_v1.pt`` inside the installed package."""
    return Path(str(resources.files("gan_atelier") / "weights" / f"{WEIGHTS_NAME}.pt"))


def shipped_record() -> dict:
    """The JSON record of the shipped weights (SHA-256, accuracy, seed, command, versions)."""
    path = shipped_weights_path().with_suffix(".json")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: the classifier record is missing from this installation; "
                              f"train one with `gan-atelier classifier train`") from None


@dataclass
class Extractor:
    """A loaded classifier with the identity of its weights (every report names them)."""

    model: FashionClassifier
    sha256: str
    name: str
    path: str
    record: dict = field(default_factory=dict)

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]

    @property
    def feature_dim(self) -> int:
        return self.model.feature_dim

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def describe(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "feature_dim": self.feature_dim,
                "test_accuracy": self.record.get("test_accuracy"), "path": self.path}


def load_classifier(path: str | os.PathLike | None = None, *, device: str | torch.device = "cpu") -> Extractor:
    """Load the shipped classifier (default) or a file from ``gan-atelier classifier train``.

    The shipped file must match the SHA-256 in its record, else :class:`CheckpointError`.
    A custom file is named by its own hash, so its numbers are never confused with v1's.
    """
    shipped = path is None
    path = Path(path) if path is not None else shipped_weights_path()
    key = (str(path.resolve()), str(device))
    if key in _LOADED:
        return _LOADED[key]
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: classifier weights not found") from None
    digest = hashlib.sha256(payload).hexdigest()
    record: dict = {}
    if shipped:
        record = shipped_record()
        if record.get("sha256") != digest:
            raise CheckpointError(f"{path}: SHA-256 {digest[:12]}… does not match the recorded "
                                  f"{str(record.get('sha256'))[:12]}… (damaged or replaced weights)")
        name = EXTRACTOR_NAME
    else:
        sidecar = path.with_suffix(".json")
        record = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        name = f"custom classifier {digest[:12]}"
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
        model = FashionClassifier(feature_dim=state["head.1.weight"].shape[1])
        model.load_state_dict(state)
    except Exception as error:  # a bad file: pickle refusal, wrong keys or shapes
        raise CheckpointError(f"{path}: not a usable classifier weights file "
                              f"({type(error).__name__}: {str(error).splitlines()[0][:120]})") from None
    model.eval().requires_grad_(False).to(device)
    extractor = Extractor(model, digest, name, str(path), record)
    _LOADED[key] = extractor
    return extractor


def as_image_batch(images: torch.Tensor) -> torch.Tensor:
    """Check and convert images to float32 ``(N, 1, 28, 28)`` in [0, 1].

    Accepts ``(N, 28, 28)``, ``(N, 1, 28, 28)`` or ``(N, 784)``, as uint8 (0…255) or float in
    [0, 1] (1e−3 tolerance, then clipped). Anything else is a :class:`DataError`.
    """
    if not isinstance(images, torch.Tensor):
        images = torch.as_tensor(images)
    if images.dim() == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise DataError(f"images must be (N, 1, 28, 28), (N, 28, 28) or (N, 784), got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise DataError("no images to evaluate")
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    if not images.is_floating_point():
        raise DataError(f"images must be uint8 or float, got {images.dtype}")
    images = images.float()
    if not torch.isfinite(images).all():
        raise DataError("images contain NaN or infinite values")
    low, high = float(images.min()), float(images.max())
    if low < -1e-3 or high > 1 + 1e-3:
        raise DataError(f"float images must lie in [0, 1], got values in [{low:.3g}, {high:.3g}] "
                        f"(a tanh generator's output needs (x + 1) / 2)")
    return images.clamp(0.0, 1.0)


@dataclass(frozen=True)
class FeatureSet:
    """Embeddings ``(N, 128)`` and logits ``(N, 10)`` (float32, CPU) of one image set."""

    features: torch.Tensor
    logits: torch.Tensor

    def __len__(self) -> int:
        return self.features.shape[0]

    def head(self, count: int) -> "FeatureSet":
        return FeatureSet(self.features[:count], self.logits[:count])


@torch.no_grad()
def extract_features(images: torch.Tensor, extractor: Extractor | None = None, *,
                     batch_size: int = 1000) -> FeatureSet:
    """Embed images (any form :func:`as_image_batch` accepts) with the classifier, on one CPU thread."""
    extractor = extractor or load_classifier()
    images = as_image_batch(images)
    model, device = extractor.model, extractor.device
    model.eval()
    features, logits = [], []
    with torch_threads(FEATURE_THREADS):
        for start in range(0, images.shape[0], batch_size):
            batch_features, batch_logits = model.features_and_logits(images[start:start + batch_size].to(device))
            features.append(batch_features.float().cpu())
            logits.append(batch_logits.float().cpu())
    return FeatureSet(torch.cat(features), torch.cat(logits))


@torch.no_grad()
def predict_classes(images: torch.Tensor, extractor: Extractor | None = None) -> torch.Tensor:
    """The classifier's predicted class of each image, ``(N,)`` int64."""
    return extract_features(images, extractor).logits.argmax(dim=1)
