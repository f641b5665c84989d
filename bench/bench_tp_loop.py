"""The TP's own training loop against gan-atelier's Trainer, same process, alternating.

Usage::

    python bench/bench_tp_loop.py                       # fp32, 5 repetitions of 100 steps each
    python bench/bench_tp_loop.py --precision bf16      # the Trainer under bf16 autocast
    python bench/bench_tp_loop.py --threads 1 --steps 60 --repeats 7

The baseline is a faithful copy of the TP notebook (``shared/seed/tp_mlp_gan.md``, §II–III),
without torchvision: a ``Dataset`` whose ``__getitem__`` does what torchvision's
``FashionMNIST.__getitem__`` + ``ToTensor`` do for every sample (``PIL.Image.fromarray`` of the
uint8 28×28 array, then ``np.array`` → ``(1, 28, 28)`` → ``float() / 255``), a
``DataLoader(batch_size=128, shuffle=True)`` with no workers, and the TP's step verbatim (two D
forwards, ``nn.BCEWithLogitsLoss()``, ``.detach()``, the fake batch re-used for G, ``.item()``
on both losses every step). ``--no-pil`` drops the PIL round trip (a faster, stricter baseline).

The candidate is :class:`gan_atelier.training.Trainer` on the ``seed`` preset (the TP's math).

Both run the same number of steps per block, blocks alternate TP / Trainer, and each block
reports steps/s by wall clock and by process CPU time (CPU time is the steadier figure on
a machine shared with other jobs). The script also measures this machine's GEMM throughput on
exactly the matrix products of one step (fp32 and bf16) and prints the fraction of that
matmul-only ceiling each loop reaches.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from gan_atelier.config import get_config
from gan_atelier.data import load_split
from gan_atelier.training import Trainer

IMAGE_SIZE = 28 * 28
LATENT_DIM = 100
BATCH_SIZE = 128


# ----------------------------------------------------------------------------- the TP, verbatim
class TPFashionMNIST(Dataset):
    """torchvision's ``FashionMNIST`` with ``transform=ToTensor()``, per sample, without torchvision."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pil: bool = True):
        self.data, self.targets, self.pil = images, labels, pil  # (N, 28, 28) uint8, (N,) int64

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        img, target = self.data[index], int(self.targets[index])
        if self.pil:  # torchvision MNIST.__getitem__: "return a PIL Image"
            img = Image.fromarray(img.numpy(), mode="L")
            # ToTensor (torchvision.transforms.functional.to_tensor, PIL branch)
            img = torch.from_numpy(np.array(img, np.uint8, copy=True))
        img = img.view(28, 28, 1).permute((2, 0, 1)).contiguous()
        return img.to(dtype=torch.get_default_dtype()).div(255), target


class Generator(nn.Module):
    def __init__(self, latent_dim, img_dim):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(latent_dim, 256), nn.LeakyReLU(0.2),
            nn.Linear(256, 512), nn.LeakyReLU(0.2),
            nn.Linear(512, 1024), nn.LeakyReLU(0.2),
            nn.Linear(1024, img_dim), nn.Sigmoid(),
        )

    def forward(self, z):
        return self.model(z)


class Discriminator(nn.Module):
    def __init__(self, img_dim):
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(img_dim, 1024), nn.LeakyReLU(0.2), nn.Dropout(0.3),
            nn.Linear(1024, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
            nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3),
            nn.Linear(256, 1),
        )

    def forward(self, x):
        return self.model(x)


