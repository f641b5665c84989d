"""Render a comparison of runs (:mod:`gan_atelier.compare`) as Markdown, CSV and one HTML page.

The HTML page is self-contained: the curves of every run overlaid as inline SVG (drawn here,
no plotting library, so thirty runs render in well under a second), each run's final grid
inlined as a base64 PNG (the exact grid, shown enlarged with ``image-rendering: pixelated``),
no script and no external file. Standard library and Pillow only.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .files import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:  # the reader imports this module, never the other way round
    from .compare import RunSummary

EVAL_KEYS = ("fid", "precision", "recall", "coverage")  # the latest evaluation's columns
MISSING = "—"

# The curves drawn, as (metrics.csv column, title, reference line and its label or None).
CURVES = (("d_loss", "D loss", (2 * math.log(2), "2 ln 2")), ("g_loss", "G loss", (math.log(2), "ln 2")),
          ("d_real", "D(x)", (0.5, "0.5")), ("d_fake", "D(G(z))", (0.5, "0.5")),
          ("diversity", "sample diversity ÷ real", None), ("fid", "classifier FID (in training)", None))
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
DASHES = ("", "6 3", "2 2", "8 3 2 3")


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(runs: list["RunSummary"], settings: list[str]) -> tuple[list[str], list[list[str]]]:
    """(header, rows of text): the one table behind the three formats."""
    header = ["run", "preset", *settings, "epochs", "CPU s", "D loss", "G loss", *EVAL_KEYS,
              "evaluated from", "alarms", "status"]
    rows = []
    for run in runs:
        alarms = run.info.get("alarms") or []
        rows.append([run.name, run.preset, *(_fmt(run.settings.get(key)) for key in settings), run.epochs,
                     _fmt(run.info.get("cpu_seconds")), _fmt(run.last("d_loss")), _fmt(run.last("g_loss")),
                     *(_fmt(run.evaluation.get(key)) for key in EVAL_KEYS), run.evaluation.get("source", MISSING),
                     f"{len(alarms)}: {alarms[0]}" if alarms else "0", run.status])
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if value == MISSING else value for value in row] for row in rows])
    return buffer.getvalue()


def svg_chart(title: str, series: list[tuple[str, int, list[tuple[float, float]]]],
              reference: tuple[float, str] | None = None, width: int = 460, height: int = 260) -> str:
    """One line chart: ``series`` = (label, run index, [(epoch, value), …]) overlaid on shared axes."""
    points = [p for _, _, line in series for p in line if math.isfinite(p[1])]
    if not points:
        return ""
    ys = [p[1] for p in points] + ([reference[0]] if reference else [])
    x_low, x_high = min(p[0] for p in points), max(p[0] for p in points)
    y_low, y_high = min(ys), max(ys)
    x_high, y_high = (x_high if x_high > x_low else x_low + 1), (y_high if y_high > y_low else y_low + 1)
    left, right, top, bottom = 48, 10, 24, 30

    def x(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * (width - left - right)

    def y(value: float) -> float:
        return height - bottom - (value - y_low) / (y_high - y_low) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{html.escape(title)}"><title>{html.escape(title)}</title>',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
             f'fill="none" stroke="#999"/>']
    for value in (y_low, (y_low + y_high) / 2, y_high):
        parts.append(f'<text x="{left - 4}" y="{y(value) + 4:.1f}" font-size="10" text-anchor="end">{value:.3g}</text>')
    for value in (x_low, x_high):
        parts.append(f'<text x="{x(value):.1f}" y="{height - 12}" font-size="10" text-anchor="middle">{value:g}</text>')
    parts.append(f'<text x="{(left + width) / 2:.0f}" y="{height - 1}" font-size="10" text-anchor="middle">epoch</text>')
    if reference:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(reference[0]):.1f}" y2="{y(reference[0]):.1f}" '
                     f'stroke="#555" stroke-dasharray="1 3"/><text x="{width - right - 2}" y="{y(reference[0]) - 3:.1f}" '
                     f'font-size="10" text-anchor="end">{html.escape(reference[1])}</text>')
    for label, index, line in series:
        finite = [(px, py) for px, py in line if math.isfinite(py)]
        if not finite:
            continue
        color, dash = PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]
        coords = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in finite)
        marker = "".join(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="2" fill="{color}"/>' for px, py in finite) \
            if len(finite) < 3 else ""
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5" '
                     f'stroke-dasharray="{dash}"><title>{html.escape(label)}</title></polyline>{marker}')
    return "".join(parts) + "</svg>"


def _grid_data_uri(run: "RunSummary") -> str | None:
    """The run's grid as a base64 PNG, shrunk back to its exact pixels (nearest upscaling undone)."""
    from PIL import Image

    if run.grid is None:
        return None
    scale = run.settings.get("log.image_scale", 1)
    try:
        with Image.open(run.grid) as picture:
            picture = picture.convert("L")
            if isinstance(scale, int) and scale > 1 and picture.width % scale == 0 and picture.height % scale == 0:
                picture = picture.resize((picture.width // scale, picture.height // scale), Image.NEAREST)
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG")
    except OSError:
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#eee}td:first-child,td:nth-child(2),td:last-child{text-align:left}
tr.warn td:last-child{background:#fde8c8}.swatch{display:inline-block;width:12px;height:12px;margin-right:4px}
.charts,.grids{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;max-width:250px}
img.grid{width:242px;height:auto;image-rendering:pixelated;border:1px solid #ccc}"""


def html_page(runs: list["RunSummary"], header: list[str], rows: list[list[str]], skipped: list[Path]) -> str:
    title = f"gan-atelier: {len(runs)} run(s) compared"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for index, (run, row) in enumerate(zip(runs, rows)):
        swatch = f'<span class="swatch" style="background:{PALETTE[index % len(PALETTE)]}"></span>'
        cells = [f"<td>{swatch}{html.escape(row[0])}</td>"] + [f"<td>{html.escape(v)}</td>" for v in row[1:]]
        css = "" if run.status == "completed" else ' class="warn"'
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    charts = [svg_chart(name, [(run.name, i, [(r["epoch"], r.get(column, math.nan)) for r in run.rows])
                               for i, run in enumerate(runs)], reference)
              for column, name, reference in CURVES]
    figures = []
    for run in runs:
        uri = _grid_data_uri(run)
        picture = f'<img class="grid" alt="grid of {html.escape(run.name)}" src="{uri}">' if uri else "<p>no grid</p>"
        caption = f"{run.name} ({run.grid.stem if run.grid else 'none'}, {run.status})"
        figures.append(f"<figure>{picture}<figcaption>{html.escape(caption)}</figcaption></figure>")
    notes = "".join(f"<li>skipped {html.escape(str(p))}: not a run folder</li>" for p in skipped)
    alarms = "".join(f"<li><b>{html.escape(run.name)}</b>: {html.escape(alarm)}</li>"
                     for run in runs for alarm in run.info.get("alarms") or [])
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>Read from the run folders' files on {time.strftime('%Y-%m-%d %H:%M')}. CPU s: process CPU time "
            f"of the training (all threads). Losses: the last epoch's means. Evaluation: evaluation.json when present "
            f"(10,000-sample protocol), else the last in-training evaluation (2,000 samples).</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + f"<h2>Curves</h2><div class=\"charts\">{''.join(c for c in charts if c)}</div>"
            f"<h2>Final grids</h2><div class=\"grids\">{''.join(figures)}</div>"
            + (f"<h2>Alarms</h2><ul>{alarms}</ul>" if alarms else "") + "</body></html>\n")


def write_report(runs: list["RunSummary"], settings: list[str], out: Path,
                 skipped: list[Path] | None = None) -> dict[str, Any]:
    """Write ``compare.md``, ``compare.csv`` and ``compare.html`` into ``out``."""
    from .errors import WriteError

    skipped = skipped or []
    header, rows = table(runs, settings)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WriteError(f"cannot create {out}: {error.strerror or error}") from None
    written = {"md": out / "compare.md", "csv": out / "compare.csv", "html": out / "compare.html"}
    atomic_write_text(written["md"], markdown(header, rows))
    atomic_write_text(written["csv"], csv_text(header, rows))
    page = html_page(runs, header, rows, skipped).encode("utf-8")
    atomic_write_bytes(written["html"], lambda file: file.write(page))
    return {**written, "count": len(runs), "skipped": skipped}
