"""The model card (``README.md``) of a Hugging Face model folder, read from the run folder's files.

Everything in it comes from ``run.json``, ``metrics.csv`` and the config: what was trained, on
what data (with its SHA-256), the last epoch's numbers and the latest evaluation, the grid, the
license and the three lines that load the folder. Standard library only.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from . import config as cfg

EVAL_COLUMNS = ("fid", "recall", "class_entropy", "classes_covered")


def _last_rows(run_dir: Path) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """(last epoch row, last row with an evaluation) of ``metrics.csv``, or None when absent."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return None, None
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    evaluated = [row for row in rows if row.get("fid")]
    return (rows[-1] if rows else None), (evaluated[-1] if evaluated else None)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def model_card(run_dir: Path, config: cfg.RunConfig, folder_name: str, *, has_grid: bool) -> str:
    """The card's Markdown, YAML front matter included (the Hub reads library, license, tags)."""
    info = _read_json(run_dir / "run.json")
    last, evaluated = _last_rows(run_dir)
    data = info.get("data", {})
    environment = info.get("environment", {})
    t, m = config.train, config.model
    front = ["---", "library_name: gan-atelier", "license: mit", "pipeline_tag: unconditional-image-generation",
             "tags:", "- gan", "- fashion-mnist", "- image-generation", "- pytorch_model_hub_mixin",
             "- model_hub_mixin", "---", ""]
    lines = [f"# {folder_name}: a `{config.preset}` generator trained with gan-atelier", "",
             "A generator of 28×28 grayscale images in [0, 1], trained with gan-atelier, "
             "the MLP-GAN lab (TP) on Fashion-MNIST turned into a PyTorch toolkit.", "",
             "## What was trained", "",
             f"- preset `{config.preset}`: model `{m.name}` (latent dimension {m.latent_dim}), loss `{t.loss}`, "
             f"Adam lr {cfg.lr_d(config):g} (D) / {cfg.lr_g(config):g} (G), betas ({t.beta1:g}, {t.beta2:g}), "
             f"batch {t.batch_size}, {t.d_steps} D step(s) per G step" + (f", EMA {t.ema:g}" if t.ema else ""),
             f"- trained {info.get('epochs_done', '?')} of {t.epochs} epochs "
             f"({info.get('steps_done', '?')} steps), status `{info.get('status', 'unknown')}`, seed {t.seed}",
             f"- generator parameters: {info.get('parameters', {}).get('generator', '?')}", "",
             "## Data", "",
             f"- dataset `{data.get('dataset', config.data.dataset)}`, {data.get('images', '?')} training images"
             + (f" (first {config.data.subset})" if config.data.subset else ""),
             f"- SHA-256 of the training data: `{data.get('sha256', 'not recorded')}`", "",
             "## Metrics", ""]
    lines += _metric_lines(last, evaluated)
    if has_grid:
        lines += ["", "## Samples", "", "The run's fixed-noise grid after the last epoch:", "",
                  "![fixed-noise grid](grid.png)"]
    lines += ["", "## How to load it", "", "```python",
              "from gan_atelier import sample",
              "from gan_atelier.hub import HubGenerator",
              f'images = sample(HubGenerator.from_pretrained("{folder_name}"), 64, seed=0)  # (64, 1, 28, 28) in [0, 1]',
              "```", "",
              f"Or from a shell: `gan-atelier sample {folder_name} --out grid.png`, "
              f"`gan-atelier evaluate {folder_name}`.", "",
              "## License", "",
              "MIT (the weights and the code). Fashion-MNIST is © Zalando SE, MIT license.", "",
              "## Provenance", "",
              f"gan-atelier {environment.get('gan_atelier', '?')}, torch {environment.get('torch', '?')}, "
              f"git commit {environment.get('git_commit') or 'unknown'}, trained on {environment.get('device', '?')}."]
    return "\n".join(front + lines) + "\n"


def _metric_lines(last: dict[str, str] | None, evaluated: dict[str, str] | None) -> list[str]:
    if last is None:
        return ["No metrics.csv was found beside the checkpoint."]
    lines = ["| epoch | D loss | G loss | D(x) | D(G(z)) | sample diversity ÷ real |", "|---|---|---|---|---|---|",
             f"| {last.get('epoch', '')} | {last.get('d_loss', '')} | {last.get('g_loss', '')} | "
             f"{last.get('d_real', '')} | {last.get('d_fake', '')} | {last.get('diversity', '')} |"]
    if evaluated is None:
        lines += ["", "No evaluation during training (`train.eval_every = 0`); run `gan-atelier evaluate` on this folder."]
    else:
        lines += ["", f"Latest evaluation (epoch {evaluated['epoch']}, classifier space, see the project's "
                  "docs/metrics.md): " + ", ".join(f"{name} {evaluated[name]}" for name in EVAL_COLUMNS
                                                   if evaluated.get(name))]
    return lines
