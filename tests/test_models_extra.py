"""Models beyond the TP (DCGAN, conditional GAN, VAE) and the training tricks, against their definitions.

Architectures: exact parameter counts (computed by hand in the comments), shapes, ranges, the
DCGAN init, norm layers by keyword. Tricks: spectral norm, one-sided label smoothing, separate
learning rates, k D-steps, EMA, the gradient penalty's effect. Every preset: a dry run.
"""

import json

import pytest
import torch
from torch import nn

import gan_atelier as api
from gan_atelier import config as cfg
from gan_atelier.data import synthetic_split
from gan_atelier.losses import LossPair, ns_d_loss, ns_g_loss
from gan_atelier.models import build_models, count_parameters, generate_images
from gan_atelier.models.conditional import ConditionalGenerator, ProjectionDiscriminator
from gan_atelier.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_atelier.objectives import discriminator_norm
from gan_atelier.models import BUILDERS
from gan_atelier.models.mlp import Generator
from gan_atelier.models.vae import VAE
from gan_atelier.training import Trainer


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Small models on a shared 2-core machine: one thread is faster and bitwise stable."""


def models_for(preset, **overrides):
    torch.manual_seed(0)
    return build_models(cfg.get_config(preset, overrides))


def make_trainer(preset, **overrides):
    config = cfg.get_config(preset, {"train.batch_size": 16, **overrides})
    return Trainer(config, synthetic_split(128, seed=0))  # 8 batches: the tests stay in epoch 1


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


# ---------------------------------------------------------------------------------- architectures
def test_registry_names_every_extra_model():
    assert set(BUILDERS) == {"dcgan", "cgan", "vae"}
    assert set(BUILDERS) | {"mlp"} == set(cfg.MODELS)


def test_dcgan_parameter_counts():
    # G: ConvT(100→64, 7×7, no bias) 313,600 + BN 128 + ConvT(64→32, 4×4, no bias) 32,768 + BN 64
    #    + ConvT(32→1, 4×4) 512 + 1  = 347,073
    assert count_parameters(DCGANGenerator(100)) == 347_073
    # D: Conv(1→32, 4×4) 512 + 32; Conv(32→64, 4×4, no bias) 32,768; norm 128; head 3,136 + 1 = 36,577
    assert count_parameters(DCGANDiscriminator(norm="batch")) == 36_577
    assert count_parameters(DCGANDiscriminator(norm="layer")) == 36_577  # GroupNorm(1, 64): 128
    assert count_parameters(DCGANDiscriminator(norm="none")) == 36_513  # conv bias 64 instead of norm 128


def test_cgan_and_vae_parameter_counts():
    # G: embedding 10×10 = 100 + the DCGAN G on 110 inputs (ConvT 110·64·49 = 344,960) → 378,533
    assert count_parameters(ConditionalGenerator(100)) == 378_533
    # D: the DCGAN D 36,577 + class projection 10 × 3,136 = 31,360 → 67,937
    assert count_parameters(ProjectionDiscriminator()) == 67_937
    # encoder 784·1024+1024 + 1024·512+512 + 512·256+256 + 256·200+200 = 1,511,368; decoder = the TP's G
    vae = VAE(100)
    assert count_parameters(vae.encoder) == 1_511_368
    assert count_parameters(vae.decoder) == count_parameters(Generator(100)) == 1_486_352
    assert count_parameters(vae) == 2_997_720


@pytest.mark.parametrize("preset", ["dcgan", "cgan", "wgan-gp", "vae"])
def test_generator_shapes_and_range(preset):
    generator, _ = models_for(preset)
    assert generator.latent_dim == 100
    z = torch.randn(12, 100) * 10  # large inputs still map into [0, 1]
    labels = torch.arange(12) % 10
    images = generate_images(generator, z, labels if generator.conditional else None)
    assert images.shape == (12, 1, 28, 28)
    assert images.min().item() >= 0.0 and images.max().item() <= 1.0
    assert generator.conditional == (preset == "cgan")


@pytest.mark.parametrize("preset", ["dcgan", "cgan", "wgan-gp"])
def test_discriminator_returns_one_logit_per_image(preset):
    _, discriminator = models_for(preset)
    x = torch.rand(12, 1, 28, 28)
    kwargs = {"labels": torch.arange(12) % 10} if discriminator.conditional else {}
    logits = discriminator(x, **kwargs)
    assert logits.shape == (12, 1)
    torch.testing.assert_close(discriminator(x.flatten(1), **kwargs), logits)  # (B, 784) accepted too
    last = list(discriminator.modules())[-1]
    assert not isinstance(last, nn.Sigmoid), "D returns logits; the loss owns the sigmoid"


def test_dcgan_layers_follow_the_paper():
    generator = DCGANGenerator(100)
    kinds = [type(m).__name__ for m in generator.model]
    assert kinds == ["ConvTranspose2d", "BatchNorm2d", "ReLU", "ConvTranspose2d", "BatchNorm2d", "ReLU",
                     "ConvTranspose2d", "Sigmoid"]
    discriminator = DCGANDiscriminator(norm="batch")
    convs = [m for m in discriminator.modules() if isinstance(m, nn.Conv2d)]
    assert all(m.stride == (2, 2) for m in convs), "strided convolutions, no pooling"
    assert not any(isinstance(m, nn.MaxPool2d) for m in discriminator.modules())
    assert isinstance(discriminator.features[1], nn.LeakyReLU), "no normalisation on D's first layer"
    assert all(m.negative_slope == 0.2 for m in discriminator.modules() if isinstance(m, nn.LeakyReLU))


@pytest.mark.parametrize("preset", ["dcgan", "cgan", "wgan-gp"])
def test_norm_layers_use_default_eps_and_momentum(preset):
    """The ``BatchNorm1d(n, 0.8)`` bug set eps = 0.8; ours are eps 1e-5, momentum 0.1."""
    for module in models_for(preset):
        for layer in module.modules():
            if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)):
                assert layer.eps == 1e-5
            if isinstance(layer, nn.BatchNorm2d):
                assert layer.momentum == 0.1


def test_dcgan_initialisation_statistics():
    """Conv weights ~ N(0, 0.02); BatchNorm weights ~ N(1, 0.02), biases 0 (Radford et al. §4)."""
    torch.manual_seed(0)
    generator = DCGANGenerator(100)
    big = generator.model[0].weight  # 313,600 values: sample std within ~0.3 % of 0.02
    assert abs(big.mean().item()) < 2e-4 and abs(big.std().item() - 0.02) < 2e-4
    batchnorm = generator.model[1]
    assert abs(batchnorm.weight.mean().item() - 1.0) < 0.01 and 0.01 < batchnorm.weight.std().item() < 0.03
    assert torch.equal(batchnorm.bias, torch.zeros_like(batchnorm.bias))
    discriminator = DCGANDiscriminator(norm="batch")
    assert abs(discriminator.features[2].weight.std().item() - 0.02) < 1e-3  # 32,768 values
    assert torch.equal(discriminator.head.bias, torch.zeros(1))


def test_discriminator_norm_follows_the_loss_and_spectral_norm():
    assert discriminator_norm("ns", False) == "batch"
    assert discriminator_norm("wgan-gp", False) == "layer"
    assert discriminator_norm("ns", True) == discriminator_norm("wgan-gp", True) == "none"
    _, critic = models_for("wgan-gp")
    assert not critic.has_batchnorm
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    _, discriminator = models_for("dcgan")
    assert discriminator.has_batchnorm
    _, spectral = models_for("dcgan", **{"model.spectral_norm": True})
    assert not spectral.has_batchnorm


@pytest.mark.parametrize("preset", ["wgan-gp", "cgan"])
def test_gradient_penalty_critics_do_not_couple_samples(preset):
    """∂D(x_i)/∂x_j = 0 for i ≠ j: the per-sample penalty is only meaningful without batch coupling."""
    overrides = {"train.loss": "wgan-gp"} if preset == "cgan" else {}
    _, critic = models_for(preset, **overrides)
    x = torch.rand(4, 1, 28, 28, requires_grad=True)
    kwargs = {"labels": torch.arange(4)} if critic.conditional else {}
    (gradient,) = torch.autograd.grad(critic(x, **kwargs)[0].sum(), x)
    assert gradient[0].abs().sum() > 0
    assert torch.equal(gradient[1:], torch.zeros_like(gradient[1:]))


def test_batchnorm_discriminator_sees_real_and_fake_separately():
    """With BatchNorm in D the trainer must not concatenate real and fake into one forward."""
    for preset, expected in (("dcgan", [16, 16, 16]), ("wgan-gp", [32, 16, 16])):
        trainer = make_trainer(preset, **{"train.d_steps": 1})
        sizes = []
        trainer.discriminator.register_forward_pre_hook(lambda module, args: sizes.append(args[0].shape[0]))
        trainer.train_step()
        # dcgan: D(real), D(fake), then G's D(fake). wgan-gp (no BN): D([real; fake]), GP's D(x̂), G's D(fake).
        assert sizes == expected, preset


def test_conditional_generator_uses_the_label():
    torch.manual_seed(0)
    generator = ConditionalGenerator(100).eval()
    z = torch.randn(1, 100).repeat(10, 1)  # the same z for all ten classes
    images = generator(z, torch.arange(10))
    distances = torch.cdist(images.flatten(1), images.flatten(1))
    assert (distances + torch.eye(10)).min() > 0, "changing only the label must change the image"


def test_projection_discriminator_formula():
    """D(x, y) = ψ(φ(x)) + ⟨v_y, φ(x)⟩ (Miyato & Koyama 2018, eq. 3)."""
    torch.manual_seed(0)
    discriminator = ProjectionDiscriminator().eval()
    x, labels = torch.rand(6, 1, 28, 28), torch.tensor([0, 3, 3, 7, 9, 1])
    features = discriminator.backbone.features(x)
    expected = discriminator.backbone.head(features) + (discriminator.class_projection.weight[labels]
                                                        * features).sum(1, keepdim=True)
    torch.testing.assert_close(discriminator(x, labels=labels), expected)
    other = discriminator(x, labels=(labels + 1) % 10)
    assert not torch.allclose(other, expected)


def test_vae_interface_and_decoder_is_the_tp_generator():
    torch.manual_seed(0)
    vae = VAE(100)
    mean, log_var = vae.encode(torch.rand(5, 1, 28, 28))
    assert mean.shape == log_var.shape == (5, 100)
    linear = [(m.in_features, m.out_features) for m in vae.encoder if isinstance(m, nn.Linear)]
    assert linear == [(784, 1024), (1024, 512), (512, 256), (256, 200)]
    z = torch.randn(5, 100)
    logits = vae.decode_logits(z)
    assert logits.shape == (5, 784)
    torch.testing.assert_close(vae(z), torch.sigmoid(logits))
    tp_generator = Generator(100)
    tp_generator.load_state_dict(vae.decoder.state_dict())  # same keys and shapes as the TP's G
    torch.testing.assert_close(tp_generator(z), vae(z))
    assert vae.conditional is False


# ---------------------------------------------------------------------------------- tricks
def weight_matrices(discriminator):
    for module in discriminator.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            yield module, module.weight.flatten(1)  # spectral norm views a conv weight as (out, in·k·k)


@pytest.mark.parametrize("preset", ["seed", "dcgan"])
def test_spectral_norm_makes_each_weight_unit_norm(preset):
    _, discriminator = models_for(preset, **{"model.spectral_norm": True})
    wrapped = [m for m, _ in weight_matrices(discriminator)]
    assert wrapped and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in wrapped)
    discriminator.train()
    with torch.no_grad():
        for _ in range(200):  # one power iteration per training-mode forward
            discriminator(torch.rand(2, 1, 28, 28))
    for module, matrix in weight_matrices(discriminator):
        sigma = torch.linalg.matrix_norm(matrix.detach(), ord=2)
        torch.testing.assert_close(sigma, torch.tensor(1.0), atol=2e-3, rtol=0)
    # Without it the largest singular values are far from 1.
    _, plain = models_for(preset)
    sigmas = [torch.linalg.matrix_norm(m.detach(), ord=2).item() for _, m in weight_matrices(plain)]
    assert max(abs(s - 1) for s in sigmas) > 0.2


def test_label_smoothing_lowers_only_the_real_target():
    trainer = make_trainer("dcgan", **{"train.label_smoothing": 0.1})
    seen = []

    def recording_d_loss(real_logits, fake_logits, real_target):
        seen.append(real_target)
        return ns_d_loss(real_logits, fake_logits, real_target=real_target)

    trainer.loss_pair = LossPair("ns", recording_d_loss, ns_g_loss)
    trainer.train_step()
    assert seen == [pytest.approx(0.9)]


def test_separate_learning_rates_set_each_first_adam_step():
    """Adam's first update is lr·g/(|g| + ε) ≈ ±lr: the largest change of each network is its own lr."""
    trainer = make_trainer("dcgan", **{"train.lr_d": 1e-3, "train.lr_g": 1e-4})
    g_before, d_before = snapshot(trainer.generator), snapshot(trainer.discriminator)
    trainer.train_step()
    d_step = max((a - b).abs().max().item() for a, b in zip(trainer.discriminator.parameters(), d_before))
    g_step = max((a - b).abs().max().item() for a, b in zip(trainer.generator.parameters(), g_before))
    assert d_step == pytest.approx(1e-3, rel=1e-3)
    assert g_step == pytest.approx(1e-4, rel=1e-3)


