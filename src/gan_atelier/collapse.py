"""Mode-collapse detection: one detector, used by every training run and by ``lab mode-collapse``.

Two signals read from fixed noise, so that successive epochs differ only by training, and one
read from G's loss:

* **Pixel diversity**, every epoch, for any model and dataset, no classifier needed: the mean
  Euclidean distance between two samples of the trainer's fixed-noise grid, divided by the same
  for real training images. The alarm needs :data:`COLLAPSE_EPOCHS` epochs in a row below
  :data:`COLLAPSED_DIVERSITY` = 0.02. Measured on Fashion-MNIST with the TP's MLP (64 fixed-noise
  samples against 400 real images): an untrained G gives 0.027; the first epochs, when every
  sample is still the same blurry blob, 0.06 to 0.12 (the ``quick`` preset: 0.060, 0.087, 0.113,
  then up to 0.37 at epoch 10; ``seed``: 0.16, 0.50, 0.61 after epochs 1 to 3); a healthy run,
  0.3 to 0.7 and rising; the lab's collapsing setting (Adam lr 1e-3, β1 0.9), 3e-5 from epoch 1
  on. The threshold sits a factor 3 under the blob stage and far above a true collapse
  (measured over the lab's runs at several seeds and thread counts: ``docs/metrics.md``).
* **Samples rejected outright**, every epoch, for the non-saturating loss only (the TP's, whose
  G loss is −E ln D(G(z)), so that e^(−loss) is the geometric mean of D(G(z))): the alarm needs
  :data:`REJECTED_EPOCHS` epochs in a row with G's loss above :data:`REJECTED_G_LOSS` = ln 1000,
  D calling G's samples fake with 99.9 % confidence in geometric mean. That is divergence, not a
  slow start: the healthy runs measured (TP, DCGAN, cGAN, lr 1e-3, unequal rates) stay at or
  under 5.34 in every epoch; lr 5e-3 from the start, and the lab's collapsing setting, stay above
  ln 1000 for two epochs in a row by epoch 5 at the latest (epoch 2 in the lab's sweep; each run's
  highest epoch 15 to 630). It catches too high a learning rate where the samples are speckled
  noise, diverse in pixels.
* **Class coverage**, at the ``train.eval_every`` evaluations: the class histogram of the
  ``train.eval_samples`` images drawn from fixed evaluation noise and classified by the shipped
  Fashion-MNIST classifier (:mod:`gan_atelier.training.evaluation`). Those n images are a sample of
  G's output distribution, so each share is uncertain; the rule compares confidence bounds,
  never raw counts (see :meth:`CollapseDetector.check_classes`). It catches a partial collapse
  (some classes gone) that the pixel diversity, an average over all pairs, moves too little to show.

The class rule, at family level α = :data:`ALPHA` over the K classes of one histogram:

* Each class share p_c = n_c / n gets a Wilson score interval (Wilson 1927; Brown, Cai &
  DasGupta 2001) at z = Φ⁻¹(1 − α / (2K)) (Bonferroni: all K intervals hold together with
  probability ≥ 1 − α; z = 2.807 for α = 0.05, K = 10)::

      centre = (n_c + z²/2) / (n + z²),   half = z / (n + z²) · √(n_c (n − n_c) / n + z²/4)

  A class is **present** when its lower bound is ≥ :data:`FLOOR` (1 %, the ``classes_covered``
  share of :mod:`gan_atelier.metrics.classes`), **absent** when its upper bound is < FLOOR, and
  undecided in between (at n = 2,000: present from 36 samples, absent up to 8).
* The class entropy H = −Σ p_c ln p_c gets the delta-method standard error (Basharin 1959)
  se(H) = √((Σ p_c (ln p_c)² − H²) / n), and the bounds H ± z·se.
* **Blob stage.** Nothing is compared until coverage is *established*: at least
  :data:`ESTABLISHED_CLASSES` present classes at :data:`PERSIST_EVALUATIONS` of the last
  :data:`ESTABLISH_WINDOW` evaluations (2 of 3: a slow healthy G flickers between 2 and 3 classes
  before it settles — the TP at seed 2, two threads: 1, 2, 1, 2, 1, 3, 2, 3 classes over 8 epochs).
  Before that, every sample of a young G is the same blob that the classifier files under one or
  two classes — or, once in a while, splits among three (the TP at seed 4: Coat, Shirt and Bag at
  epoch 1, then "Shirt" alone), and a "drop" means nothing.
* **Reference.** From then on the reference is the evaluation with the most present classes
  (ties: the higher entropy).
* **Collapsing** at an evaluation: at least :data:`CLASSES_LOST_ALARM` of the reference's present
  classes are now absent — each change is beyond sampling noise, since both intervals exclude
  the floor on opposite sides — *and* as many fewer classes are surely present than at the
  reference (classes that merely swapped, one lost while another appeared, are the mode hopping
  of a young G, not a loss of coverage); or the effective number of classes e^H has confidently
  halved: H_low(reference) − H_high(now) > ln 2.
* **Persistence.** The alarm speaks after :data:`PERSIST_EVALUATIONS` collapsing evaluations in a
  row; a non-collapsing evaluation resets the count and re-arms the alarm.
* **Stuck at the blob stage.** A G whose coverage is never established draws one or two classes
  whatever z is: the collapse of a G that never left its first mode (a D that wins from the
  start, too high a learning rate). The blob stage is given a deadline in training images seen,
  :data:`BLOB_DEADLINE_IMAGES`; at the first evaluation at or past it, if coverage is still not
  established (after at least :data:`PERSIST_EVALUATIONS` evaluations), the alarm speaks, once
  (establishment ends the episode for good). The
  deadline is the healthy runs' latest establishment with a margin (``docs/metrics.md``).

Each signal warns once per episode and re-arms when the run recovers. The detector's state
travels in checkpoints, so a resumed run warns exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from statistics import NormalDist
from typing import Any, Sequence

import torch

COLLAPSED_DIVERSITY = 0.02  # below 2 % of the real images' variety: the samples repeat one image
COLLAPSE_EPOCHS = 3  # epochs in a row below it before the alarm
REAL_DIVERSITY_IMAGES = 400  # real images in the reference diversity (the first ones of the split)

ALPHA = 0.05  # family-wise error level of the K class intervals of one histogram
FLOOR = 0.01  # a class is present above this share, absent below (a tenth of 1/K for K = 10)
ESTABLISHED_CLASSES = 3  # present classes before any comparison (the blob stage has 1 or 2)
CLASSES_LOST_ALARM = 2  # present classes of the reference now absent
PERSIST_EVALUATIONS = 2  # collapsing evaluations in a row before the alarm
ESTABLISH_WINDOW = 3  # coverage is established at PERSIST_EVALUATIONS evaluations of the last 3
REJECTED_G_LOSS = math.log(1000)  # non-saturating G loss: D(G(z)) under 1e-3 in geometric mean
REJECTED_EPOCHS = 2  # epochs in a row above it before the alarm
BLOB_DEADLINE_IMAGES = 96_000  # training images seen by which coverage must be established
ALARM_PREFIXES = ("mode collapse", "G's samples rejected", "class coverage")  # how this detector's lines begin


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


def class_z(classes: int, alpha: float = ALPHA) -> float:
    """z = Φ⁻¹(1 − α / (2K)): two-sided Bonferroni quantile for K simultaneous intervals."""
    return NormalDist().inv_cdf(1 - alpha / (2 * classes))


def wilson_bounds(count: int, total: int, z: float) -> tuple[float, float]:
    """Wilson score interval (lower, upper) of a binomial share count / total at quantile z."""
    if total <= 0:
        return 0.0, 1.0
    centre = (count + z * z / 2) / (total + z * z)
    half = z / (total + z * z) * math.sqrt(count * (total - count) / total + z * z / 4)
    return max(0.0, centre - half), min(1.0, centre + half)


def entropy_bounds(counts: Sequence[int], z: float) -> tuple[float, float, float]:
    """(H, H − z·se, H + z·se) in nats, se² = (Σ p ln² p − H²) / n (delta method, Basharin 1959)."""
    total = sum(counts)
    shares = [c / total for c in counts if c > 0]
    entropy = -sum(p * math.log(p) for p in shares) + 0.0
    second = sum(p * math.log(p) ** 2 for p in shares)
    se = math.sqrt(max(second - entropy * entropy, 0.0) / total)
    return entropy, entropy - z * se, entropy + z * se


@dataclass(frozen=True)
class ClassReading:
    """One evaluation's histogram read through the confidence bounds."""

    present: tuple[int, ...]  # classes whose lower bound is ≥ FLOOR
    absent: tuple[int, ...]  # classes whose upper bound is < FLOOR
    entropy: float
    entropy_low: float
    entropy_high: float
    shares: tuple[float, ...]


