"""Q2.1: why GANs train with lr = 2e-4, and what too high or unequal rates do to G and D.

Each network's update moves the other's target: a step of D changes the loss surface G descends,
and the reverse. Gradient descent on such a game is only stable for small steps (Mescheder et
al. 2017, "The Numerics of GANs"; Mescheder, Geiger & Nowozin 2018: on the Dirac-GAN,
simultaneous or alternating gradient steps circle the equilibrium and spiral out when the
step is too large), and Adam with β1 = 0.5 (Radford et al. 2016) keeps momentum short for the
same reason. Too large a rate makes the losses oscillate with a growing amplitude, or lets one
player overrun the other: D wins (its loss → 0, G's gradients become useless) or G chases D's
last mistake (mode hopping, collapse). Unequal rates (TTUR, Heusel et al. 2017) are a tool,
but the faster player must be the one whose job is easier to keep stable, usually D.

The experiment trains the TP with each setting in :data:`MEMBERS` on the same data and seed (as
one batched job with :func:`gan_atelier.sweep.run_sweep`, or one run after another), records
every step, and names what each run did with :func:`diagnose`.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from pathlib import Path

import torch

from ..inference import sample
from ..training import LoopHooks
from ..viz import save_figure, save_grids_figure, subplots
from .context import LabContext, fixed_noise_images
from .recording import BatchedStepRecorder, StepRecorder, moving_average
from .report import LabResult, fmt, markdown_table, metrics_notes, score

NAME, QUESTION = "learning-rate", "Q2.1"
MEMBERS = {  # folder name → (label, overrides)
    "lr2e-4": ("lr 2e-4 (the TP)", {"train.lr": 2e-4}),
    "lr1e-3": ("lr 1e-3", {"train.lr": 1e-3}),
    "lr5e-3": ("lr 5e-3", {"train.lr": 5e-3}),
    "d1e-3_g2e-4": ("lr_D 1e-3, lr_G 2e-4", {"train.lr_d": 1e-3, "train.lr_g": 2e-4}),
    "d2e-4_g1e-3": ("lr_D 2e-4, lr_G 1e-3", {"train.lr_d": 2e-4, "train.lr_g": 1e-3}),
}
SETTINGS = {
    "full": {"subset": 0, "epochs": 20},
    "quick": {"subset": 10000, "epochs": 6},
    "tiny": {"subset": 256, "epochs": 2},
}
# The diagnosis thresholds (on the second half of a run; see diagnose()).
D_WINS_LOSS = -2 * math.log(0.9)  # 0.211: D at least as sure as in Q1.1 (D(x)=0.9, D(G(z))=0.1)
DIVERGED_G_LOSS = 10.0  # G's loss past −log(4.5e-5): D gives the fakes no probability at all
D_LOSES_MARGIN = 0.5  # D loss above 2 ln 2 + this: worse than a coin
OSCILLATION_SWING = 0.25  # peak-to-peak of the smoothed D(G(z)) (5th to 95th percentile)
OSCILLATION_CROSSINGS = 4  # at least this many swings through the mean


def swings(values: list[float], band: float) -> int:
    """How many times ``values`` cross from above ``mean + band`` to below ``mean − band`` or back.

    A hysteresis count: noise smaller than the band is never counted, a full oscillation
    period counts 2.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0
    mean = sum(finite) / len(finite)
    side, count = 0, 0
    for value in finite:
        now = 1 if value > mean + band else -1 if value < mean - band else 0
        if now and side and now != side:
            count += 1
        side = now or side
    return count


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(v for v in values if math.isfinite(v))
    if not ordered:
        return float("nan")
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def diagnose(d_loss: list[float], g_loss: list[float], d_fake: list[float], window: int) -> dict:
    """Name what a run did from its per-step values: diverged, D wins, oscillating or stable.

    On the second half of the run, with moving averages over ``window`` steps:

    * **diverged**: a non-finite loss, or G's mean loss above :data:`DIVERGED_G_LOSS`;
    * **D wins**: D's smoothed loss below :data:`D_WINS_LOSS` on more than half the steps;
    * **D loses**: D's smoothed loss above 2 ln 2 + :data:`D_LOSES_MARGIN` on more than half the
      steps (D does worse than answering ½ everywhere: G's last move threw it off);
    * **oscillating**: the smoothed D(G(z)) swings by more than :data:`OSCILLATION_SWING`
      (5th–95th percentile) and crosses its mean at least :data:`OSCILLATION_CROSSINGS` times
      (hysteresis band: a quarter of the swing);
    * **stable** otherwise.
    """
    half = len(d_loss) // 2
    late_d, late_g, late_fake = d_loss[half:], g_loss[half:], d_fake[half:]
    nonfinite = any(not math.isfinite(v) for v in late_d + late_fake) or any(
        math.isinf(v) for v in late_g)
    finite_g = [v for v in late_g if math.isfinite(v)]
    mean_g = sum(finite_g) / len(finite_g) if finite_g else float("nan")
    smooth_d = moving_average(d_loss, window)[half:]
    smooth_fake = moving_average(d_fake, window)[half:]
    d_wins_share = sum(v < D_WINS_LOSS for v in smooth_d) / max(len(smooth_d), 1)
    d_loses_share = sum(v > 2 * math.log(2) + D_LOSES_MARGIN for v in smooth_d) / max(len(smooth_d), 1)
    swing = percentile(smooth_fake, 0.95) - percentile(smooth_fake, 0.05)
    crossings = swings(smooth_fake, swing / 4) if math.isfinite(swing) else 0
    if nonfinite or mean_g > DIVERGED_G_LOSS:
        label = "diverged"
    elif d_wins_share > 0.5:
        label = "D wins"
    elif d_loses_share > 0.5:
        label = "D loses"
    elif swing > OSCILLATION_SWING and crossings >= OSCILLATION_CROSSINGS:
        label = "oscillating"
    else:
        label = "stable"
    return {"diagnosis": label, "late_g_loss": mean_g, "d_wins_share": d_wins_share,
            "d_loses_share": d_loses_share,
            "swing": swing, "crossings": crossings,
            "late_d_loss": sum(smooth_d) / max(len(smooth_d), 1)}


