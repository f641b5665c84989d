"""Final Q1: where D's loss should settle (2 ln 2) and what a D loss near 0 means.

The TP sums two BCE means, ``L_D = −E log D(x) − E log(1 − D(G(z)))``. At the game's equilibrium
p_g = p_data, the best D is D*(x) = p_data / (p_data + p_g) = ½ everywhere (Goodfellow et al.
2014, Prop. 1), so L_D = 2 ln 2 ≈ 1.386, with D(x) = D(G(z)) = 0.5 (and the non-saturating G loss
−log D(G(z)) = ln 2). A D loss near 0 means D(x) → 1 and D(G(z)) → 0: D tells every fake apart,
i.e. G lost; with the TP's loss G then gets large, noisy gradients from fakes D rejects with
certainty, and its samples stop improving (or collapse).

"D wins" is measured here with the D loss of the TP's own Q1.1 situation, D(x) = 0.9 and
D(G(z)) = 0.1: ``d_loss_at(0.9, 0.1) = −2 ln 0.9 ≈ 0.211``. An episode is a stretch of at least
``MIN_STEPS`` steps where the moving average of the per-step D loss stays below it.

The experiment trains the TP, and beside it the same model with G's learning rate divided by
ten (D learns ten times faster than G) so that D wins; it marks the episodes on each curve and
shows the fixed-noise grids of those epochs.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image

from ..training import LoopHooks
from ..viz import save_figure, subplots
from .context import LabContext, fixed_noise_images, sample_images
from .recording import StepRecorder, moving_average
from .report import LabResult, fmt, metrics_notes, score

NAME, QUESTION = "d-loss", "final Q1"
SETTINGS = {
    "full": {"subset": 0, "epochs": 50},
    "quick": {"subset": 12000, "epochs": 8},
    "tiny": {"subset": 256, "epochs": 3},
}
RUNS = {"tp": {}, "strong-d": {"train.lr_g": 2e-5}}  # the TP; D ten times faster than G
TITLES = {"tp": "the TP (lr 2e-4 for both)", "strong-d": "D stronger: lr_G = 2e-5, lr_D = 2e-4"}
MIN_STEPS = 10


def d_loss_at(d_real: float, d_fake: float) -> float:
    """The TP's summed D loss when D outputs ``d_real`` on every real and ``d_fake`` on every fake."""
    return -math.log(d_real) - math.log(1.0 - d_fake)


EQUILIBRIUM = d_loss_at(0.5, 0.5)  # 2 ln 2 = 1.3863
WIN_THRESHOLD = d_loss_at(0.9, 0.1)  # −2 ln 0.9 = 0.2107: D at least as sure as in Q1.1


def verdict(d_loss: float) -> str:
    """A word on a D loss: D wins (< −2 ln 0.9), D ahead (< 2 ln 2 − 0.15), else near equilibrium."""
    if d_loss < WIN_THRESHOLD:
        return "D wins, G gets no useful signal"
    if d_loss < EQUILIBRIUM - 0.15:
        return "D stays ahead of G without winning outright"
    return "the game is near its equilibrium"


def find_episodes(values: list[float], threshold: float, min_length: int) -> list[tuple[int, int]]:
    """Maximal runs ``(first, last)`` (inclusive indices) of at least ``min_length`` values below ``threshold``."""
    episodes, start = [], None
    for index, value in enumerate(values + [math.inf]):  # the sentinel closes a trailing run
        below = value < threshold
        if below and start is None:
            start = index
        elif not below and start is not None:
            if index - start >= min_length:
                episodes.append((start, index - 1))
            start = None
    return episodes