def test_d_steps_step_g_every_k_batches():
    trainer = make_trainer("dcgan", **{"train.d_steps": 3})
    g_changed, d_changed = [], []
    for _ in range(6):
        g_before, d_before = snapshot(trainer.generator), snapshot(trainer.discriminator)
        result = trainer.train_step()
        g_changed.append(changed(g_before, trainer.generator))
        d_changed.append(changed(d_before, trainer.discriminator))
        assert result.g_stepped == g_changed[-1]
    assert g_changed == [False, False, True, False, False, True]
    assert all(d_changed)


def test_ema_follows_its_closed_form():
    """ema_0 = θ_0, ema_k = d·ema_{k−1} + (1 − d)·θ_k after each G step; sampling uses the EMA copy."""
    decay = 0.9
    trainer = make_trainer("dcgan", **{"train.ema": decay})
    expected = snapshot(trainer.generator)
    for _ in range(3):
        trainer.train_step()
        expected = [decay * e + (1 - decay) * p.detach() for e, p in zip(expected, trainer.generator.parameters())]
    for ema, value in zip(trainer.ema_generator.parameters(), expected):
        torch.testing.assert_close(ema, value, rtol=1e-5, atol=1e-7)
    assert changed(expected, trainer.generator), "the EMA copy differs from the live G"
    z = torch.randn(4, 100)
    torch.testing.assert_close(trainer.sample_images(z), generate_images(trainer.ema_generator.eval(), z))


