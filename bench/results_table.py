"""Train every preset on Fashion-MNIST, score each with the classifier metrics, write docs/results.md.

Usage::

    python bench/results_table.py                          # every preset, seeds 0 1 2 (hours on 2 cores)
    python bench/results_table.py --presets seed dcgan --seeds 0
    python bench/results_table.py --presets dcgan --set train.epochs=2 --runs-dir /tmp/quick
    python bench/results_table.py --table-only             # rebuild the page from finished runs

Each (preset, seed) trains into ``RUNS_DIR/<preset>-seed<k>`` with ``train.seed = k`` and
``train.threads`` fixed (default 1: on a shared 2-core machine a second OpenMP thread mostly
waits, and CPU time is then the honest cost). A finished run with the same config is reused, an
interrupted one is resumed from its last checkpoint, and scores are cached in ``scores.json``
per sample count and extractor hash, so an interrupted table continues where it stopped. Scores come from :func:`gan_atelier.metrics.evaluate_images` on ``--samples``
images drawn with ``gan_atelier.sample(generator, n, seed=0)``, exactly what
``gan-atelier evaluate RUN --n N`` computes. Conditional generators get balanced labels.

The page reports, per preset, mean ± sample sd over the seeds of classifier FID, KID,
precision, recall, density, coverage and classes covered, the training wall time and process
CPU time, the parameter counts, the ratios to the seed preset (the issue's target: FID ≤ ⅓
and recall ≥ 3× the seed's, in no more CPU time than the seed's), and a sample grid per preset
(fixed noise of seed 0; one row per class for the cGAN). Every run is also put side by side with
``gan-atelier compare`` in ``RUNS_DIR/compare/compare.html`` (curves overlaid, final grids).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

import gan_atelier as api
from gan_atelier import config as cfg
from gan_atelier.run.folder import read_run_json

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PRESETS = ("seed", "dcgan", "cgan", "lsgan", "hinge", "wgan-gp", "vae", "modern", "modern-plain", "modern-cgan")
METRICS = (  # key, column title, format
    ("fid", "FID ↓", "{:.2f}"),
    ("kid", "KID ↓", "{:.2f}"),
    ("precision", "precision ↑", "{:.3f}"),
    ("recall", "recall ↑", "{:.3f}"),
    ("density", "density", "{:.3f}"),
    ("coverage", "coverage ↑", "{:.3f}"),
    ("classes_covered", "classes", "{:.1f}"),
    ("label_agreement", "label agreement", "{:.3f}"),
)
SCORE_KEYS = ("fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "classes_covered",
              "class_entropy", "min_class_share", "max_class_share", "classifier_is")


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS), choices=cfg.PRESETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override for every preset (e.g. train.epochs=2 for a smoke test)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for training and scoring")
    parser.add_argument("--samples", type=int, default=10000, help="generated images scored (vs as many test images)")
    parser.add_argument("--runs-dir", type=Path, default=REPO / "runs" / "results")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "results.md")
    parser.add_argument("--table-only", action="store_true", help="do not train; tabulate finished runs")
    return parser


# ---------------------------------------------------------------------------------- one run
def run_dir_for(args: argparse.Namespace, preset: str, seed: int) -> Path:
    return args.runs_dir / f"{preset}-seed{seed}"


def train_one(args: argparse.Namespace, preset: str, seed: int) -> None:
    """Train, resume or reuse one run; add its process CPU time to ``cpu.json``."""
    run_dir = run_dir_for(args, preset, seed)
    config = cfg.get_config(preset, [*args.overrides, f"train.seed={seed}", f"train.threads={args.threads}"])
    same_config = (run_dir / "config.toml").exists() and cfg.load_toml(run_dir / "config.toml") == config
    if same_config and _completed(run_dir):
        print(f"[{preset} seed {seed}] reusing {run_dir}")
        return
    resume = same_config and (run_dir / "checkpoints" / "latest.json").exists()
    print(f"[{preset} seed {seed}] {'resuming' if resume else 'training into'} {run_dir}", flush=True)
    cpu_file = run_dir / "cpu.json"
    cpu_before = json.loads(cpu_file.read_text())["train_cpu_seconds"] if resume and cpu_file.exists() else 0.0
    started = time.process_time()
    try:
        if resume:
            run = api.train(None, run_dir, resume=True, progress=False)
        else:
            run = api.train(config, run_dir, overwrite=run_dir.exists(), progress=False)
    finally:
        if run_dir.exists():
            cpu_file.write_text(json.dumps({"train_cpu_seconds": cpu_before + time.process_time() - started,
                                            "threads": args.threads}) + "\n")
    if run.status != "completed":
        raise SystemExit(f"{run_dir}: training {run.status}; run the same command again to resume")


def score_one(args: argparse.Namespace, preset: str, seed: int) -> dict:
    """The run's scores (cached in ``scores.json`` for the same sample count and extractor)."""
    from gan_atelier.metrics import evaluate_images, load_classifier, predict_classes

    run_dir = run_dir_for(args, preset, seed)
    extractor = load_classifier()
    cache = run_dir / "scores.json"
    if cache.exists():
        scores = json.loads(cache.read_text())
        if scores.get("n_generated") == args.samples and scores.get("extractor_sha256") == extractor.sha256:
            return scores
    generator = api.load_generator(run_dir)
    images = api.sample(generator, args.samples, seed=0)
    result = evaluate_images(images, n=args.samples, extractor=extractor, memorisation=False)
    scores = {key: result[key] for key in SCORE_KEYS if key in result}
    if getattr(generator, "conditional", False):
        # Change only the label: does the classifier see the class asked for? (api.sample's labels)
        labels = torch.arange(args.samples) % 10
        predicted = predict_classes(images, extractor)
        scores["label_agreement"] = (predicted == labels).float().mean().item()
    scores.update(n_generated=result["n_generated"], extractor_sha256=extractor.sha256, metric=result["metric"])
    cache.write_text(json.dumps(scores, indent=2) + "\n")
    return scores


