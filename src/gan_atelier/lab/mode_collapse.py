"""Final Q2: mode collapse, made to happen beside a healthy run, and measured as it happens.

Mode collapse: G finds a few outputs that D currently accepts and maps most (or all) of z to
them. Its loss can look fine, since D is fooled by those few images, but the samples lose
their variety: on the grid, many cells show the same garment, or the same few, whatever z
is. D then learns to reject that mode, G hops to another, and the game cycles instead of
converging (Goodfellow 2016 tutorial §5.1.1; Metz et al. 2017, "Unrolled GANs").

Measured each epoch on a fixed set of noise vectors:

* the **class histogram** of the samples from the shipped Fashion-MNIST classifier, its entropy
  (ln 10 = 2.303 nats when the ten classes are even) and the classes covered (≥ 1 % of samples);
* **recall** (k = 3) and **coverage** (k = 5) against real test images in the classifier's
  feature space: the share of the real data the samples reach;
* the **pixel diversity**: the mean distance between two samples, divided by the same for real
  images (1 for real-like variety, 0 when every z gives the same image). No classifier needed.

The collapsing setting, :data:`COLLAPSE`, was found by short experiments (see the comment above it).
Detection is not the lab's own: the pixel diversity is the ``diversity`` column that every
training run writes to ``metrics.csv``, and the alarm quoted in the summary is the one
:class:`gan_atelier.collapse.CollapseDetector` raises in any ``gan-atelier train`` run (log,
``run.json``), with ``train.eval_every`` adding its class-coverage signal.
"""

from __future__ import annotations

import math

import torch

from ..collapse import COLLAPSED_DIVERSITY, collapsed_from
from ..data import CLASS_NAMES
from ..training import LoopHooks
from ..viz import save_figure, save_grids_figure, subplots
from .context import LabContext
from .report import LabResult, fmt, metrics_notes, metrics_unavailable

NAME, QUESTION = "mode-collapse", "final Q2"
# Found by 5-epoch runs on 12,000 images (pixel diversity, predicted classes; docs/en/answers.md):
# Adam with the defaults used for classifiers, lr 1e-3 and β1 = 0.9, collapses the TP's GAN to a
# single image from the first epoch (D's loss → 0), at every seed tried; β1 = 0.5 with the same lr
# does not. At the quick and tiny scales the healthy run uses lr 1e-3 too (the TP's 2e-4 has not
# left the noise stage after a few epochs on a subset: every sample is still one blurry blob), so
# the two runs differ by β1 alone; at the full scale the healthy run is the TP itself.
COLLAPSE = ("collapsing: Adam lr 1e-3, β1 0.9", {"train.lr": 1e-3, "train.beta1": 0.9})
HEALTHY = {"full": ("healthy: the TP (lr 2e-4, β1 0.5)", {}),
           "quick": ("healthy: lr 1e-3, β1 0.5", {"train.lr": 1e-3}),
           "tiny": ("healthy: lr 1e-3, β1 0.5", {"train.lr": 1e-3})}
SETTINGS = {
    "full": {"subset": 0, "epochs": 20, "samples": 2000},
    "quick": {"subset": 12000, "epochs": 8, "samples": 1000},
    "tiny": {"subset": 256, "epochs": 2, "samples": 64},
}


