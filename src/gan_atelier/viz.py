"""Pictures a student opens: fixed-noise grids (PNG), their GIF, loss curves read from files, and
the one way every figure of the project is saved (:func:`save_figure`).

No torchvision: :func:`make_grid` tiles images with a fixed value range [0, 1] (so grids from
different epochs are comparable; no per-grid rescaling), 2-pixel padding like torchvision's.
Plots are drawn from ``metrics.csv``, never from live training state. Figures are matplotlib
``Figure`` objects built without pyplot (:func:`subplots`): no global backend switch, so a
notebook keeps its inline plots and a script needs no display.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .files import atomic_write_bytes, read_metrics

LN2 = math.log(2.0)


def make_grid(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 0.0) -> torch.Tensor:
    """Tile ``(N, 1, H, W)`` (or ``(N, H*W)`` for 28×28) images in [0, 1] into ``(1, H', W')``."""
    images = images.detach().float().cpu()
    if images.dim() == 2:
        images = images.view(-1, 1, 28, 28)
    if images.dim() == 3:
        images = images.unsqueeze(1)
    count, channels, height, width = images.shape
    ncol = min(nrow, count)
    nrows = math.ceil(count / ncol)
    grid = torch.full((channels, nrows * (height + padding) + padding,
                       ncol * (width + padding) + padding), pad_value)
    for index in range(count):
        row, col = divmod(index, ncol)
        top, left = padding + row * (height + padding), padding + col * (width + padding)
        grid[:, top:top + height, left:left + width] = images[index]
    return grid.clamp_(0.0, 1.0)


def grid_to_uint8(grid: torch.Tensor) -> np.ndarray:
    return (grid[0] * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).numpy()


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int = 8, scale: int = 1) -> Path:
    """Save images as one grayscale PNG grid, enlarged ``scale`` times (nearest neighbour).

    Nearest neighbour keeps pixels honest: every ``scale``-th pixel of the file, from
    ``scale // 2``, is the exact grid of :func:`make_grid` (28×28 tiles), see :func:`exact_grid`.
    """
    picture = upscale(Image.fromarray(grid_to_uint8(make_grid(images, nrow=nrow)), mode="L"), scale)
    path = Path(path)
    atomic_write_bytes(path, lambda file: picture.save(file, format="PNG"))
    return path


def upscale(picture: Image.Image, scale: int) -> Image.Image:
    """``picture`` enlarged ``scale`` times, each pixel a ``scale × scale`` block (nearest neighbour)."""
    if scale <= 1:
        return picture
    return picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)


def exact_grid(path: str | os.PathLike, scale: int) -> np.ndarray:
    """The unscaled uint8 grid behind a PNG written by :func:`save_grid` with ``scale``."""
    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("L"))
    return pixels[scale // 2::scale, scale // 2::scale] if scale > 1 else pixels


def epoch_caption(path: Path) -> str:
    """``samples/epoch_005.png`` → ``"epoch 5"``; any other name → its stem."""
    stem = Path(path).stem
    number = stem.removeprefix("epoch_")
    return f"epoch {int(number)}" if number.isdigit() else stem


def captioned(picture: Image.Image, caption: str) -> Image.Image:
    """``picture`` under a black band holding ``caption`` in white (the picture's pixels untouched)."""
    from PIL import ImageDraw, ImageFont

    size = max(10, picture.width // 24)
    band = size + size // 2
    framed = Image.new("L", (picture.width, picture.height + band), 0)
    framed.paste(picture, (0, band))
    try:
        font = ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: the small bitmap font
        font = ImageFont.load_default()
    ImageDraw.Draw(framed).text((size // 2, size // 4), caption, fill=255, font=font)
    return framed


def save_gif(frame_paths: list[Path], path: str | os.PathLike, duration_ms: int = 500,
             captions: list[str] | None = None) -> Path | None:
    """One GIF frame per grid PNG, ``duration_ms`` each, looping forever (Pillow).

    Each frame carries its caption above the grid (default: its epoch, from ``epoch_005.png``).
    """
    if not frame_paths:
        return None
    captions = captions if captions is not None else [epoch_caption(p) for p in frame_paths]
    frames = []
    for frame_path, caption in zip(frame_paths, captions):
        with Image.open(frame_path) as picture:
            frames.append(captioned(picture.convert("L"), caption))
    path = Path(path)
    atomic_write_bytes(path, lambda file: frames[0].save(
        file, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0
    ))
    return path


def plot_curves(metrics_path: str | os.PathLike, out_path: str | os.PathLike,
                title: str = "", marks: list[int] | None = None, probabilistic: bool = True) -> Path:
    """``curves.png``: D and G losses with 2 ln 2 and ln 2, D's outputs, sample diversity, and metrics.

    ``marks`` are epochs to highlight (e.g. where D wins). ``probabilistic``: D's outputs are
    probabilities, drawn on [0, 1] against 0.5; False for a critic loss, whose raw mean scores
    are drawn as they are (sample diversity then gets its own [0, 1] axis).
    """
    rows = read_metrics(metrics_path)
    epochs = [r["epoch"] for r in rows]
    has_eval = any(not math.isnan(r.get("fid", float("nan"))) for r in rows)
    panels = 3 if has_eval else 2
    figure, axes = subplots(1, panels, figsize=(5.2 * panels, 4))
    ax = axes[0]
    ax.plot(epochs, [r["d_loss"] for r in rows], label="D loss")
    ax.plot(epochs, [r["g_loss"] for r in rows], label="G loss")
    ax.axhline(2 * LN2, color="C0", linestyle=":", label="2 ln 2 (D at equilibrium)")
    ax.axhline(LN2, color="C1", linestyle=":", label="ln 2 (G at equilibrium)")
    for mark in marks or []:
        ax.axvline(mark, color="red", alpha=0.3)
    ax.set_xlabel("epoch"); ax.set_ylabel("mean loss"); ax.legend(fontsize=8); ax.set_title("losses")
    _plot_d_outputs(axes[1], rows, probabilistic)
    if has_eval:
        _plot_quality(axes[2], rows)
    if title:
        figure.suptitle(title)
    return save_figure(figure, out_path, dpi=100, compact=False)


def _plot_d_outputs(ax, rows: list[dict[str, float]], probabilistic: bool) -> None:
    epochs = [r["epoch"] for r in rows]
    ax.plot(epochs, [r["d_real"] for r in rows], label="D(x)" if probabilistic else "critic score, real")
    ax.plot(epochs, [r["d_fake"] for r in rows], label="D(G(z))" if probabilistic else "critic score, fake")
    if probabilistic:
        ax.axhline(0.5, color="gray", linestyle=":", label="0.5")
    diversity = [(r["epoch"], r["diversity"]) for r in rows if not math.isnan(r.get("diversity", float("nan")))]
    twin = ax if probabilistic else ax.twinx()
    if diversity:  # see gan_atelier.collapse: near 0 when every z gives the same image
        twin.plot([d[0] for d in diversity], [min(d[1], 1.0) for d in diversity], "--", color="C4",
                  label="sample diversity ÷ real")
    twin.set_ylim(0, 1)
    ax.set_xlabel("epoch")
    if twin is ax:
        ax.legend(fontsize=8)
    else:
        ax.legend(fontsize=8, loc="upper left"); twin.legend(fontsize=8, loc="upper right")
    ax.set_title("D's outputs, sample diversity" if probabilistic else "critic scores, sample diversity")


def _plot_quality(ax, rows: list[dict[str, float]]) -> None:
    points = [(r["epoch"], r["fid"], r.get("recall", float("nan")), r.get("class_entropy", float("nan")))
              for r in rows if not math.isnan(r.get("fid", float("nan")))]
    ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label="classifier FID")
    ax.set_xlabel("epoch"); ax.set_ylabel("classifier FID"); ax.set_title("quality")
    twin = ax.twinx()
    twin.plot([p[0] for p in points], [p[2] for p in points], "s--", color="C2", label="recall")
    twin.plot([p[0] for p in points], [p[3] / math.log(10) for p in points], "^--", color="C3",
              label="class entropy / ln 10")
    twin.set_ylim(0, 1.05)
    ax.legend(loc="upper left", fontsize=8); twin.legend(loc="upper right", fontsize=8)


# ----------------------------------------------------------------------------- figures
def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """A matplotlib Figure and its axes, built without pyplot.

    No global backend switch and nothing left open: a notebook keeps its inline plots, and a
    script needs no display. ``kwargs`` as for ``Figure.subplots`` plus ``figsize``.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=kwargs.pop("figsize", None))
    return figure, figure.subplots(nrows, ncols, **kwargs)


def save_figure(figure, path: str | os.PathLike, *, dpi: float = 90, compact: bool = True,
                tight: bool = True) -> Path:
    """Write a matplotlib figure as PNG, atomically: the one way figures are saved.

    Tight layout (leaving room for a suptitle) unless ``tight=False`` (the figure placed its axes
    itself); ``compact`` re-encodes the PNG small (:func:`compact_png`: grayscale when it has no
    colour, else a 256-colour palette).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    titled = getattr(figure, "_suptitle", None) is not None
    if tight:
        figure.tight_layout(rect=(0, 0, 1, 0.93) if titled else None)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    png = buffer.getvalue()
    atomic_write_bytes(path, (lambda file: compact_png(png, file)) if compact else (lambda file: file.write(png)))
    return path


def compact_png(png: bytes, file) -> None:
    """Re-encode a matplotlib PNG small: grayscale when it has no colour, else a 256-colour palette."""
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    red, green, blue = picture.split()
    if red.tobytes() == green.tobytes() == blue.tobytes():
        picture = red  # a gray image (grids): one channel
    else:
        picture = picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    picture.save(file, format="PNG", optimize=True)


def show_grids(axes, grids: dict[str, torch.Tensor], nrow: int = 8) -> None:
    """One image grid per axis, titled by the dict's keys (images in [0, 1])."""
    for axis, (title, images) in zip(axes, grids.items()):
        grid = make_grid(images, nrow=nrow)
        axis.imshow(grid[0].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
        axis.set_title(title, fontsize=9)
        axis.axis("off")


def save_grids_figure(grids: dict[str, torch.Tensor], path: str | os.PathLike, nrow: int = 8,
                      title: str = "") -> Path:
    """Grids side by side in one PNG."""
    figure, axes = subplots(1, len(grids), figsize=(3.2 * len(grids), 3.6), squeeze=False)
    show_grids(axes[0], grids, nrow=nrow)
    if title:
        figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)


def show_grid(grid: torch.Tensor, title: str = "", figsize=(10, 10)) -> None:
    """The TP's helper: display a grid from :func:`make_grid` (or raw images) with matplotlib."""
    from matplotlib import pyplot as plt

    if grid.dim() == 4 or (grid.dim() == 2 and grid.shape[-1] == 784):
        grid = make_grid(grid)
    plt.figure(figsize=figsize)
    plt.title(title)
    plt.imshow(np.transpose(grid.numpy(), (1, 2, 0)), cmap="gray", vmin=0, vmax=1)
    plt.axis("off")
    plt.show()