def _completed(run_dir: Path) -> bool:
    try:
        return read_run_json(run_dir).get("status") == "completed"
    except Exception:  # noqa: BLE001 — absent or unreadable: not completed
        return False


def run_facts(args: argparse.Namespace, preset: str, seed: int) -> dict:
    run_dir = run_dir_for(args, preset, seed)
    info = read_run_json(run_dir)
    cpu_file = run_dir / "cpu.json"
    cpu = json.loads(cpu_file.read_text())["train_cpu_seconds"] if cpu_file.exists() else math.nan
    return {"wall_seconds": info.get("train_seconds", math.nan), "cpu_seconds": cpu,
            "generator_parameters": info["parameters"]["generator"],
            "discriminator_parameters": info["parameters"]["discriminator"],
            "epochs": info.get("epochs_done"), "steps": info.get("steps_done"),
            "config": cfg.load_toml(run_dir / "config.toml")}


# ---------------------------------------------------------------------------------- the page
def mean_sd(values: list[float], pattern: str) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "—"
    if len(values) == 1:
        return pattern.format(values[0])
    return f"{pattern.format(statistics.mean(values))} ± {pattern.format(statistics.stdev(values))}"


def save_grids(args: argparse.Namespace, preset: str, seed: int, folder: Path) -> str:
    """A 10×10 grid from the run (one row per class for conditional G); returns its relative path."""
    from gan_atelier.viz import save_grid

    generator = api.load_generator(run_dir_for(args, preset, seed))
    if getattr(generator, "conditional", False):
        labels = torch.arange(10).repeat_interleave(10)
        images = api.sample(generator, 100, seed=0, labels=labels)
    else:
        images = api.sample(generator, 100, seed=0)
    path = folder / f"{preset}.png"
    save_grid(images, path, nrow=10, scale=2)
    return path.relative_to(args.out.parent).as_posix()


