"""Final Q3: GAN against VAE of matched size, on the same data for the same epochs.

The VAE (Kingma & Welling 2014) maximises a lower bound on log p(x),
``ELBO(x) = E_q(z|x)[log p(x|z)] − KL(q(z|x) ‖ N(0, I))``, with a Bernoulli decoder: every pixel
is scored by a per-pixel likelihood, so where the decoder is unsure between "ink here" and "ink
one pixel over" the best it can do is predict the average, i.e. a blur. The GAN's G is scored
only by D, which rejects blurry images outright, so its samples are sharper; but a GAN has no
encoder (no way to map an image to its z), no likelihood, and nothing forcing it to cover every
mode of the data.

Measured here: grids (GAN samples, VAE samples from the prior, VAE reconstructions of test
images), the metrics table (classifier FID, precision, recall, coverage), sharpness as the
variance of the Laplacian, the VAE's bound on the test set (nats per image and bits per pixel)
and what it costs per epoch. The VAE's decoder *is* the TP's generator and its encoder mirrors
the TP's discriminator, so both models have about the same number of parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..losses import bernoulli_reconstruction, gaussian_kl
from ..models import count_parameters
from ..training import LoopHooks
from ..viz import save_grids_figure
from .context import LabContext, sample_images
from .recording import StepCpuClock
from .report import LabResult, fmt, markdown_table, metrics_notes, score

NAME, QUESTION = "vae", "final Q3"
SETTINGS = {  # gan: overrides of the GAN's training (the VAE uses the project's vae preset)
    "full": {"subset": 0, "epochs": 50, "gan": {}},
    # A few epochs on a subset leave the TP's lr 2e-4 GAN in its noise stage (samples are
    # speckled blobs, no garments yet), which would compare the VAE with an unfinished GAN;
    # lr 1e-3 (same β1 0.5) reaches garment-like samples in this budget (see the lab's
    # learning-rate experiment).
    "quick": {"subset": 12000, "epochs": 10, "gan": {"train.lr": 1e-3}},
    "tiny": {"subset": 256, "epochs": 2, "gan": {"train.lr": 1e-3}},
}
LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_variance(images: torch.Tensor) -> torch.Tensor:
    """Sharpness of each image ``(N, 1, H, W)``: the variance of its 3×3 Laplacian (valid region).

    Var(∇²I) with ∇² = [[0, 1, 0], [1, −4, 1], [0, 1, 0]] (Pech-Pacheco et al. 2000): 0 for a
    constant or linear image, large for crisp edges; blur lowers it. Returns ``(N,)``.
    """
    response = F.conv2d(images.float(), LAPLACIAN.view(1, 1, 3, 3).to(images.device))  # (N, 1, H-2, W-2)
    return response.flatten(1).var(dim=1, unbiased=False)


@torch.no_grad()
def negative_elbo(vae, images: torch.Tensor, seed: int = 0, batch_size: int = 1000) -> dict[str, float]:
    """The VAE's −ELBO on ``images`` (N, 1, 28, 28) in [0, 1]: nats per image and bits per pixel.

    −ELBO(x) = −log p(x|z) + KL(q(z|x) ‖ N(0, I)) with one z ~ q(z|x) per image (an unbiased
    estimate of the bound), Bernoulli likelihood on the [0, 1] intensities (as trained);
    bits per pixel = nats / (784 · ln 2). A lower bound on log p(x) means −ELBO ≥ −log p(x).
    """
    rng = torch.Generator().manual_seed(seed)
    total_reconstruction = total_kl = 0.0
    vae.eval()
    for start in range(0, images.shape[0], batch_size):
        batch = images[start:start + batch_size]
        mean, log_var = vae.encode(batch)
        z = mean + torch.randn(mean.shape, generator=rng).to(mean.device) * torch.exp(0.5 * log_var)
        logits = vae.decode_logits(z)
        total_reconstruction += float(bernoulli_reconstruction(logits, batch)) * batch.shape[0]
        total_kl += float(gaussian_kl(mean, log_var)) * batch.shape[0]
    count = images.shape[0]
    nats = (total_reconstruction + total_kl) / count
    pixels = images[0].numel()
    return {"nats_per_image": nats, "bits_per_pixel": nats / (pixels * math.log(2)),
            "reconstruction_nats": total_reconstruction / count, "kl_nats": total_kl / count}


@torch.no_grad()
def reconstruct(vae, images: torch.Tensor) -> torch.Tensor:
    """The decoder's mean image at the encoder's mean: x̂ = σ(decoder(μ(x))), ``(N, 1, 28, 28)``."""
    vae.eval()
    mean, _ = vae.encode(images)
    return torch.sigmoid(vae.decode_logits(mean)).view_as(images)


def run(context: LabContext) -> LabResult:
    settings = context.pick(SETTINGS)
    out = context.out_dir
    data = context.data(settings["subset"])
    common = {"train.epochs": settings["epochs"], "data.subset": settings["subset"],
              "train.sample_every": max(1, settings["epochs"] // 4)}
    clocks = {"GAN": StepCpuClock()}
    gan = context.train("gan", context.config({**common, **settings["gan"]}), data,
                        LoopHooks(on_step=[clocks["GAN"]]))
    clocks["VAE"] = StepCpuClock()
    vae = context.train("vae", context.config(common, preset="vae"), data, LoopHooks(on_step=[clocks["VAE"]]))

    test = context.test_data(context.eval_samples).as_float()[:context.eval_samples]
    samples = {"GAN": sample_images(gan, context.eval_samples), "VAE": sample_images(vae, context.eval_samples)}
    reconstructions = reconstruct(vae.generator.cpu(), test)
    bound = negative_elbo(vae.generator, test, seed=context.seed)
    sets = {"real test images": test, **samples, "VAE reconstructions": reconstructions}
    sharpness = {name: float(laplacian_variance(images).mean()) for name, images in sets.items()}
    scores = {name: score(images, context) or {} for name, images in sets.items() if name != "real test images"}
    parameters = {
        "GAN": {"generator": count_parameters(gan.trainer.generator),
                "discriminator": count_parameters(gan.trainer.discriminator)},
        "VAE": {"decoder": count_parameters(vae.trainer.generator.decoder),
                "encoder": count_parameters(vae.trainer.generator.encoder)},
    }
    seconds = {name: clock.per_epoch for name, clock in clocks.items()}  # CPU seconds per epoch
    numbers = {"sharpness": sharpness, "scores": {k: _headline(v) for k, v in scores.items()},
               "vae_test_bound": bound, "parameters": parameters, "cpu_seconds_per_epoch": seconds,
               "epochs": settings["epochs"], "images": len(data)}

    figures = [save_grids_figure({"GAN samples": samples["GAN"][:64], "VAE samples (prior)": samples["VAE"][:64],
                                  "test images": test[:64], "VAE reconstructions": reconstructions[:64]},
                                 out / "grids.png", title=f"after {settings['epochs']} epochs")]
    header = ["images", "sharpness (Var ∇²)", "FID", "precision", "recall", "coverage"]
    rows = [[name, sharpness[name], *[scores.get(name, {}).get(k, float("nan"))
                                      for k in ("fid", "precision", "recall", "coverage")]] for name in sets]
    evidence = [
        f"Sharpness (variance of the Laplacian, real test images {fmt(sharpness['real test images'])}): "
        f"GAN samples {fmt(sharpness['GAN'])}, VAE samples {fmt(sharpness['VAE'])}, VAE "
        f"reconstructions {fmt(sharpness['VAE reconstructions'])}: {_sharper(sharpness)}"
        f"{_gan_setting(settings)}.",
        _metrics_sentence(scores),
        f"In exchange the VAE encodes: it reconstructs test images it never saw (right grid) and bounds "
        f"their likelihood, −ELBO = {bound['nats_per_image']:.1f} nats per image "
        f"({bound['bits_per_pixel']:.3f} bits per pixel; KL {bound['kl_nats']:.1f}), which the GAN "
        f"cannot give; sizes {parameters['GAN']['generator'] + parameters['GAN']['discriminator']:,} (G+D) vs "
        f"{parameters['VAE']['decoder'] + parameters['VAE']['encoder']:,} (decoder+encoder) parameters, "
        f"{fmt(seconds['GAN'])} vs {fmt(seconds['VAE'])} CPU seconds per epoch.",
    ]
    return LabResult(NAME, QUESTION, out, context.scale, [s for s in evidence if s], numbers, figures,
                     [gan.run_dir, vae.run_dir], notes=metrics_notes(context),
                     table=markdown_table(header, rows)).write()


def _sharper(sharpness: dict) -> str:
    """Each model's sharpness as a multiple of the real images' (below 1: blurrier than real)."""
    real = max(sharpness["real test images"], 1e-12)
    gan, vae = sharpness["GAN"] / real, sharpness["VAE"] / real
    words = ", ".join(f"{name} {ratio:.2g}× the real images'" for name, ratio in (("GAN", gan), ("VAE", vae)))
    closer = "GAN" if abs(math.log(max(gan, 1e-12))) < abs(math.log(max(vae, 1e-12))) else "VAE"
    return f"{words} ({closer} closer to real)"


def _gan_setting(settings: dict) -> str:
    if not settings["gan"]:
        return ""
    changes = ", ".join(f"{k.split('.')[-1]} {v:g}" for k, v in settings["gan"].items())
    return f" (GAN trained with {changes} to get past its noise stage in this budget)"


def _headline(result: dict) -> dict:
    keys = ("fid", "precision", "recall", "density", "coverage", "class_entropy", "classes_covered")
    return {k: result.get(k) for k in keys}


def _metrics_sentence(scores: dict) -> str:
    if not scores.get("GAN") or not scores.get("VAE"):
        return ""
    gan, vae = scores["GAN"], scores["VAE"]
    return (f"Classifier metrics, GAN vs VAE samples: FID {fmt(gan['fid'])} vs {fmt(vae['fid'])}, "
            f"precision {fmt(gan['precision'])} vs {fmt(vae['precision'])}, recall {fmt(gan['recall'])} "
            f"vs {fmt(vae['recall'])}, coverage {fmt(gan['coverage'])} vs {fmt(vae['coverage'])}.")
