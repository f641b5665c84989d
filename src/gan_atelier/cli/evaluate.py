"""``gan-atelier evaluate``: a thin wrapper over the metrics API.

    gan-atelier evaluate RUN|CHECKPOINT|EXPORT.safetensors|SAMPLES.npy [--n N] [--json FILE]
    gan-atelier evaluate --real train          # score a calibration set instead of a generator
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DataError


def load_source_images(source: str, n: int, *, seed: int = 0, device: str = "cpu") -> torch.Tensor:
    """``n`` images from a run folder, a checkpoint, a safetensors export or a ``.npy`` file."""
    path = Path(source)
    if path.suffix == ".npy":
        return load_npy_samples(path)[:n]
    if not path.exists():
        raise ConfigError(f"{path}: no such run folder, checkpoint or samples file")
    if not (path.is_dir() or path.suffix in (".pt", ".safetensors")):
        raise ConfigError(f"{path}: expected a run folder, a .pt checkpoint, a .safetensors export or a .npy file")
    from ..inference import load_generator, sample

    generator = load_generator(path, device=device)
    return sample(generator, n, seed=seed)


def load_npy_samples(path: Path) -> torch.Tensor:
    """Samples saved by ``gan-atelier sample --out x.npy`` (or any ``(N, 28, 28)`` / ``(N, 1, 28, 28)``
    array, float in [0, 1] or uint8). Pickled arrays are refused."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable .npy array ({str(error).splitlines()[0]})") from None
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{path}: samples must be float in [0, 1] or uint8, got dtype {array.dtype}")
    from ..metrics.features import as_image_batch

    try:
        return as_image_batch(torch.from_numpy(np.ascontiguousarray(array)))
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..data import CLASS_NAMES
    from ..metrics.calibration import calibration_images
    from ..metrics.evaluate import evaluate_images, format_report
    from ..metrics.features import load_classifier

    if args.n < 10:
        raise ConfigError(f"bad value {args.n} for --n: must be at least 10")
    if (args.source is None) == (args.real is None):
        raise ConfigError("give either a run/checkpoint/samples file or --real SET, not both and not neither")
    if args.inception_weights and not Path(args.inception_weights).is_file():
        raise ConfigError(f"Inception weights file not found: {args.inception_weights} (nothing is downloaded)")
    extractor = load_classifier(args.classifier) if args.classifier else load_classifier()
    if args.real is not None:
        images = calibration_images(args.real, args.n, data_dir=args.data_dir)
        source = f"calibration set {args.real}"
    else:
        images = load_source_images(args.source, args.n, seed=args.seed, device=args.device)
        source = str(args.source)
    result = evaluate_images(images, real=args.against, n=args.n, extractor=extractor,
                             memorisation=not args.no_memorisation, data_dir=args.data_dir,
                             use_cache=not args.no_cache, threads=args.threads)
    result["source"] = source
    result["sample_seed"] = args.seed if args.real is None else None
    if args.inception_weights:
        from ..data import load_split
        from ..metrics.inception import inception_fid

        real = load_split("fashion-mnist", args.against, args.data_dir).as_float()[:len(images)]
        result["inception_fid"] = inception_fid(images[:args.n], real, args.inception_weights)
    print(f"source: {source}")
    print(format_report(result, CLASS_NAMES["fashion-mnist"]))
    if "inception_fid" in result:
        print(f"Inception FID (local weights {args.inception_weights}): {result['inception_fid']:.3f}")
    if args.json:
        from ..files import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
        print(f"Wrote {args.json}")
    return 0


def register(subparsers) -> None:
    """Add ``evaluate`` to the ``gan-atelier`` command."""
    p = subparsers.add_parser(
        "evaluate", help="score a generator with classifier FID, KID, P/R, D/C, class and memorisation metrics",
        description="Score generated images against real Fashion-MNIST in the feature space of the "
                    "shipped classifier (FID-FMNIST-CNN v1; not Inception FID). See docs/metrics.md.")
    p.add_argument("source", nargs="?", help="a run folder, a .pt checkpoint, a .safetensors export or samples.npy")
    p.add_argument("--real", metavar="SET",
                   help="score a real calibration set instead: test, train, noise:S, blur:S, class:C, uniform")
    p.add_argument("--against", default="test", choices=("test", "train"),
                   help="the real split to compare with (default test)")
    p.add_argument("--n", type=int, default=10000, help="number of samples (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="noise seed when sampling a generator (default 0)")
    p.add_argument("--json", type=Path, help="also write the result as JSON to this file")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the generator samples")
    p.add_argument("--data-dir", help="folder holding the Fashion-MNIST IDX files")
    p.add_argument("--classifier", help="a classifier .pt from `classifier train` (default: the shipped one)")
    p.add_argument("--no-memorisation", action="store_true", help="skip the nearest-training-image check")
    p.add_argument("--no-cache", action="store_true", help="recompute the real statistics, cache nothing")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads for the metrics (default 1: same numbers everywhere; see docs/metrics.md)")
    p.add_argument("--inception-weights", metavar="FILE",
                   help="also compute Inception FID from this local file (needs torch-fidelity; never downloads)")
    p.set_defaults(func=cmd_evaluate)