def target_sentence(table: dict[str, dict], carried: dict[str, dict] | None = None) -> str:
    """Which presets meet the issue's target against the seed preset (means over seeds)."""
    carried = carried or {}

    def mean(row, key, source="scores"):
        values = [item[key] for item in row[source] if not math.isnan(item[key])]
        return statistics.mean(values) if values else math.nan

    means = {p: {k: mean(r, k, src) for k, src in (("fid", "scores"), ("recall", "scores"),
                                                    ("cpu_seconds", "facts"))} for p, r in table.items()}
    means.update({p: {k: r[k] for k in ("fid", "recall", "cpu_seconds")} for p, r in carried.items()})
    if "seed" not in means:
        return "The seed preset is not in this table, so the target (vs the seed) is not evaluated."
    seed = means["seed"]
    met, missed = [], []
    for preset, row in means.items():
        if preset == "seed":
            continue
        fid_ok = row["fid"] <= seed["fid"] / 3
        recall_ok = row["recall"] >= 3 * seed["recall"] and row["recall"] > 0
        cpu_ok = row["cpu_seconds"] <= seed["cpu_seconds"]
        (met if fid_ok and recall_ok and cpu_ok else missed).append(
            f"`{preset}` (FID {'✓' if fid_ok else '✗'}, recall {'✓' if recall_ok else '✗'}, "
            f"CPU {'✓' if cpu_ok else '✗'})")
    return ("**Target** (FID ≤ ⅓ of the seed's, recall ≥ 3× the seed's, training CPU ≤ the seed's): "
            f"met by {', '.join(met) or 'none'}; missed by {', '.join(missed) or 'none'}.")


CARRIED = "†"


def carried_rows(path: Path) -> dict[str, dict]:
    """The rows (and sample grids) of the page's current table, by preset: kept for presets not run now.

    Each: ``{"cells": [...], "grid": "results/x.png" or None, "fid", "recall", "cpu_seconds"}`` (means,
    read back from the cells), so a table regenerated for some presets keeps the others' measured rows.
    """
    text = path.read_text() if path.exists() else ""
    if BEGIN not in text:
        return {}
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    rows: dict[str, dict] = {}
    for line in block.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            preset = cells[0].split("`")[1]

            def mean(cell):
                try:
                    return float(cell.split("±")[0].replace(",", ""))
                except ValueError:
                    return math.nan
            rows[preset] = {"cells": cells, "grid": None, "fid": mean(cells[6]), "recall": mean(cells[9]),
                            "cpu_seconds": 60 * mean(cells[5])}
        elif line.startswith("![") and "samples](" in line:
            preset = line[2:].split(" samples]")[0]
            if preset in rows:
                rows[preset]["grid"] = line.split("](", 1)[1].rstrip(")")
    return rows


