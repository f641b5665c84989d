"""Frames (PNG), the run as a GIF (Pillow) and as an MP4 when ffmpeg is on the PATH.

A frame: left, the plane — D(x) as a heatmap (green = "real", pink = "fake") with its 0.5
contour, the optimal D*'s 0.5 contour dashed when p_g is known, G's warped noise grid, real
points (dark green), fakes (purple) and G's gradient on the fakes as arrows; right, four
panels over the steps — the losses against 2 ln 2 (the TP's summed D loss at D ≡ ½) and
ln 2 (the G loss there), mean D(x) and D(G(z)) against 0.5, the JS divergence (≤ ln 2) and
the modes covered (or the mean arrow length when the data has no modes).
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

from ..viz import save_figure
from .observe import Snapshot
from .optimal import LN2

ARROW_SCALE = 0.25  # plane units per unit of ‖∇ₓ ℓ_G‖: fixed, so arrows compare across frames and runs


def new_figure(**kwargs):
    """A matplotlib Figure outside pyplot: no global state, no backend switch (safe in notebooks)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _moving(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        out.append(total / min(index + 1, window))
    return out


def _plane(axis, snapshot: Snapshot, extent, title: str) -> None:
    axis.imshow(snapshot.d_map.numpy(), origin="lower", extent=extent, cmap="PiYG", vmin=0, vmax=1,
                alpha=0.75, interpolation="bilinear")
    xs = [extent[0] + (extent[1] - extent[0]) * (i + 0.5) / snapshot.d_map.shape[1] for i in range(snapshot.d_map.shape[1])]
    ys = [extent[2] + (extent[3] - extent[2]) * (i + 0.5) / snapshot.d_map.shape[0] for i in range(snapshot.d_map.shape[0])]
    if float(snapshot.d_map.min()) < 0.5 < float(snapshot.d_map.max()):
        axis.contour(xs, ys, snapshot.d_map.numpy(), levels=[0.5], colors="black", linewidths=1.2)
    if snapshot.d_star is not None:
        axis.contour(xs, ys, snapshot.d_star.numpy(), levels=[0.25, 0.5, 0.75], colors="navy",
                     linewidths=[0.7, 1.4, 0.7], linestyles="dashed")
    for line in snapshot.warped:
        axis.plot(line[:, 0].numpy(), line[:, 1].numpy(), color="0.35", linewidth=0.4, alpha=0.6)
    axis.scatter(snapshot.real[:, 0], snapshot.real[:, 1], s=2, color="darkgreen", alpha=0.5, label="real")
    axis.scatter(snapshot.fake[:, 0], snapshot.fake[:, 1], s=2, color="purple", alpha=0.6, label="G(z)")
    axis.quiver(snapshot.arrow_points[:, 0], snapshot.arrow_points[:, 1], snapshot.arrows[:, 0], snapshot.arrows[:, 1],
                angles="xy", scale_units="xy", scale=1 / ARROW_SCALE, color="darkorange", width=0.004)
    axis.set_xlim(extent[0], extent[1])
    axis.set_ylim(extent[2], extent[3])
    axis.set_aspect("equal")
    axis.set_title(title, fontsize=9)
    axis.tick_params(labelsize=7)


def _curves(axes, history: list[dict], snapshots: list[Snapshot], total_steps: int, modes_max: int | None) -> None:
    steps = [r["step"] for r in history]
    window = max(1, len(history) // 50)
    losses, probs, js_axis, modes_axis = axes
    if history:
        losses.plot(steps, _moving([r["d_loss"] for r in history], window), color="tab:blue", lw=1, label="D loss")
        if not all(math.isnan(r["g_loss"]) for r in history):
            losses.plot(steps, _moving([r["g_loss"] for r in history], window), color="tab:red", lw=1, label="G loss")
        probs.plot(steps, _moving([r["d_real"] for r in history], window), color="darkgreen", lw=1, label="D(x)")
        probs.plot(steps, _moving([r["d_fake"] for r in history], window), color="purple", lw=1, label="D(G(z))")
    values = [r[k] for r in history for k in ("d_loss", "g_loss") if math.isfinite(r[k])]
    losses.set_ylim(max(-3.0, min([0.0, *values])), 3.0)  # the first steps' spikes would hide 2 ln 2 and ln 2
    losses.axhline(2 * LN2, color="tab:blue", ls="--", lw=0.7)
    losses.axhline(LN2, color="tab:red", ls="--", lw=0.7)
    losses.text(0, 2 * LN2, "2 ln 2", fontsize=6, va="bottom")
    losses.text(0, LN2, "ln 2", fontsize=6, va="bottom")
    if any(r["g_loss"] < 0 for r in history):  # the saturating G loss log(1 − D) is −ln 2 at D ≡ ½
        losses.set_ylim(min(-1.0, losses.get_ylim()[0]), 3.0)
        losses.axhline(-LN2, color="tab:red", ls=":", lw=0.7)
        losses.text(0, -LN2, "−ln 2", fontsize=6, va="bottom")
    probs.axhline(0.5, color="black", ls="--", lw=0.7)
    probs.set_ylim(0, 1)
    marks = [s.step for s in snapshots]
    js_axis.plot(marks, [s.js for s in snapshots], color="black", lw=1, marker=".", ms=3)
    js_axis.axhline(LN2, color="gray", ls="--", lw=0.7)
    js_axis.set_ylim(0, 0.75)
    if modes_max is not None:
        modes_axis.plot(marks, [s.modes for s in snapshots], color="purple", lw=1, marker=".", ms=3)
        modes_axis.axhline(modes_max, color="darkgreen", ls="--", lw=0.7)
        modes_axis.set_ylim(-0.3, modes_max + 0.5)
        modes_axis.set_title("modes covered (3σ rule)", fontsize=8)
    else:
        modes_axis.plot(marks, [s.arrow_norm for s in snapshots], color="darkorange", lw=1, marker=".", ms=3)
        modes_axis.set_title("mean ‖∇ₓ ℓ_G‖ on the fakes", fontsize=8)
    for axis, title in ((losses, "losses (TP: D loss summed)"), (probs, "mean D(x), D(G(z)) vs 0.5"),
                        (js_axis, "JS(p_data ‖ p_g), nats (≤ ln 2)")):
        axis.set_title(title, fontsize=8)
    for axis in axes:
        axis.set_xlim(0, max(total_steps, 1))
        axis.tick_params(labelsize=6)
    if history:
        losses.legend(fontsize=6, loc="upper right")
        probs.legend(fontsize=6, loc="upper right")


def draw_frame(path: Path, snapshot: Snapshot, history: list[dict], snapshots: list[Snapshot], *,
               extent, total_steps: int, title: str, modes_max: int | None) -> Path:
    """One PNG frame of the game at ``snapshot.step``."""
    figure = new_figure(figsize=(10, 5), dpi=80)
    grid = figure.add_gridspec(2, 3, width_ratios=[2.1, 1, 1], wspace=0.32, hspace=0.42)
    plane = figure.add_subplot(grid[:, 0])
    axes = [figure.add_subplot(grid[0, 1]), figure.add_subplot(grid[0, 2]),
            figure.add_subplot(grid[1, 1]), figure.add_subplot(grid[1, 2])]
    js_text = "" if math.isnan(snapshot.js) else f", JS {snapshot.js:.3f}"
    modes_text = "" if snapshot.modes is None else f", modes {snapshot.modes}/{modes_max}"
    d_range = f", D ∈ [{float(snapshot.d_map.min()):.2f}, {float(snapshot.d_map.max()):.2f}]"
    _plane(plane, snapshot, extent, f"{title} — step {snapshot.step}{js_text}{modes_text}{d_range}")
    _curves(axes, history[: snapshot.step] if history else [], [s for s in snapshots if s.step <= snapshot.step],
            total_steps, modes_max)
    figure.subplots_adjust(left=0.04, right=0.98, top=0.93, bottom=0.07)
    return save_figure(figure, path, dpi=figure.dpi, tight=False)


def save_gif(frames: list[Path], path: Path, duration_ms: int = 250) -> Path | None:
    """All frames as one looping GIF (the last frame held 2 s)."""
    from PIL import Image

    if not frames:
        return None
    images = [Image.open(frame).convert("RGB").quantize(colors=256) for frame in frames]
    durations = [duration_ms] * (len(images) - 1) + [2000]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0,
                   optimize=True)
    return path


def save_mp4(frames: list[Path], path: Path, fps: int = 4) -> Path | None:
    """An MP4 of the frames when ``ffmpeg`` is on the PATH (None otherwise, or if ffmpeg fails)."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg or not frames:
        return None
    pattern = str(frames[0].parent / "frame_%04d.png")
    command = [ffmpeg, "-y", "-loglevel", "error", "-framerate", str(fps), "-i", pattern,
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", str(path)]
    return path if subprocess.run(command, check=False).returncode == 0 else None


def draw_planes(path: Path, snapshots: list[Snapshot], titles: list[str], extent) -> Path:
    """Several planes side by side (the last frames of runs to compare)."""
    figure = new_figure(figsize=(3.6 * len(snapshots), 3.8), dpi=80)
    axes = figure.subplots(1, len(snapshots))
    for axis, snapshot, title in zip(list(axes) if len(snapshots) > 1 else [axes], snapshots, titles):
        _plane(axis, snapshot, extent, title)
    return save_figure(figure, path, dpi=figure.dpi)