def read_classes(counts: Sequence[int], alpha: float = ALPHA, floor: float = FLOOR) -> ClassReading:
    """Present and absent classes, and the entropy with its bounds, of a class histogram."""
    counts = [int(c) for c in counts]
    total = sum(counts)
    z = class_z(len(counts), alpha)
    bounds = [wilson_bounds(c, total, z) for c in counts]
    entropy, low, high = entropy_bounds(counts, z)
    return ClassReading(tuple(c for c, (lo, _) in enumerate(bounds) if lo >= floor),
                        tuple(c for c, (_, hi) in enumerate(bounds) if hi < floor),
                        entropy, low, high, tuple(c / total for c in counts))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value)


@dataclass
class CollapseDetector:
    """Per-run state of both signals; each ``check_*`` returns one alarm line or ``None``."""

    low_streak: int = 0
    diversity_alarmed: bool = False
    established_epoch: int | None = None  # first evaluation with ESTABLISHED_CLASSES present
    reference_epoch: int | None = None
    reference_present: list[int] = field(default_factory=list)
    reference_shares: list[float] = field(default_factory=list)
    reference_entropy: float | None = None
    reference_entropy_low: float | None = None
    class_streak: int = 0
    classes_alarmed: bool = False
    recent_present: list[int] = field(default_factory=list)  # present classes at the last ESTABLISH_WINDOW evaluations
    blob_evaluations: int = 0  # evaluations before coverage was established
    blob_most_present: int = 0  # the most classes surely present at one of them
    stuck_alarmed: bool = False
    rejected_streak: int = 0
    rejected_alarmed: bool = False

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

    def check_rejection(self, epoch: int, generator_loss: float) -> str | None:
        """G's non-saturating loss −E ln D(G(z)) over ``epoch`` (call it for that loss only)."""
        if not _is_number(generator_loss):
            return None
        if generator_loss <= REJECTED_G_LOSS:
            self.rejected_streak, self.rejected_alarmed = 0, False
            return None
        self.rejected_streak += 1
        if self.rejected_streak < REJECTED_EPOCHS or self.rejected_alarmed:
            return None
        self.rejected_alarmed = True
        first = epoch - self.rejected_streak + 1
        return (f"G's samples rejected outright at epoch {epoch}: G's loss −E ln D(G(z)) has been above ln 1000 "
                f"= {REJECTED_G_LOSS:.1f} for {self.rejected_streak} epochs (epochs {first}-{epoch}; now "
                f"{generator_loss:.1f}): D calls its samples fake with more than 99.9 % confidence (geometric "
                f"mean of D(G(z)) {math.exp(-generator_loss):.1e}); training has diverged (too high a learning "
                f"rate? a D that wins?)")

    def check_classes(self, epoch: int, counts: Sequence[int] | None, names: Sequence[str] | None = None,
                      images_seen: int | None = None) -> str | None:
        """One evaluation's class histogram (counts per predicted class) after ``images_seen`` training
        images (None: the blob-stage deadline is not checked); the rules are the module's."""
        if counts is None or sum(int(c) for c in counts) <= 0:
            return None
        reading = read_classes(counts)
        lost = self._lost(reading)
        collapsing = lost is not None and (
            (len(lost) >= CLASSES_LOST_ALARM
             and len(reading.present) <= len(self.reference_present) - CLASSES_LOST_ALARM)
            or self.reference_entropy_low - reading.entropy_high > math.log(2))
        self._note(epoch, reading)
        if self.established_epoch is None:
            return self._check_stuck(epoch, reading, images_seen)
        if not collapsing:
            self.class_streak, self.classes_alarmed = 0, False
            return None
        self.class_streak += 1
        if self.class_streak < PERSIST_EVALUATIONS or self.classes_alarmed:
            return None
        self.classes_alarmed = True
        return self._message(epoch, reading, lost, names)

    def _check_stuck(self, epoch: int, reading: ClassReading, images_seen: int | None) -> str | None:
        """The blob-stage deadline: coverage still not established after BLOB_DEADLINE_IMAGES images."""
        self.blob_evaluations += 1
        self.blob_most_present = max(self.blob_most_present, len(reading.present))
        if (images_seen is None or images_seen < BLOB_DEADLINE_IMAGES or self.stuck_alarmed
                or self.blob_evaluations < PERSIST_EVALUATIONS):
            return None
        self.stuck_alarmed = True
        most = self.blob_most_present
        return (f"class coverage never established by epoch {epoch} ({images_seen:,} training images, deadline "
                f"{BLOB_DEADLINE_IMAGES:,}): {ESTABLISHED_CLASSES} classes surely present at no 2 of 3 consecutive "
                f"evaluations ({self.blob_evaluations} evaluations, at most {most} classes at one), class entropy "
                f"{reading.entropy:.2f} nats; G is stuck at the blob stage, one or two classes whatever z is "
                f"(a D that wins? too high a learning rate?); 95 % simultaneous bounds; mode collapse")

    def _lost(self, reading: ClassReading) -> list[int] | None:
        """The reference's present classes now absent, or None before coverage is established."""
        if self.established_epoch is None:
            return None
        return [c for c in self.reference_present if c in reading.absent]

    def _note(self, epoch: int, reading: ClassReading) -> None:
        """Establishment and the reference evaluation (most present classes, then highest entropy)."""
        if self.established_epoch is None:
            self.recent_present = (self.recent_present + [len(reading.present)])[-ESTABLISH_WINDOW:]
            covering = sum(count >= ESTABLISHED_CLASSES for count in self.recent_present)
            if len(reading.present) < ESTABLISHED_CLASSES:
                if covering == 0:
                    self.reference_epoch = None  # the candidate reference leaves the window too
                return
            if covering >= PERSIST_EVALUATIONS:
                self.established_epoch = epoch
        better = (len(reading.present), reading.entropy) > (len(self.reference_present), self.reference_entropy or 0.0)
        if self.reference_epoch is None or better:
            self.reference_epoch, self.reference_present = epoch, list(reading.present)
            self.reference_shares = list(reading.shares)
            self.reference_entropy, self.reference_entropy_low = reading.entropy, reading.entropy_low

    def _message(self, epoch: int, reading: ClassReading, lost: list[int], names) -> str:
        def name(c: int) -> str:
            return names[c] if names is not None else f"class {c}"

        gone = ", ".join(f"{name(c)} {100 * self.reference_shares[c]:.1f} → {100 * reading.shares[c]:.1f} %"
                         for c in lost) or "none"
        return (f"class coverage collapsing at epoch {epoch} ({self.class_streak} evaluations in a row): "
                f"{len(reading.present)} class{'es' if len(reading.present) != 1 else ''} surely present (epoch {self.reference_epoch}: "
                f"{len(self.reference_present)}), surely lost: {gone}; class entropy {reading.entropy:.2f} "
                f"nats (epoch {self.reference_epoch}: {self.reference_entropy:.2f}); "
                f"95 % simultaneous bounds; mode collapse?")

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state; keys of older detectors (another class rule) are ignored, so the class
        signal of a run resumed from such a checkpoint starts again from its blob stage."""
        known = {f.name for f in fields(self)}
        for key, value in state.items():
            if key in known:
                setattr(self, key, value)


def replay(diversities: Sequence[float | None], histograms: Sequence[Sequence[int] | None],
           names: Sequence[str] | None = None, images_per_epoch: int | None = None,
           generator_losses: Sequence[float | None] | None = None) -> list[tuple[int, str]]:
    """The alarms ``(epoch, line)`` a fresh detector raises on a recorded run, epoch by epoch.

    ``diversities[e - 1]``, ``histograms[e - 1]`` and ``generator_losses[e - 1]`` are epoch e's pixel
    diversity, evaluation histogram and non-saturating G loss (None where there was none; no G
    losses: a run of another loss), checked in the trainer's order: diversity, G's loss, classes.
    ``images_per_epoch``: the training set's size, for the blob-stage deadline (None: not checked).
    """
    detector, alarms = CollapseDetector(), []
    losses = list(generator_losses or [])
    for index in range(max(len(diversities), len(histograms), len(losses))):
        epoch = index + 1
        diversity = diversities[index] if index < len(diversities) else None
        loss = losses[index] if index < len(losses) else None
        counts = histograms[index] if index < len(histograms) else None
        for alarm in (detector.check_diversity(epoch, diversity if diversity is not None else math.nan),
                      detector.check_rejection(epoch, loss if loss is not None else math.nan),
                      detector.check_classes(epoch, counts, names,
                                             epoch * images_per_epoch if images_per_epoch else None)):
            if alarm:
                alarms.append((epoch, alarm))
    return alarms