def write_page(args: argparse.Namespace, table: dict[str, dict]) -> None:
    grids = args.out.parent / "results"
    grids.mkdir(parents=True, exist_ok=True)
    carried = {p: r for p, r in carried_rows(args.out).items() if p not in table}
    seed_row = table.get("seed")
    if seed_row:
        seed_fid = statistics.mean(s["fid"] for s in seed_row["scores"])
        seed_recall = statistics.mean(s["recall"] for s in seed_row["scores"])
    elif "seed" in carried:
        seed_fid, seed_recall = carried["seed"]["fid"], carried["seed"]["recall"]
    header = ["preset", "model · loss", "epochs", "G / D params", "wall min", "CPU min",
              *[title for _, title, _ in METRICS], "FID ÷ seed", "recall × seed"]
    lines = [
        "## The table",
        "",
        "Generated by `python bench/results_table.py` (do not edit between the markers). Metrics are the",
        "**classifier** metrics of `gan_atelier.metrics` (not Inception FID; see `docs/metrics.md`):",
        f"{args.samples} generated images (`api.sample(G, n, seed=0)`) against as many Fashion-MNIST",
        "test images. Mean ± sample standard deviation over the seeds listed in each row. Times are",
        f"training only, on this machine, `train.threads = {args.threads}`; CPU min is the training",
        "process's CPU time.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    order = [p for p in (*DEFAULT_PRESETS, *table, *carried) if p in table or p in carried]
    for preset in dict.fromkeys(order):
        if preset in carried:
            cells = carried[preset]["cells"]
            lines.append("| " + " | ".join([cells[0] if CARRIED in cells[0] else cells[0] + " " + CARRIED,
                                             *cells[1:]]) + " |")
            continue
        row = table[preset]
        facts, scores = row["facts"], row["scores"]
        first = facts[0]
        config = first["config"]
        model = (f"{config.model.name}{' +SN' if config.model.spectral_norm else ''}"
                 f"{f' +{config.model.clusters} clusters' if config.model.clusters else ''} · {config.train.loss}")
        if config.model.name == "vae":
            model = "vae · −ELBO"
        cells = [f"`{preset}` (seeds {', '.join(map(str, row['seeds']))})", model, str(first["epochs"]),
                 f"{first['generator_parameters']:,} / {first['discriminator_parameters']:,}",
                 mean_sd([f["wall_seconds"] / 60 for f in facts], "{:.1f}"),
                 mean_sd([f["cpu_seconds"] / 60 for f in facts], "{:.1f}")]
        for key, _, pattern in METRICS:
            cells.append(mean_sd([s.get(key, math.nan) for s in scores], pattern))
        if (seed_row or "seed" in carried) and preset != "seed":
            fid = statistics.mean(s["fid"] for s in scores)
            recall = statistics.mean(s["recall"] for s in scores)
            cells += [f"{fid / seed_fid:.2f}", f"{recall / seed_recall:.1f}" if seed_recall > 0 else "—"]
        else:
            cells += ["1", "1"] if preset == "seed" else ["—", "—"]
        lines.append("| " + " | ".join(cells) + " |")
    if carried:
        lines += ["", f"{CARRIED} Carried over from an earlier run of this script (the page's previous table): "
                  f"{', '.join(f'`{p}`' for p in carried)} were not trained in this run."]
    lines += ["", target_sentence(table, carried), "", "## Samples", "",
              "100 samples of each preset's seed-0 run (`api.sample(G, 100, seed=0)`; the cGAN: one row per class,",
              "T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot).", ""]
    for preset in dict.fromkeys(order):
        path = (carried[preset]["grid"] if preset in carried
                else save_grids(args, preset, table[preset]["seeds"][0], grids))
        if path:
            lines += [f"### `{preset}`", "", f"![{preset} samples]({path})", ""]
    replace_generated_part(args.out, "\n".join(lines))
    print(f"Wrote {args.out}")


BEGIN, END = "<!-- results_table.py: begin -->", "<!-- results_table.py: end -->"


def replace_generated_part(path: Path, body: str) -> None:
    """Write ``body`` between the BEGIN/END markers of ``path``, keeping any hand-written text around them."""
    block = f"{BEGIN}\n{body}\n{END}"
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    table: dict[str, dict] = {}
    for preset in args.presets:
        facts, scores, seeds = [], [], []
        for seed in args.seeds:
            if not args.table_only:
                train_one(args, preset, seed)
            if not _completed(run_dir_for(args, preset, seed)):
                print(f"[{preset} seed {seed}] no finished run; left out of the table", file=sys.stderr)
                continue
            facts.append(run_facts(args, preset, seed))
            scores.append(score_one(args, preset, seed))
            seeds.append(seed)
            print(f"[{preset} seed {seed}] FID {scores[-1]['fid']:.2f} recall {scores[-1]['recall']:.3f} "
                  f"CPU {facts[-1]['cpu_seconds'] / 60:.1f} min", flush=True)
        if facts:
            table[preset] = {"facts": facts, "scores": scores, "seeds": seeds}
    if not table:
        print("nothing to tabulate", file=sys.stderr)
        return 1
    write_page(args, table)
    # Every run side by side (its scores.json read as its latest evaluation): gan-atelier compare's page.
    from gan_atelier.compare import compare

    runs = [run_dir_for(args, preset, seed) for preset in table for seed in table[preset]["seeds"]]
    written = compare(runs, args.runs_dir / "compare")
    print(f"Runs side by side: {written['html']} ({written['count']} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