@dataclass
class Member:
    """What one trained setting left: per-step values, its fixed-noise grid, a sampler, its folder."""

    recorder: StepRecorder
    fixed_images: torch.Tensor  # (64, 1, 28, 28)
    generator: torch.nn.Module
    run_dir: Path
    alarms: list[str]


def batched_sweep_available() -> bool:
    """Train the settings as one batched sweep (True), or one run after another (the tests compare both)."""
    return True


def train_members(context: LabContext, settings: dict, data) -> tuple[dict[str, Member], str]:
    """Train every setting of :data:`MEMBERS`: as one batched sweep when available, else one by one."""
    common = {"train.epochs": settings["epochs"], "data.subset": settings["subset"],
              "train.sample_every": 1, "train.on_nan": "skip", "train.max_nan_skips": 10 ** 6}
    if batched_sweep_available():
        from ..sweep import run_sweep

        recorder = BatchedStepRecorder(len(MEMBERS))
        context.say(f"[lab] training {len(MEMBERS)} settings at once (batched sweep), {len(data)} images")
        result = run_sweep(context.config(common), members=[overrides for _, overrides in MEMBERS.values()],
                           seeds=[context.seed], out_dir=context.out_dir / "runs", data=data, overwrite=True,
                           progress=False, verbose=context.verbose, on_step=recorder)
        fixed = result.trainer.fixed_grid_images()  # (K, 64, 1, 28, 28)
        members = {folder: Member(recorder.recorders[k], fixed[k], result.generator(k),
                                  result.members[k].run_dir, result.members[k].alarms)
                   for k, folder in enumerate(MEMBERS)}
        return members, f"one batched sweep ({result.seconds:.0f} s for {len(MEMBERS)} settings)"
    members = {}
    for folder, (label, overrides) in MEMBERS.items():
        recorder = StepRecorder(grad_norm=False)
        run_ = context.train(folder, context.config({**common, **overrides}), data, LoopHooks(on_step=[recorder]))
        members[folder] = Member(recorder, fixed_noise_images(run_), run_.generator, run_.run_dir, run_.alarms)
    return members, "one run after another"