class TPLoop:
    """The TP's ``train_gan`` inner loop, runnable a block of steps at a time."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, pil: bool, device="cpu"):
        self.device = device
        self.dataloader = DataLoader(TPFashionMNIST(images, labels, pil), batch_size=BATCH_SIZE, shuffle=True)
        self.G = Generator(LATENT_DIM, IMAGE_SIZE).to(device)
        self.D = Discriminator(IMAGE_SIZE).to(device)
        self.G_optimizer = torch.optim.Adam(self.G.parameters(), lr=0.0002, betas=(0.5, 0.999))
        self.D_optimizer = torch.optim.Adam(self.D.parameters(), lr=0.0002, betas=(0.5, 0.999))
        self.criterion = nn.BCEWithLogitsLoss()
        self.G.train(); self.D.train()
        self.iterator = iter(self.dataloader)
        self.D_loss_total = self.G_loss_total = 0.0

    def next_batch(self):
        try:
            return next(self.iterator)
        except StopIteration:  # a new epoch (the TP's `for epoch in trange(epochs)`)
            self.iterator = iter(self.dataloader)
            self.D_loss_total = self.G_loss_total = 0.0
            return next(self.iterator)

    def run(self, steps: int) -> None:
        G, D, criterion, device = self.G, self.D, self.criterion, self.device
        for _ in range(steps):
            real_images, _ = self.next_batch()
            real_images = real_images.view(-1, IMAGE_SIZE).to(device)
            current_batch_size = real_images.size(0)
            real_labels = torch.ones(current_batch_size, 1, device=device)
            fake_labels = torch.zeros(current_batch_size, 1, device=device)

            self.D_optimizer.zero_grad()
            D_real_pred = D(real_images)
            D_real_loss = criterion(D_real_pred, real_labels)
            noise = torch.randn(current_batch_size, LATENT_DIM, device=device)
            fake_images = G(noise)
            D_fake_pred = D(fake_images.detach())
            D_fake_loss = criterion(D_fake_pred, fake_labels)
            D_loss = D_real_loss + D_fake_loss
            D_loss.backward()
            self.D_optimizer.step()
            self.D_loss_total += D_loss.item()

            self.G_optimizer.zero_grad()
            G_pred = D(fake_images)
            G_loss = criterion(G_pred, real_labels)
            G_loss.backward()
            self.G_optimizer.step()
            self.G_loss_total += G_loss.item()


class TrainerLoop:
    """gan-atelier's Trainer, stepped the way ``run_loop`` steps it (epochs closed as they end)."""

    def __init__(self, split, precision: str, device="cpu", overrides=()):
        config = get_config("seed", [f"train.precision={precision}", *overrides])
        self.trainer = Trainer(config, split, device)

    def run(self, steps: int) -> None:
        trainer = self.trainer
        for _ in range(steps):
            trainer.train_step()
            if trainer.epoch_done():
                trainer.finish_epoch()


# ----------------------------------------------------------------------------- the GEMM ceiling
G_LAYERS = [(LATENT_DIM, 256), (256, 512), (512, 1024), (1024, IMAGE_SIZE)]  # (in, out)
D_LAYERS = [(IMAGE_SIZE, 1024), (1024, 512), (512, 256), (256, 1)]


def step_gemms(batch: int = BATCH_SIZE) -> list[tuple[int, int, int]]:
    """The (M, K, N) matrix products of one Trainer step (the TP's math, minimal form).

    A Linear (in → out) on M rows costs a forward (M, in)·(in, out), an input gradient
    (M, out)·(out, in) and a weight gradient (out, M)·(M, in). One step = G forward (B);
    D forward on real+fake (2B) and its backward (weight grads; input grads except the first
    layer, whose input needs none); D forward on the fakes (B) and backward to the images
    (input grads only, D is frozen); G backward (weight grads; input grads except the first).
    """
    gemms = []
    fwd = lambda m, layers: [(m, i, o) for i, o in layers]
    dinput = lambda m, layers: [(m, o, i) for i, o in layers]
    dweight = lambda m, layers: [(o, m, i) for i, o in layers]
    gemms += fwd(batch, G_LAYERS)
    gemms += fwd(2 * batch, D_LAYERS) + dweight(2 * batch, D_LAYERS) + dinput(2 * batch, D_LAYERS[1:])
    gemms += fwd(batch, D_LAYERS) + dinput(batch, D_LAYERS)
    gemms += dweight(batch, G_LAYERS) + dinput(batch, G_LAYERS[1:])
    return gemms


def tp_step_flops(batch: int = BATCH_SIZE) -> int:
    """FLOPs of the TP's step as written: as above, plus D's weight gradients during G's backward."""
    extra = sum(2 * o * batch * i for i, o in D_LAYERS)
    return sum(2 * m * k * n for m, k, n in step_gemms(batch)) + extra