def test_gradient_penalty_changes_the_critic_update():
    results = []
    for weight in (10.0, 0.0):
        trainer = make_trainer("wgan-gp", **{"train.gp_weight": weight})
        trainer.train_step()
        results.append(snapshot(trainer.discriminator))
    assert any(not torch.equal(a, b) for a, b in zip(*results))


# ---------------------------------------------------------------------------------- presets
@pytest.mark.slow
@pytest.mark.parametrize("preset", cfg.PRESETS)
def test_every_preset_dry_run_writes_a_run_folder(preset, tmp_path):
    config = cfg.get_config(preset, {"train.epochs": 2, "data.subset": 64, "train.batch_size": 32,
                                     "train.sample_every": 1})
    run = api.train(config, tmp_path / "run", dry_run=True, progress=False, verbose=False)
    assert run.status == "completed" and len(run.history) == 2
    folder = tmp_path / "run"
    for name in ("config.toml", "run.json", "metrics.csv", "curves.png", "progress.gif",
                 "samples/final.png", "samples/epoch_002.png"):
        assert (folder / name).is_file(), name
    assert cfg.load_toml(folder / "config.toml") == config
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "completed" and info["parameters"]["generator"] == count_parameters(run.trainer.generator)
    lines = (folder / "metrics.csv").read_text().strip().splitlines()
    assert len(lines) == 3  # header + one row per epoch
    generator = api.load_generator(folder)
    labels = 7 if generator.conditional else None
    images = api.sample(generator, 10, labels=labels)
    assert images.shape == (10, 1, 28, 28) and 0.0 <= images.min() and images.max() <= 1.0
    for row in run.history:
        assert all(torch.isfinite(torch.tensor(row[key])) for key in ("d_loss", "g_loss"))
