"""Final Q4: the TP's MLP-GAN against a DCGAN (Radford, Metz & Chintala 2016) on the same data.

DCGAN replaces the Linear layers with convolutions: transposed (fractionally strided)
convolutions in G, strided convolutions in D, BatchNorm, no pooling. A convolution applies the
same small filter at every position, so it (1) knows that neighbouring pixels belong together
(locality), (2) detects an edge or a texture wherever it appears (translation equivariance), and
(3) needs far fewer weights than a Linear layer, whose every output sees every pixel with its
own weight. The MLP must learn each position separately; the DCGAN builds images from local
parts, which gives cleaner edges and shapes with fewer parameters.

Measured here: parameter counts, FLOPs per image, CPU seconds per epoch on this machine, classifier metrics and
grids after the same number of epochs.
"""

from __future__ import annotations

import torch

from ..models import count_parameters
from ..training import LoopHooks
from ..viz import save_grids_figure
from .context import LabContext, fixed_noise_images, sample_images
from .recording import StepCpuClock
from .report import LabResult, fmt, markdown_table, metrics_notes, score

NAME, QUESTION = "dcgan", "final Q4"
SETTINGS = {
    "full": {"subset": 0, "epochs": 10},
    "quick": {"subset": 12000, "epochs": 5},
    "tiny": {"subset": 256, "epochs": 2},
}
MODELS = {"mlp": ("MLP-GAN (the TP)", "seed"), "dcgan": ("DCGAN", "dcgan")}


def layer_parameters(module) -> list[tuple[str, str, int]]:
    """(name, layer type, parameter count) of each leaf layer that has parameters."""
    rows = []
    for name, layer in module.named_modules():
        own = sum(p.numel() for p in layer.parameters(recurse=False))
        if own and not list(layer.children()):
            rows.append((name, type(layer).__name__, own))
    return rows


def forward_flops(module, example) -> int:
    """FLOPs of one forward pass on ``example`` (PyTorch's FlopCounterMode: 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(example)
        return counter.get_total_flops()
    finally:
        module.train(was_training)


def run(context: LabContext) -> LabResult:
    settings = context.pick(SETTINGS)
    out = context.out_dir
    data = context.data(settings["subset"])
    runs, numbers, scores = {}, {"epochs": settings["epochs"], "images": len(data)}, {}
    for name, (label, preset) in MODELS.items():
        config = context.config({"train.epochs": settings["epochs"], "data.subset": settings["subset"],
                                 "train.sample_every": 1}, preset=preset)
        clock = StepCpuClock()
        runs[name] = run_ = context.train(name, config, data, LoopHooks(on_step=[clock]))
        scores[name] = score(sample_images(run_, context.eval_samples), context) or {}
        numbers[name] = {
            "generator_parameters": count_parameters(run_.trainer.generator),
            "discriminator_parameters": count_parameters(run_.trainer.discriminator),
            "cpu_seconds_per_epoch": clock.per_epoch,
            "wall_seconds_per_epoch": sorted(r["seconds"] for r in run_.history)[len(run_.history) // 2],
            "generator_flops_per_image": forward_flops(
                run_.trainer.generator, run_.trainer.fixed_noise[:1].to(run_.trainer.device)),
            "discriminator_flops_per_image": forward_flops(
                run_.trainer.discriminator, data.as_float()[:1].to(run_.trainer.device)),
            "largest_generator_layer": max(layer_parameters(run_.trainer.generator), key=lambda r: r[2]),
            **{k: scores[name].get(k) for k in ("fid", "precision", "recall", "coverage", "classes_covered")},
        }
    mlp, dcgan = numbers["mlp"], numbers["dcgan"]
    figures = [save_grids_figure({MODELS[n][0]: fixed_noise_images(runs[n]) for n in MODELS},
                                 out / "grids.png", title=f"fixed noise after {settings['epochs']} epochs")]
    header = ["model", "G parameters", "D parameters", "MFLOP / image (G+D)", "CPU s / epoch", "FID", "precision", "recall", "coverage"]
    rows = [[MODELS[n][0], f"{numbers[n]['generator_parameters']:,}", f"{numbers[n]['discriminator_parameters']:,}",
             _mflops(numbers[n]), numbers[n]["cpu_seconds_per_epoch"], *[scores[n].get(k, float("nan"))
                                                for k in ("fid", "precision", "recall", "coverage")]]
            for n in MODELS]
    evidence = [
        f"The DCGAN's G has {dcgan['generator_parameters']:,} parameters against the MLP's "
        f"{mlp['generator_parameters']:,} ({mlp['generator_parameters'] / dcgan['generator_parameters']:.1f}× fewer; "
        f"the MLP's largest layer alone, {mlp['largest_generator_layer'][0]}, holds "
        f"{mlp['largest_generator_layer'][2]:,}), and its D {dcgan['discriminator_parameters']:,} against "
        f"{mlp['discriminator_parameters']:,}.",
        f"A convolution reuses each weight at every position: one image through G and D costs "
        f"{_mflops(dcgan)} MFLOP for the DCGAN against {_mflops(mlp)} for the MLP, and an epoch took "
        f"{fmt(dcgan['cpu_seconds_per_epoch'])} s of CPU time against {fmt(mlp['cpu_seconds_per_epoch'])} s "
        f"here ({len(data):,} images, {runs['mlp'].trainer.device}, {torch.get_num_threads()} thread(s)).",
    ]
    if scores["mlp"] and scores["dcgan"]:
        evidence.append(
            f"After {settings['epochs']} epochs, classifier FID {fmt(dcgan['fid'])} (DCGAN) vs "
            f"{fmt(mlp['fid'])} (MLP), precision {fmt(dcgan['precision'])} vs {fmt(mlp['precision'])}, "
            f"recall {fmt(dcgan['recall'])} vs {fmt(mlp['recall'])}.")
    return LabResult(NAME, QUESTION, out, context.scale, evidence, numbers, figures,
                     [r.run_dir for r in runs.values()], notes=metrics_notes(context),
                     table=markdown_table(header, rows)).write()


def _mflops(entry: dict) -> str:
    return f"{(entry['generator_flops_per_image'] + entry['discriminator_flops_per_image']) / 1e6:.1f}"
