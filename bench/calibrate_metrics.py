"""The calibration table of docs/metrics.md: real sets damaged on purpose, scored like samples.

Usage::

    python bench/calibrate_metrics.py                    # N = 10,000, prints the table, checks monotonicity
    python bench/calibrate_metrics.py --write-docs       # also replace the table in docs/metrics.md
    python bench/calibrate_metrics.py --n 2000 --no-memorisation   # a quicker look
    python bench/calibrate_metrics.py --prdc-readme      # reproduce prdc's published Gaussian numbers

Every row is :func:`gan_atelier.metrics.evaluate_images` of a calibration set (see
:mod:`gan_atelier.metrics.calibration`) against the first N test images, with the shipped
classifier. The script then checks that along the noise and blur ladders (damaged training
images) FID and KID grow and recall and coverage fall at every step, and exits with status 1 if
one does not. Precision and density are printed but not required to fall: see docs/metrics.md.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import torch

from gan_atelier.metrics import evaluate_images, load_classifier
from gan_atelier.metrics.calibration import calibration_images

NOISE_LADDER = ("train", "noise:0.05", "noise:0.1", "noise:0.2", "noise:0.3", "noise:0.5")
BLUR_LADDER = ("train", "blur:0.5", "blur:1", "blur:1.5", "blur:2", "blur:3")
OTHERS = ("test", "class:0", "class:8", "uniform")
# key, column title, format, direction in which the score gets worse (None: reported, not checked)
COLUMNS = (
    ("fid", "FID", "{:.2f}", +1),
    ("kid", "KID", "{:.4f}", +1),
    ("precision", "P", "{:.3f}", None),  # fidelity only: heavily damaged images can land inside
    ("recall", "R", "{:.3f}", -1),
    ("density", "D", "{:.3f}", None),  # the real manifold (see docs/metrics.md, "Calibration")
    ("coverage", "C", "{:.3f}", -1),
    ("class_entropy", "H (nats)", "{:.3f}", None),
    ("classes_covered", "classes", "{:d}", None),
    ("classifier_is", "IS", "{:.2f}", None),
    ("memorisation_ratio", "mem. ratio", "{:.2f}", None),
)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
BEGIN, END = "<!-- calibration:begin -->", "<!-- calibration:end -->"


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10000, help="images per set (default 10000)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-memorisation", action="store_true")
    parser.add_argument("--write-docs", action="store_true", help=f"replace the table between the markers in {DOCS}")
    parser.add_argument("--prdc-readme", action="store_true",
                        help="only reproduce prdc's README example: N(0, I), 1000-d, 10k vs 10k, k = 5")
    return parser


def prdc_readme() -> None:
    """prdc 0.2 README: P 0.4772, R 0.4705, density 1.0555, coverage 0.9735 (one draw)."""
    from gan_atelier.metrics.prdc import expected_coverage, prdc

    started = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(10000, 1000, generator=generator)
    fake = torch.randn(10000, 1000, generator=generator)
    result = prdc(real, fake, k_precision_recall=5, k_density_coverage=5)
    print("prdc README   : precision 0.4772  recall 0.4705  density 1.0555  coverage 0.9735")
    print("gan-atelier   : " + "  ".join(f"{key} {value:.4f}" for key, value in result.items()))
    print(f"theory        : density 1 (expectation), coverage {expected_coverage(10000, 10000, 5):.4f}")
    print(f"({time.perf_counter() - started:.0f} s; P/R here use k = 5 as the README does)")


def table(rows: list[tuple[str, dict]], n: int, extractor) -> str:
    lines = [f"N = {n} per set, against the first {n} test images; extractor {extractor.name} "
             f"(sha256 `{extractor.sha256[:12]}`).", "",
             "| set | " + " | ".join(title for _, title, _, _ in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for name, result in rows:
        cells = [pattern.format(result[key]) if key in result else "—" for key, _, pattern, _ in COLUMNS]
        lines.append(f"| `{name}` (N={result['n_generated']}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_monotone(results: dict[str, dict], ladder: tuple[str, ...]) -> list[str]:
    """Names of the scores that fail to get worse at every step of ``ladder``.

    A score already at its worst possible value (0 for recall and coverage) may stay there.
    """
    failures = []
    for key, _, _, direction in COLUMNS:
        if direction is None or key not in results[ladder[0]]:
            continue
        values = [results[name][key] for name in ladder]
        steps = [direction * (after - before) if not (direction < 0 and before == after == 0.0) else 1.0
                 for before, after in zip(values, values[1:])]
        if any(step <= 0 for step in steps):
            failures.append(f"{key} along {ladder[1].split(':')[0]}: "
                            + ", ".join(f"{value:.4g}" for value in values))
    return failures


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    if args.prdc_readme:
        prdc_readme()
        return 0
    extractor = load_classifier()
    results: dict[str, dict] = {}
    for name in dict.fromkeys(NOISE_LADDER + BLUR_LADDER + OTHERS):
        images = calibration_images(name, args.n)
        results[name] = evaluate_images(images, n=args.n, extractor=extractor,
                                        memorisation=not args.no_memorisation, threads=args.threads)
        print(f"{name:12s} FID {results[name]['fid']:8.3f}  ({results[name]['seconds']:.1f} s)", flush=True)
    ordered = [(name, results[name]) for name in dict.fromkeys(("test",) + NOISE_LADDER + BLUR_LADDER + OTHERS)]
    text = table(ordered, args.n, extractor)
    failures = check_monotone(results, NOISE_LADDER) + check_monotone(results, BLUR_LADDER)
    verdict = ("Monotonicity check: along both ladders FID and KID rise and recall and coverage "
               "fall at every step (or stay at 0)." if not failures else
               "Monotonicity check FAILED for: " + "; ".join(failures))
    print()
    print(text)
    print()
    print(verdict)
    if args.write_docs:
        page = DOCS.read_text()
        block = f"{BEGIN}\n{text}\n\n{verdict}\n{END}"
        page, count = re.subn(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, page, flags=re.S)
        if count != 1:
            print(f"{DOCS}: markers {BEGIN} … {END} not found; nothing written", file=sys.stderr)
            return 1
        DOCS.write_text(page)
        print(f"Updated {DOCS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