class CollapseMonitor:
    """on_epoch hook: the trainer's pixel diversity, and class histogram, recall and coverage of fixed noise."""

    def __init__(self, context: LabContext, samples: int, real: torch.Tensor, latent_dim: int):
        self.noise = torch.randn(samples, latent_dim, generator=torch.Generator().manual_seed(context.seed + 7))
        self.classifier = None
        if metrics_unavailable() is None:
            from .. import metrics
            from ..metrics.prdc import knn_radii_squared

            self.metrics = metrics
            self.classifier = metrics.load_classifier()
            self.real_features = metrics.extract_features(real[:samples], self.classifier).features
            self.real_radii = {k: knn_radii_squared(self.real_features, k) for k in (3, 5)}
        self.rows: list[dict] = []
        self.grids: dict[int, torch.Tensor] = {}

    def __call__(self, trainer, row=None) -> None:
        images = trainer.sample_images(self.noise)  # (N, 1, 28, 28) on the CPU
        row = trainer.history[-1] if row is None else row
        entry = {"epoch": trainer.epoch, "diversity": row.get("diversity", math.nan)}  # what the detector saw
        if self.classifier is not None:
            features = self.metrics.extract_features(images, self.classifier)
            counts = self.metrics.class_histogram(features.logits.argmax(dim=1))
            scores = self.metrics.prdc(self.real_features, features.features, real_radii=self.real_radii)
            entry.update(histogram=counts.tolist(), entropy=self.metrics.entropy_nats(counts),
                         covered=self.metrics.classes_covered(counts),
                         max_share=float(counts.max()) / float(counts.sum()),
                         recall=scores["recall"], coverage=scores["coverage"], precision=scores["precision"])
        self.rows.append(entry)
        self.grids[trainer.epoch] = images[:64]


def run(context: LabContext) -> LabResult:
    settings = context.pick(SETTINGS)
    out = context.out_dir
    data = context.data(settings["subset"])
    real = context.test_data(settings["samples"]).as_float()[:settings["samples"]]
    classifier_ready = metrics_unavailable() is None
    runs, monitors = {}, {}
    setups = {"healthy": context.pick(HEALTHY), "collapse": COLLAPSE}
    for folder, (label, overrides) in setups.items():
        values = {"train.epochs": settings["epochs"], "data.subset": settings["subset"],
                  "train.sample_every": 1, **overrides}
        if classifier_ready and not context.tiny:
            values.update({"train.eval_every": 1, "train.eval_samples": settings["samples"]})
        config = context.config(values)
        monitors[folder] = CollapseMonitor(context, settings["samples"], real, config.model.latent_dim)
        runs[folder] = context.train(folder, config, data, LoopHooks(on_epoch=[monitors[folder]]))

    numbers = {folder: {"setting": setting[0], "overrides": setting[1], "per_epoch": monitors[folder].rows,
                        "alarms": runs[folder].alarms,
                        "collapsed_from_epoch": _epoch_at(monitors[folder].rows,
                                                          collapsed_from([r["diversity"] for r in monitors[folder].rows]))}
               for folder, setting in setups.items()}
    labels = {folder: setting[0] for folder, setting in setups.items()}
    figures = [_plot_over_time(monitors, labels, out / "collapse_over_time.png", classifier_ready)]
    if classifier_ready:
        figures.append(_plot_histograms(monitors, labels, out / "class_histograms.png"))
    last = settings["epochs"]
    figures.append(save_grids_figure({f"{labels['healthy']}, epoch {last}": monitors["healthy"].grids[last],
                                      f"{labels['collapse']}, epoch {last}": monitors["collapse"].grids[last]},
                                     out / "grids.png", title="fixed noise"))
    return LabResult(NAME, QUESTION, out, context.scale, _evidence(numbers, classifier_ready), numbers,
                     figures, [r.run_dir for r in runs.values()], notes=metrics_notes(context)).write()


def _epoch_at(rows: list[dict], index: int | None) -> int | None:
    return rows[index]["epoch"] if index is not None else None


