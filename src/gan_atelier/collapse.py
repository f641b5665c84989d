"""Mode-collapse detection: one detector, used by every training run and by ``lab mode-collapse``.

Two signals, both read from fixed noise, so that successive epochs differ only by training:

* **Pixel diversity**, every epoch, for any model and dataset, no classifier needed: the mean
  Euclidean distance between two samples of the trainer's fixed-noise grid, divided by the same
  for real training images. The alarm needs :data:`COLLAPSE_EPOCHS` epochs in a row below
  :data:`COLLAPSED_DIVERSITY` = 0.02. Measured on Fashion-MNIST with the TP's MLP (64 fixed-noise
  samples against 400 real images): an untrained G gives 0.027; the first epochs, when every
  sample is still the same blurry blob, 0.06 to 0.12 (the ``quick`` preset: 0.060, 0.087, 0.113,
  then up to 0.37 at epoch 10; ``seed``: 0.16, 0.50, 0.61 after epochs 1 to 3); a healthy run,
  0.3 to 0.7 and rising; the lab's collapsing setting (Adam lr 1e-3, β1 0.9), 3e-5 from epoch 1
  on. The threshold sits a factor 3 under the blob stage and far above a true collapse.
* **Class coverage**, at the ``train.eval_every`` evaluations (the shipped Fashion-MNIST
  classifier, :mod:`gan_atelier.metrics.training`): :data:`CLASSES_LOST_ALARM` classes lost, or
  the class entropy down by more than :data:`ENTROPY_DROP_ALARM` nats, compared with the best
  evaluation so far in the run. This catches a partial collapse (a few classes gone) that the
  pixel diversity, an average over all pairs, moves too little to show.

Each signal warns once per episode and re-arms when the run recovers. The detector's state
travels in checkpoints, so a resumed run warns exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

COLLAPSED_DIVERSITY = 0.02  # below 2 % of the real images' variety: the samples repeat one image
COLLAPSE_EPOCHS = 3  # epochs in a row below it before the alarm
CLASSES_LOST_ALARM = 2
ENTROPY_DROP_ALARM = 0.3  # nats (ln 10 = 2.303 is the even-class maximum)
REAL_DIVERSITY_IMAGES = 400  # real images in the reference diversity (the first ones of the split)


def pixel_diversity(images: torch.Tensor) -> float:
    """Mean Euclidean distance between two different images of the set (0 for fewer than two)."""
    flat = images.flatten(1).double()
    count = flat.shape[0]
    if count < 2:
        return 0.0
    distances = torch.cdist(flat, flat)  # (N, N), zero diagonal
    return float(distances.sum() / (count * (count - 1)))


def real_diversity(images: torch.Tensor) -> float:
    """:func:`pixel_diversity` of the first :data:`REAL_DIVERSITY_IMAGES` images (uint8 or [0, 1])."""
    head = images[:REAL_DIVERSITY_IMAGES]
    head = head.double() / 255 if head.dtype == torch.uint8 else head.double()
    return pixel_diversity(head)


def collapsed_from(diversities: list[float], threshold: float = COLLAPSED_DIVERSITY) -> int | None:
    """Index of the first value from which ``diversities`` stay below ``threshold`` to the end, or None."""
    start = None
    for index, value in enumerate(diversities):
        if value < threshold:
            start = index if start is None else start
        else:
            start = None
    return start


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value)


@dataclass
class CollapseDetector:
    """Per-run state of both signals; each ``check_*`` returns one alarm line or ``None``."""

    low_streak: int = 0
    diversity_alarmed: bool = False
    best_entropy: float | None = None
    best_covered: int | None = None
    best_epoch: int | None = None
    classes_alarmed: bool = False

    def check_diversity(self, epoch: int, diversity: float) -> str | None:
        """Pixel diversity (relative to real images) after ``epoch``."""
        if not _is_number(diversity):
            return None
        if diversity >= COLLAPSED_DIVERSITY:
            self.low_streak, self.diversity_alarmed = 0, False
            return None
        self.low_streak += 1
        if self.low_streak < COLLAPSE_EPOCHS or self.diversity_alarmed:
            return None
        self.diversity_alarmed = True
        return (f"mode collapse at epoch {epoch}: the fixed-noise samples have had {diversity:.3f} of the real "
                f"images' pixel diversity (< {COLLAPSED_DIVERSITY}) for {self.low_streak} epochs "
                f"(epochs {epoch - self.low_streak + 1}-{epoch}): G draws nearly one image whatever z is")

    def check_classes(self, epoch: int, entropy: float, covered: int) -> str | None:
        """An evaluation's class entropy (nats) and classes covered, compared with the best so far."""
        if not (_is_number(entropy) and _is_number(covered)):
            return None
        alarm = None
        if self.best_entropy is not None:
            lost = self.best_covered - covered
            drop = self.best_entropy - entropy
            if lost < CLASSES_LOST_ALARM and drop <= ENTROPY_DROP_ALARM:
                self.classes_alarmed = False
            elif not self.classes_alarmed:
                self.classes_alarmed = True
                alarm = (f"class coverage collapsing at epoch {epoch}: {covered} classes covered "
                         f"(best {self.best_covered}), class entropy {entropy:.2f} nats "
                         f"(best {self.best_entropy:.2f} at epoch {self.best_epoch}); mode collapse?")
        self.note_classes(epoch, entropy, covered)
        return alarm

    def note_classes(self, epoch: int, entropy: float, covered: int) -> None:
        """Update the best evaluation so far (also used to replay a history)."""
        if not (_is_number(entropy) and _is_number(covered)):
            return
        if self.best_entropy is None or entropy > self.best_entropy:
            self.best_entropy, self.best_epoch = float(entropy), epoch
        self.best_covered = max(self.best_covered or 0, int(covered))

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)