def episode_epochs(episodes: list[tuple[int, int]], epochs: list[float]) -> list[int]:
    """For each episode, the epoch whose end-of-epoch grid shows it (the epoch of its middle step)."""
    return sorted({max(1, math.ceil(epochs[(first + last) // 2])) for first, last in episodes})


def analyse(recorder: StepRecorder, window: int) -> dict:
    """Episodes, and D's averages over the second half of the run (pure: recorded values in)."""
    d_loss = recorder.column("d_loss")
    smooth = moving_average(d_loss, window)
    episodes = find_episodes(smooth, WIN_THRESHOLD, MIN_STEPS)
    half = len(d_loss) // 2
    late = slice(half, None)

    def mean(values):
        values = [v for v in values if math.isfinite(v)]
        return sum(values) / len(values) if values else float("nan")

    return {
        "smooth": smooth,
        "episodes": episodes,
        "episode_steps": [(recorder.rows[a]["step"], recorder.rows[b]["step"]) for a, b in episodes],
        "episode_epochs": episode_epochs(episodes, recorder.column("epoch")),
        "fraction_winning": sum(b - a + 1 for a, b in episodes) / max(len(d_loss), 1),
        "late_d_loss": mean(d_loss[late]),
        "late_d_real": mean(recorder.column("d_real")[late]),
        "late_d_fake": mean(recorder.column("d_fake")[late]),
        "late_g_loss": mean(recorder.column("g_loss")[late]),
        "min_smooth_d_loss": min(v for v in smooth if math.isfinite(v)),
    }


def run(context: LabContext) -> LabResult:
    settings = context.pick(SETTINGS)
    out = context.out_dir
    data = context.data(settings["subset"])
    runs, analyses, numbers = {}, {}, {"equilibrium": EQUILIBRIUM, "win_threshold": WIN_THRESHOLD}
    for name, overrides in RUNS.items():
        config = context.config({"train.epochs": settings["epochs"], "data.subset": settings["subset"],
                                 "train.sample_every": 1, **overrides})
        recorder = StepRecorder(grad_norm=False)
        runs[name] = context.train(name, config, data, LoopHooks(on_step=[recorder]))
        recorder.write_csv(out / f"steps_{name}.csv")
        window = max(5, runs[name].trainer.num_batches // 10)
        analyses[name] = analyse(recorder, window)
        analyses[name]["recorder"] = recorder
        for key, value in analyses[name].items():
            if key not in ("smooth", "recorder", "episodes"):
                numbers[f"{name}_{key}"] = value
        numbers[f"{name}_alarms"] = runs[name].alarms
        scores = score(sample_images(runs[name], context.eval_samples), context)
        if scores:
            numbers[f"{name}_fid"] = scores.get("fid")
            numbers[f"{name}_recall"] = scores.get("recall")

    figures = [_plot_curves(analyses, out / "d_loss.png"), _plot_episode_grids(runs, analyses, out / "episodes.png")]
    tp, strong = analyses["tp"], analyses["strong-d"]
    evidence = [
        f"Over the second half of the TP run D's loss averaged {fmt(tp['late_d_loss'])} against the "
        f"equilibrium 2 ln 2 = {EQUILIBRIUM:.3f}, with D(x) = {fmt(tp['late_d_real'])} and D(G(z)) = "
        f"{fmt(tp['late_d_fake'])} against 0.5: {verdict(tp['late_d_loss'])}.",
        f"The TP run {_episode_text(tp)}.",
        f"With G ten times slower than D, the run {_episode_text(strong)}; its late D loss is {fmt(strong['late_d_loss'])}, D(G(z)) {fmt(strong['late_d_fake'])}, "
        f"and G's loss {fmt(strong['late_g_loss'])} (ln 2 = 0.693 at equilibrium)"
        + (f"; classifier FID {fmt(numbers.get('strong-d_fid'))} vs {fmt(numbers.get('tp_fid'))} for the TP."
           if numbers.get("tp_fid") is not None else "."),
    ]
    return LabResult(NAME, QUESTION, out, context.scale, evidence, numbers, figures,
                     [r.run_dir for r in runs.values()], notes=metrics_notes(context)).write()


def _episode_text(analysis: dict) -> str:
    """'had N episode(s) where D wins … at steps …' or 'had no episode …', for a sentence."""
    episodes = analysis["episode_steps"]
    if not episodes:
        return (f"had no episode where D wins (smoothed D loss below {WIN_THRESHOLD:.3f} = −2 ln 0.9 "
                f"for ≥ {MIN_STEPS} steps; lowest {fmt(analysis['min_smooth_d_loss'])})")
    spans = ", ".join(f"{a}–{b}" for a, b in episodes[:4]) + (" …" if len(episodes) > 4 else "")
    return (f"had {len(episodes)} episode(s) where D wins (smoothed D loss < {WIN_THRESHOLD:.3f} = "
            f"−2 ln 0.9, the loss of Q1.1's D(x) = 0.9, D(G(z)) = 0.1) at steps {spans}, "
            f"{100 * analysis['fraction_winning']:.0f} % of its steps (epochs "
            f"{', '.join(map(str, analysis['episode_epochs'][:6]))})")


def _plot_curves(analyses: dict, path: Path) -> Path:
    figure, axes = subplots(2, len(analyses), figsize=(6 * len(analyses), 7), squeeze=False)
    for column, (name, analysis) in enumerate(analyses.items()):
        recorder = analysis["recorder"]
        steps = recorder.column("step")
        top, bottom = axes[0][column], axes[1][column]
        top.plot(steps, recorder.column("d_loss"), color="C0", alpha=0.25, linewidth=0.6, label="D loss per step")
        top.plot(steps, analysis["smooth"], color="C0", label="moving average")
        top.axhline(EQUILIBRIUM, color="k", linestyle=":", label="2 ln 2 (equilibrium)")
        top.axhline(WIN_THRESHOLD, color="C3", linestyle="--", label="−2 ln 0.9 (D wins)")
        for first, last in analysis["episodes"]:
            top.axvspan(steps[first], steps[last], color="C3", alpha=0.2)
            bottom.axvspan(steps[first], steps[last], color="C3", alpha=0.2)
        top.set_ylabel("D loss (sum of two BCE means)"); top.set_title(TITLES[name], fontsize=10)
        top.legend(fontsize=7)
        window = max(1, len(steps) // 100)
        bottom.plot(steps, moving_average(recorder.column("d_real"), window), label="D(x)")
        bottom.plot(steps, moving_average(recorder.column("d_fake"), window), label="D(G(z))")
        bottom.axhline(0.5, color="k", linestyle=":", label="0.5")
        bottom.set_ylim(0, 1); bottom.set_xlabel("step"); bottom.legend(fontsize=7)
    return save_figure(figure, path)


def _plot_episode_grids(runs: dict, analyses: dict, path: Path) -> Path:
    """The fixed-noise grid of each run's episode epochs (up to three) and its final grid."""
    panels = []
    for name, run_ in runs.items():
        for epoch in analyses[name]["episode_epochs"][:3]:
            grid = run_.run_dir / "samples" / f"epoch_{epoch:03d}.png"
            if grid.is_file():
                panels.append((f"{name}, epoch {epoch} (D wins)", Image.open(grid)))
        panels.append((f"{name}, final", fixed_noise_images(run_)))
    figure, axes = subplots(1, len(panels), figsize=(3 * len(panels), 3.4), squeeze=False)
    from ..viz import make_grid

    for axis, (title, picture) in zip(axes[0], panels):
        image = picture if isinstance(picture, Image.Image) else make_grid(picture)[0].numpy()
        axis.imshow(image, cmap="gray", vmin=0, vmax=255 if isinstance(picture, Image.Image) else 1)
        axis.set_title(title, fontsize=8); axis.axis("off")
    return save_figure(figure, path)
