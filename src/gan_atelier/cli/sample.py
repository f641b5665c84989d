"""``gan-atelier sample``: a grid (.png) or raw samples (.npy) from a trained generator."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError


def cmd_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from ..files import atomic_write_bytes
    from ..inference import load_generator, sample
    from ..viz import save_grid

    if args.scale < 1:
        raise ConfigError(f"bad value {args.scale} for --scale: must be >= 1")
    generator = load_generator(args.run, device=args.device or "cpu")
    if args.class_index is not None and not generator.conditional:
        raise ConfigError("--class needs a conditional generator (preset cgan)")
    if args.class_index is not None and not 0 <= args.class_index <= 9:
        raise ConfigError(f"bad value {args.class_index} for --class: must be in 0..9")
    if args.grid_by_class:
        if not generator.conditional:
            raise ConfigError("--grid-by-class needs a conditional generator (preset cgan)")
        import torch

        labels = torch.arange(10).repeat_interleave(10)
        images = sample(generator, 100, seed=args.seed, labels=labels, truncation=args.truncation)
        save_grid(images, args.out, nrow=10, scale=args.scale)
        print(f"Wrote a 10×10 grid (one row per class) to {args.out}")
        return 0
    images = sample(generator, args.n, seed=args.seed, labels=args.class_index, truncation=args.truncation)
    out = Path(args.out)
    if out.suffix == ".npy":
        array = images[:, 0].numpy().astype(np.float32)
        atomic_write_bytes(out, lambda file: np.save(file, array))
        print(f"Wrote {args.n} samples {array.shape} float32 in [0, 1] to {out}")
    elif out.suffix == ".png":
        save_grid(images, out, nrow=args.nrow, scale=args.scale)
        print(f"Wrote a grid of {args.n} samples to {out}")
    else:
        raise ConfigError(f"--out must end in .png (a grid) or .npy (raw samples), got {out.name!r}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("sample", help="draw samples from a trained generator")
    p.add_argument("run", help="a run folder, a .pt checkpoint, a .safetensors export or a model folder (export --hub)")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--out", required=True, help="grid.png or samples.npy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nrow", type=int, default=8, help="images per grid row")
    p.add_argument("--scale", type=int, default=4, help="grid enlarged N times, nearest neighbour (1 = exact tiles)")
    p.add_argument("--class", dest="class_index", type=int, help="class to draw (conditional models)")
    p.add_argument("--grid-by-class", action="store_true", help="a 10×10 grid, one row per class (cgan)")
    p.add_argument("--truncation", type=float, metavar="T",
                   help="truncated latent: redraw every component |z_k| > T (BigGAN's trick; default off)")
    p.add_argument("--device", choices=("cpu", "cuda"))
    p.set_defaults(func=cmd_sample)