def _evidence(numbers: dict, classifier_ready: bool) -> list[str]:
    healthy, collapse = numbers["healthy"]["per_epoch"][-1], numbers["collapse"]["per_epoch"][-1]
    rows = numbers["collapse"]["per_epoch"]
    start = collapsed_from([r["diversity"] for r in rows])
    since = (f"it stayed below {COLLAPSED_DIVERSITY} from epoch {rows[start]['epoch']} on"
             if start is not None else f"it never stayed below {COLLAPSED_DIVERSITY}")
    sentences = [
        f"Pixel diversity of the samples (1 = as varied as real images): {fmt(healthy['diversity'])} for "
        f"the healthy run against {fmt(collapse['diversity'])} for the collapsing one "
        f"({numbers['collapse']['setting']}) after {healthy['epoch']} epochs; {since}.",
    ]
    if classifier_ready:
        top = max(range(10), key=lambda c: collapse["histogram"][c])
        sentences.append(
            f"The classifier sees {healthy['covered']} classes (entropy {fmt(healthy['entropy'])} nats of "
            f"ln 10 = 2.303, recall {fmt(healthy['recall'])}, coverage {fmt(healthy['coverage'])}) in the "
            f"healthy run and {collapse['covered']} in the collapsing one (entropy {fmt(collapse['entropy'])}, "
            f"{100 * collapse['max_share']:.0f} % of samples called '{CLASS_NAMES['fashion-mnist'][top]}', "
            f"recall {fmt(collapse['recall'])}, coverage {fmt(collapse['coverage'])}).")
    for folder, who in (("collapse", "collapsing"), ("healthy", "healthy")):
        alarms = numbers[folder]["alarms"]
        collapse_alarms = [a for a in alarms if "collaps" in a]
        if collapse_alarms:
            sentences.append(f"The collapse detector of ordinary training warned in the {who} run's log: "
                             f"\"{collapse_alarms[0]}\".")
        elif alarms:
            sentences.append(f"The {who} run's log warned: \"{alarms[0]}\" (no collapse alarm).")
        else:
            sentences.append(f"No alarm was raised in the {who} run's log.")
    return sentences


def _plot_over_time(monitors: dict, labels: dict, path, classifier_ready: bool):
    panels = 3 if classifier_ready else 1
    figure, axes = subplots(1, panels, figsize=(5.2 * panels, 4), squeeze=False)
    axes = axes[0]
    for folder, color in (("healthy", "C0"), ("collapse", "C3")):
        rows = monitors[folder].rows
        epochs = [r["epoch"] for r in rows]
        label = labels[folder]
        axes[0].plot(epochs, [r["diversity"] for r in rows], "o-", color=color, label=label)
        if classifier_ready:
            axes[1].plot(epochs, [r["entropy"] / math.log(10) for r in rows], "o-", color=color, label=label)
            axes[2].plot(epochs, [r["recall"] for r in rows], "o-", color=color, label=f"recall, {folder}")
            axes[2].plot(epochs, [r["coverage"] for r in rows], "s--", color=color, label=f"coverage, {folder}")
    axes[0].axhline(1.0, color="k", linestyle=":"); axes[0].set_ylabel("pixel diversity / real images'")
    axes[0].set_title("variety of the samples"); axes[0].legend(fontsize=7)
    if classifier_ready:
        axes[1].set_ylabel("class entropy / ln 10"); axes[1].set_ylim(0, 1.05)
        axes[1].set_title("classes of the samples (1 = ten even classes)")
        axes[2].set_ylabel("share of the real test data reached"); axes[2].set_ylim(0, 1.05)
        axes[2].set_title("recall (k=3) and coverage (k=5)"); axes[2].legend(fontsize=7)
    for axis in axes:
        axis.set_xlabel("epoch")
    return save_figure(figure, path)


def _plot_histograms(monitors: dict, labels: dict, path):
    """Stacked class shares per epoch, one panel per run."""
    import matplotlib

    names = CLASS_NAMES["fashion-mnist"]
    figure, axes = subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for axis, folder in zip(axes, ("healthy", "collapse")):
        rows = monitors[folder].rows
        epochs = [r["epoch"] for r in rows]
        bottom = [0.0] * len(rows)
        for cls in range(10):
            shares = [r["histogram"][cls] / max(sum(r["histogram"]), 1) for r in rows]
            axis.bar(epochs, shares, bottom=bottom, color=matplotlib.colormaps["tab10"](cls), label=names[cls])
            bottom = [b + s for b, s in zip(bottom, shares)]
        axis.set_title(labels[folder], fontsize=9)
        axis.set_xlabel("epoch"); axis.set_ylim(0, 1)
    axes[0].set_ylabel("share of samples per predicted class")
    axes[1].legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    return save_figure(figure, path)