def gemm_ceiling(dtype: torch.dtype, repeats: int = 30) -> tuple[float, float]:
    """(wall, CPU) seconds per step of the step's GEMMs alone on this machine, each the best of ``repeats``.

    The CPU-time figure is the steady one on a shared machine (a descheduled process accrues
    none); with one thread it is the single-core ceiling.
    """
    operands = [(torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)) for m, k, n in step_gemms()]
    for a, b in operands:  # warm-up (oneDNN / MKL kernel selection)
        torch.mm(a, b)
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for a, b in operands:
            torch.mm(a, b)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


# ----------------------------------------------------------------------------- the benchmark
def timed(loop, steps: int) -> tuple[float, float]:
    """(wall steps/s, CPU-time steps/s) for one block."""
    wall, cpu = time.perf_counter(), time.process_time()
    loop.run(steps)
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="the Trainer's precision")
    parser.add_argument("--steps", type=int, default=100, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="alternating block pairs")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps of each loop first")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = PyTorch's default)")
    parser.add_argument("--no-pil", action="store_true", help="baseline without the per-sample PIL round trip")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="extra config override for the Trainer (e.g. train.batch_size=256)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    split = load_split("fashion-mnist", "train")
    tp = TPLoop(split.images, split.labels, pil=not args.no_pil)
    candidate = TrainerLoop(split, args.precision, overrides=args.overrides)
    if args.threads:  # the Trainer may set threads from its config; keep the requested count
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"baseline {'TP + PIL/ToTensor' if not args.no_pil else 'TP, tensor-only Dataset'}, "
          f"Trainer {args.precision}, {args.repeats} × {args.steps} steps per loop")
    tp.run(args.warmup)
    candidate.run(args.warmup)

    rows = []
    for repeat in range(args.repeats):
        tp_wall, tp_cpu = timed(tp, args.steps)
        ours_wall, ours_cpu = timed(candidate, args.steps)
        rows.append((tp_wall, tp_cpu, ours_wall, ours_cpu))
        print(f"  rep {repeat + 1}: TP {tp_wall:6.1f} steps/s (cpu {tp_cpu:6.1f})  |  "
              f"Trainer {ours_wall:6.1f} steps/s (cpu {ours_cpu:6.1f})  |  "
              f"ratio wall {ours_wall / tp_wall:4.2f}, cpu {ours_cpu / tp_cpu:4.2f}", flush=True)

    median = lambda values: statistics.median(values)
    tp_wall, tp_cpu, ours_wall, ours_cpu = (median([r[i] for r in rows]) for i in range(4))
    ratio_wall = median([r[2] / r[0] for r in rows])
    ratio_cpu = median([r[3] / r[1] for r in rows])
    print(f"median TP {tp_wall:.1f} steps/s (cpu {tp_cpu:.1f}), Trainer {ours_wall:.1f} steps/s (cpu {ours_cpu:.1f})")
    print(f"median ratio Trainer/TP: wall {ratio_wall:.2f}x, cpu-time {ratio_cpu:.2f}x "
          f"(spread of per-pair wall ratios {min(r[2] / r[0] for r in rows):.2f}–{max(r[2] / r[0] for r in rows):.2f})")

    flops = sum(2 * m * k * n for m, k, n in step_gemms())
    print(f"GEMM FLOPs per step: {flops / 1e9:.2f} GFLOP (the TP as written: {tp_step_flops() / 1e9:.2f})")
    for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        wall_seconds, cpu_seconds = gemm_ceiling(dtype)
        print(f"{name} GEMM ceiling (matmuls of one step, alone): {flops / cpu_seconds / 1e9:.0f} GFLOP/s by CPU "
              f"time → {1 / cpu_seconds:.1f} steps/s; TP reaches {tp_cpu * cpu_seconds:.0%} of it, Trainer "
              f"{ours_cpu * cpu_seconds:.0%} (by wall: {flops / wall_seconds / 1e9:.0f} GFLOP/s, TP "
              f"{tp_wall * wall_seconds:.0%}, Trainer {ours_wall * wall_seconds:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
