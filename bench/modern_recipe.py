"""Tune the `modern` recipe with short standalone runs (one thread, a CPU-time budget).

Usage::

    python bench/modern_recipe.py --time-steps 30 --g-channels 32 --d-channels 32   # ms per step
    python bench/modern_recipe.py --cpu-budget 300 --out runs/recipe/a.json          # train + score

A self-contained training loop built from the project's ingredients (the `rpgan` loss pair,
``regularizers`` R1/R2, ``schedules`` cosine and EMA half-life, ``models.modern``, or the DCGAN
networks for comparison), the project's data loading (``gan_atelier.data``) and metrics
(``gan_atelier.metrics.evaluate_images``: classifier FID, precision, recall on ``--samples``
generated images against the first as many test images, ``inference.sample``'s noise with seed 0).
Training stops after ``--steps`` G steps or when the process CPU time spent training exceeds
``--cpu-budget`` seconds (evaluation is not counted). The cosine schedules run over ``--steps``.
Writes one JSON line per run (the arguments, CPU seconds, steps, metrics of G and of its EMA).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import torch

from gan_atelier.inference import sample
from gan_atelier.data import load_split
from gan_atelier.losses import get_loss_pair
from gan_atelier.metrics.evaluate import evaluate_images
from gan_atelier.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_atelier.regularizers import gradient_squared_norms
from gan_atelier.schedules import cosine, ema_decay
from gan_atelier.speed import make_adam


def build(args):
    if args.arch == "dcgan-nonorm":  # = the `modern` preset's networks (model.name=dcgan, model.d_norm=none)
        generator = DCGANGenerator(args.latent_dim, args.g_channels)
        discriminator = DCGANDiscriminator(args.d_channels, norm="none")
        if args.d_init == "torch":  # PyTorch's default (Kaiming-uniform) instead of DCGAN's N(0, 0.02)
            for layer in discriminator.modules():
                if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
                    layer.reset_parameters()
        return generator, discriminator
    raise SystemExit(f"unknown arch {args.arch!r}")


class Recipe:
    """G, D, their optimizers, the EMA copy and one training step with R1/R2 and schedules."""

    def __init__(self, args, images: torch.Tensor):
        self.args = args
        torch.manual_seed(args.seed)
        self.generator, self.discriminator = build(args)
        betas = (args.beta1, args.beta2)
        cpu = torch.device("cpu")
        self.optimizer_g = make_adam(self.generator.parameters(), args.lr_g, betas, cpu)
        self.optimizer_d = make_adam(self.discriminator.parameters(), args.lr_d, betas, cpu)
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.pair = get_loss_pair(args.loss)
        self.images = images  # (N, 784) uint8
        self.data_rng = torch.Generator().manual_seed(args.seed + 1)
        self.noise_rng = torch.Generator().manual_seed(args.seed + 2)
        self.autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16")
        self.step = 0
        self.images_seen = 0
        self.permutation, self.position = None, 0

    def batch(self) -> torch.Tensor:
        size = self.args.batch_size
        if self.permutation is None or self.position + size > len(self.images):
            self.permutation, self.position = torch.randperm(len(self.images), generator=self.data_rng), 0
        indices = self.permutation[self.position:self.position + size]
        self.position += size
        return self.images[indices].float().div_(255.0).view(-1, 1, 28, 28)

    def schedule(self):
        a, total = self.args, self.args.steps
        lr_scale = cosine(1.0, a.lr_end_ratio, self.step, total) if a.cosine else 1.0
        gamma_scale = cosine(1.0, a.gamma_end_ratio, self.step, total) if a.cosine else 1.0
        for optimizer, lr in ((self.optimizer_g, a.lr_g), (self.optimizer_d, a.lr_d)):
            for group in optimizer.param_groups:
                group["lr"] = lr * lr_scale
        if self.step % a.r_every:  # lazy regularisation (StyleGAN2): every r_every steps, weight × r_every
            return 0.0, 0.0
        return a.r1 * gamma_scale * a.r_every, a.r2 * gamma_scale * a.r_every

    def train_step(self) -> dict:
        a = self.args
        gamma_r1, gamma_r2 = self.schedule()
        real = self.batch()
        batch = real.shape[0]
        z = torch.randn(batch, a.latent_dim, generator=self.noise_rng)
        with self.autocast:
            fake = self.generator(z).view_as(real)
        # ---- D step: loss + (γ1/2) R1 + (γ2/2) R2 from one forward on cat([real, fake])
        real_in = real.requires_grad_(gamma_r1 > 0)
        fake_in = fake.detach().float().requires_grad_(gamma_r2 > 0)
        with self.autocast:
            logits = self.discriminator(torch.cat([real_in, fake_in])).float()  # (2B, 1)
        real_logits, fake_logits = logits[:batch], logits[batch:]
        d_loss = self.pair.d_loss(real_logits, fake_logits)
        penalised = [(g, x) for g, x in ((gamma_r1, real_in), (gamma_r2, fake_in)) if g > 0]
        if penalised:
            norms = gradient_squared_norms(logits, [x for _, x in penalised])
            d_loss = d_loss + sum(0.5 * g * n for (g, _), n in zip(penalised, norms))
        self.optimizer_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizer_d.step()
        # ---- G step on the same fakes; relativistic pairs use the D step's real logits
        self.discriminator.requires_grad_(False)
        with self.autocast:
            g_logits = self.discriminator(fake).float()
        g_loss = self.pair.generator_loss(g_logits, real_logits.detach())
        self.optimizer_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizer_g.step()
        self.discriminator.requires_grad_(True)
        self.step += 1
        self.images_seen += batch
        self.update_ema()
        return {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach())}

    @torch.no_grad()
    def update_ema(self) -> None:
        a = self.args
        decay = ema_decay(a.batch_size, a.ema_half_life, self.images_seen, a.ema_ramp) if a.ema_half_life else 0.0
        for ema_param, param in zip(self.ema.parameters(), self.generator.parameters()):
            ema_param.lerp_(param, 1.0 - decay)
        for ema_buffer, buffer in zip(self.ema.buffers(), self.generator.buffers()):
            ema_buffer.copy_(buffer)


def score(generator, samples: int) -> dict:
    generator.eval()
    images = sample(generator, samples, seed=0)
    result = evaluate_images(images, n=samples, memorisation=False, kid_subsets=10)
    keys = ("fid", "precision", "recall", "density", "coverage", "classes_covered", "min_class_share")
    return {k: round(float(result[k]), 4) for k in keys}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="dcgan-nonorm", choices=["dcgan-nonorm"])
    p.add_argument("--g-channels", type=int, default=32)
    p.add_argument("--d-channels", type=int, default=32)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--d-init", default="dcgan", choices=["dcgan", "torch"], help="D's initialisation")
    p.add_argument("--loss", default="rpgan")
    p.add_argument("--r1", type=float, default=0.1, help="γ of R1 (pixels in [0, 1])")
    p.add_argument("--r2", type=float, default=0.1, help="γ of R2")
    p.add_argument("--r-every", type=int, default=1, help="lazy R1/R2: every k D steps, γ × k")
    p.add_argument("--gamma-end-ratio", type=float, default=0.1)
    p.add_argument("--lr-g", type=float, default=2e-4)
    p.add_argument("--lr-d", type=float, default=2e-4)
    p.add_argument("--lr-end-ratio", type=float, default=0.25)
    p.add_argument("--cosine", type=int, default=1)
    p.add_argument("--beta1", type=float, default=0.0)
    p.add_argument("--beta2", type=float, default=0.99)
    p.add_argument("--ema-half-life", type=float, default=10000, help="images; 0 = EMA off (copy of G)")
    p.add_argument("--ema-ramp", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--steps", type=int, default=4000, help="G steps (the cosine schedules' length)")
    p.add_argument("--cpu-budget", type=float, default=0.0, help="stop after this many CPU s (0 = none)")
    p.add_argument("--time-steps", type=int, default=0, help="only time this many steps (after 5 warm-up)")
    p.add_argument("--eval-at", type=int, nargs="*", default=[], help="also score at these steps")
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="")
    p.add_argument("--grid", default="")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    split = load_split("fashion-mnist", "train")
    recipe = Recipe(args, split.images.reshape(len(split), -1))
    if args.time_steps:
        for _ in range(5):
            recipe.train_step()
        started = time.process_time()
        for _ in range(args.time_steps):
            recipe.train_step()
        ms = 1000 * (time.process_time() - started) / args.time_steps
        print(json.dumps({"arch": args.arch, "g": args.g_channels, "d": args.d_channels, "r1": args.r1,
                          "r2": args.r2, "precision": args.precision, "ms_per_step": round(ms, 1)}))
        return 0
    record = {"args": vars(args), "evals": []}
    cpu, last = 0.0, {}
    while recipe.step < args.steps and not (args.cpu_budget and cpu >= args.cpu_budget):
        started = time.process_time()
        last = recipe.train_step()
        cpu += time.process_time() - started
        if not all(math.isfinite(v) for v in last.values()):
            record["diverged_at"] = recipe.step
            break
        if recipe.step % 500 == 0:
            print(json.dumps({"step": recipe.step, "cpu_s": round(cpu, 1), **last}), flush=True)
        if recipe.step in args.eval_at:
            entry = {"step": recipe.step, "cpu_s": round(cpu, 1), "ema": score(recipe.ema, args.samples)}
            record["evals"].append(entry)
            print(json.dumps(entry), flush=True)
    record.update(steps=recipe.step, epochs=round(recipe.images_seen / len(split), 2), train_cpu_s=round(cpu, 1),
                  last=last, generator=score(recipe.generator, args.samples), ema=score(recipe.ema, args.samples))
    print(json.dumps({k: record[k] for k in ("steps", "epochs", "train_cpu_s", "generator", "ema")}), flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as file:
            file.write(json.dumps(record) + "\n")
        torch.save({"generator": recipe.generator.state_dict(), "ema": recipe.ema.state_dict(), "args": vars(args)},
                   Path(args.out).with_suffix(f".s{args.seed}.pt"))
    if args.grid:
        from gan_atelier.viz import save_grid
        save_grid(sample(recipe.ema, 64, seed=0), args.grid, nrow=8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