def run(context: LabContext) -> LabResult:
    settings = context.pick(SETTINGS)
    out = context.out_dir
    data = context.data(settings["subset"])
    members, how = train_members(context, settings, data)
    diagnoses, scores = {}, {}
    for folder, member in members.items():
        member.recorder.write_csv(out / f"steps_{folder}.csv")
        window = max(5, math.ceil(len(data) / 128) // 5)
        diagnoses[folder] = diagnose(member.recorder.column("d_loss"), member.recorder.column("g_loss"),
                                     member.recorder.column("d_fake"), window)
        images = sample(member.generator, context.eval_samples, seed=12345)
        scores[folder] = score(images, context) or {}
    recorders = {folder: member.recorder for folder, member in members.items()}

    numbers = {folder: {"setting": MEMBERS[folder][0], **diagnoses[folder],
                        **{k: scores[folder].get(k) for k in ("fid", "precision", "recall", "coverage")}}
               for folder in MEMBERS}
    figures = [_plot_curves(recorders, diagnoses, out / "curves.png"),
               save_grids_figure({f"{MEMBERS[f][0]}\n→ {diagnoses[f]['diagnosis']}": members[f].fixed_images
                                  for f in MEMBERS}, out / "grids.png",
                                 title=f"fixed noise after {settings['epochs']} epochs")]
    header = ["setting", "diagnosis", "late D loss", "late G loss", "D(G(z)) swing", "crossings"]
    has_metrics = any(scores.values())
    if has_metrics:
        header += ["FID", "precision", "recall", "coverage"]
    rows = []
    for folder, (label, _) in MEMBERS.items():
        d = diagnoses[folder]
        row = [label, d["diagnosis"], d["late_d_loss"], d["late_g_loss"], d["swing"], d["crossings"]]
        if has_metrics:
            row += [scores[folder].get(k, float("nan")) for k in ("fid", "precision", "recall", "coverage")]
        rows.append(row)
    numbers["trained_as"] = how
    return LabResult(NAME, QUESTION, out, context.scale, _evidence(numbers), numbers, figures,
                     [m.run_dir for m in members.values()], notes=metrics_notes(context),
                     table=markdown_table(header, rows)).write()


def _evidence(numbers: dict) -> list[str]:
    tp = numbers["lr2e-4"]
    others = [numbers[folder] for folder in MEMBERS if folder != "lr2e-4"]
    unstable = [n for n in others if n["diagnosis"] != "stable"]
    sentences = [
        f"At the TP's lr 2e-4 the run was {tp['diagnosis']} (late D loss {fmt(tp['late_d_loss'])}, "
        f"D(G(z)) swinging by {fmt(tp['swing'])} with {tp['crossings']} crossings"
        + (f", FID {fmt(tp['fid'])}" if tp.get("fid") is not None else "") + ").",
    ]
    if unstable:
        described = "; ".join(
            f"{n['setting']} {_describe(n)}" for n in unstable)
        verb = "was" if len(unstable) == 1 else "were"
        sentences.append(f"{len(unstable)} of the {len(others)} other settings {verb} not stable — {described}.")
    else:
        sentences.append(f"None of the {len(others)} other settings was flagged at this length "
                         f"(largest D(G(z)) swing {fmt(max(n['swing'] for n in others))}).")
    fids = {numbers[f]["setting"]: numbers[f]["fid"] for f in MEMBERS if numbers[f].get("fid") is not None}
    if fids:
        best = min(fids, key=fids.get)
        worst = max(fids, key=fids.get)
        sentences.append(f"Classifier FID ranges from {fmt(fids[best])} ({best}) to {fmt(fids[worst])} ({worst}).")
    return sentences


def _describe(n: dict) -> str:
    if n["diagnosis"] == "diverged":
        return f"diverged (late G loss {fmt(n['late_g_loss'])})"
    if n["diagnosis"] == "D wins":
        return f"D wins on {100 * n['d_wins_share']:.0f} % of late steps (late D loss {fmt(n['late_d_loss'])})"
    if n["diagnosis"] == "D loses":
        return (f"D loses on {100 * n['d_loses_share']:.0f} % of late steps (late D loss "
                f"{fmt(n['late_d_loss'])} > 2 ln 2)")
    return f"oscillating (D(G(z)) swings by {fmt(n['swing'])}, {n['crossings']} crossings)"


def _plot_curves(recorders: dict, diagnoses: dict, path):
    figure, axes = subplots(1, 3, figsize=(16, 4.2))
    for index, (folder, recorder) in enumerate(recorders.items()):
        steps = recorder.column("step")
        window = max(1, len(steps) // 60)
        label = f"{MEMBERS[folder][0]}: {diagnoses[folder]['diagnosis']}"
        color = f"C{index}"
        axes[0].plot(steps, moving_average(recorder.column("d_loss"), window), color=color, label=label)
        axes[1].plot(steps, moving_average(recorder.column("d_fake"), window), color=color, label=label)
        axes[2].plot(steps, moving_average(recorder.column("g_loss"), window), color=color, label=label)
    axes[0].axhline(2 * math.log(2), color="k", linestyle=":", label="2 ln 2")
    axes[0].axhline(D_WINS_LOSS, color="C3", linestyle="--", label="−2 ln 0.9 (D wins)")
    axes[0].set_ylabel("D loss (moving average)"); axes[0].set_yscale("log")
    axes[1].axhline(0.5, color="k", linestyle=":"); axes[1].set_ylim(0, 1); axes[1].set_ylabel("D(G(z))")
    axes[2].axhline(math.log(2), color="k", linestyle=":", label="ln 2"); axes[2].set_yscale("log")
    axes[2].set_ylabel("G loss (moving average)")
    for axis in axes:
        axis.set_xlabel("step")
    axes[0].legend(fontsize=7)
    return save_figure(figure, path)
