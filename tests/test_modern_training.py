"""The modern recipe inside the training step: R1/R2 at the regulariser extension point, the lr and
γ schedules, the EMA half-life, RpGAN's G loss, and the config checks of the new keys."""

import math

import pytest
import torch
from torch.testing import assert_close

from gan_atelier import config as cfg
from gan_atelier.data import synthetic_split
from gan_atelier.errors import ConfigError
from gan_atelier.regularizers import gradient_squared_norm
from gan_atelier.schedules import cosine, ema_decay
from gan_atelier.training import Trainer
from gan_atelier.training.recipe import images_seen, penalty_weights, total_steps, zero_centred_penalties
from gan_atelier.training.step import d_regularisers


# The R3GAN ingredients (RpGAN, lazy R1 + R2, γ schedule) on the modern preset: still keys, tested here.
R3GAN = {"model.clusters": 0, "model.spectral_norm": False, "train.loss": "rpgan", "train.r1_gamma": 0.01, "train.r2_gamma": 0.01,
         "train.r_every": 8, "train.gamma_end_ratio": 0.1, "train.beta2": 0.99}


def make_trainer(preset="modern", **overrides):
    config = cfg.get_config(preset, {"data.subset": 128, "train.batch_size": 32, "train.epochs": 2, **R3GAN,
                                     **overrides})
    return Trainer(config, synthetic_split(128, seed=0))


def test_modern_preset_is_the_documented_recipe():
    config = cfg.get_config("modern")
    t = config.train
    assert (config.model.name, config.model.d_norm, config.model.spectral_norm, t.loss) == ("dcgan", "none", True,
                                                                                           "hinge")
    assert (t.r1_gamma, t.r2_gamma, t.beta1, t.beta2, t.batch_size) == (0.0, 0.0, 0.0, 0.9, 32)
    assert (cfg.lr_g(config), cfg.lr_d(config)) == (2e-4, 4e-4)
    assert (t.ema_half_life, t.ema_ramp, t.lr_end_ratio) == (10000.0, 0.05, 0.25)
    assert config.model.clusters == 10  # self-conditioned on 10 pixel clusters
    trainer = Trainer(config, synthetic_split(64, seed=0))
    assert not trainer.discriminator.has_batchnorm and not trainer.one_d_pass  # a projection D: two passes
    assert not trainer.generator.conditional and trainer.pseudo_classes == 10
    normalised = [m for m in trainer.discriminator.modules() if hasattr(m, "parametrizations")]
    assert len(normalised) == 3  # both convolutions and the head carry a spectral norm
    modern_cgan = cfg.get_config("modern-cgan")
    assert (modern_cgan.model.name, modern_cgan.model.clusters, modern_cgan.train.ac_weight) == ("cgan", 0, 0.2)
    # modern-plain: the same recipe without the clusters (only that key differs)
    plain = cfg.get_config("modern-plain")
    assert plain.model.clusters == 0 and cfg.to_dict(plain)["train"] == cfg.to_dict(config)["train"]
    assert Trainer(plain, synthetic_split(64, seed=0)).one_d_pass


def test_r1_and_r2_at_the_extension_point_equal_their_definition():
    trainer = make_trainer(**{"train.r_every": 1, "train.r1_gamma": 0.4, "train.r2_gamma": 0.2})
    trainer._begin_epoch()
    real = trainer.batch(0)[0]
    fake = torch.rand_like(real)
    scale = cosine(1.0, 0.1, 0, total_steps(trainer))  # = 1 at step 0
    expected = 0.0
    for gamma, images in ((0.4, real), (0.2, fake)):
        x = images.clone().requires_grad_(True)
        expected = expected + 0.5 * gamma * scale * gradient_squared_norm(trainer.discriminator(x), x)
    assert_close(d_regularisers(trainer, real, fake, {}), expected)


def test_lazy_penalties_fire_every_k_steps_with_k_times_gamma_on_the_cosine():
    trainer = make_trainer()  # r_every = 8, γ = 0.01 → 0.001 over T steps
    total = total_steps(trainer)
    assert total == 2 * 4
    for step in range(total):
        trainer.step = step
        weights = penalty_weights(trainer)
        if step % 8:
            assert weights == (0.0, 0.0)
        else:
            assert weights[0] == pytest.approx(8 * 0.01 * cosine(1.0, 0.1, step, total))
    trainer.step = 1
    trainer._begin_epoch()
    real = trainer.batch(0)[0]
    assert zero_centred_penalties(trainer, real, real, {}, {}) is None


def test_lr_follows_the_cosine_schedule_and_resumes_from_the_step():
    trainer = make_trainer()
    for _ in range(3):
        trainer.train_step()
    trainer.train_step()  # the 4th step sets lr for step index 3
    scale = cosine(1.0, 0.25, 3, total_steps(trainer))
    for optimizer, base in ((trainer.optimizer_g, 2e-4), (trainer.optimizer_d, 4e-4)):  # TTUR: lr_d = 2·lr_g
        assert optimizer.param_groups[0]["lr"] == pytest.approx(base * scale)


def test_ema_follows_the_half_life_formula_with_its_ramp():
    trainer = make_trainer(**{"train.ema_half_life": 100.0, "train.ema_ramp": 0.5})
    trainer._begin_epoch()
    before = [p.detach().clone() for p in trainer.ema_generator.parameters()]
    trainer.train_step()  # first batch: 32 images seen, h = min(100, 0.5·32) = 16
    decay = ema_decay(32, 100.0, 32, 0.5)
    assert decay == pytest.approx(0.5 ** (32 / 16))
    for old, ema, new in zip(before, trainer.ema_generator.parameters(), trainer.generator.parameters()):
        assert_close(ema, decay * old + (1 - decay) * new.detach())
    trainer.batch_index, trainer.epoch = 3, 1  # last batch of epoch 2: 128 + 128 images
    assert images_seen(trainer) == 256


def test_rpgan_g_step_uses_the_paired_real_logits():
    trainer = make_trainer()
    result = trainer.train_step()
    assert result.g_stepped and math.isfinite(float(result.g_loss))
    assert float(result.d_real) != float(torch.sigmoid(result.d_real))  # raw critic scores are logged


def test_new_keys_are_checked():
    with pytest.raises(ConfigError, match="BatchNorm"):
        cfg.get_config("dcgan", {"train.r1_gamma": 0.1})
    with pytest.raises(ConfigError, match="ema_half_life"):
        cfg.get_config("modern", {"train.ema": 0.999})
    with pytest.raises(ConfigError, match="r_every"):
        cfg.get_config("modern", {"train.r_every": 0})
    with pytest.raises(ConfigError, match="d_norm"):
        cfg.get_config("seed", {"model.d_norm": "none"})
    with pytest.raises(ConfigError, match="not allowed"):
        cfg.get_config("wgan-gp", {"model.d_norm": "batch"})
    with pytest.raises(ConfigError, match="valid choices"):
        cfg.get_config("modern", {"model.d_norm": "instance"})
    assert cfg.get_config("dcgan", {"train.r1_gamma": 0.1, "model.d_norm": "layer"}).train.r1_gamma == 0.1


def test_sample_with_truncation_feeds_the_truncated_normal_to_g():
    from gan_atelier.inference import sample
    from gan_atelier.models import build_models, generate_images
    from gan_atelier.truncation import truncated_normal

    torch.manual_seed(0)
    generator, _ = build_models(cfg.get_config("modern"))
    generator.eval()
    images = sample(generator, 8, seed=1, truncation=0.5)
    z = truncated_normal(8, 100, 0.5, generator=torch.Generator().manual_seed(1))
    assert z.abs().max() <= 0.5
    with torch.no_grad():
        assert_close(images, generate_images(generator, z))
    assert_close(sample(generator, 8, seed=1, truncation=None), sample(generator, 8, seed=1))
    with pytest.raises(ConfigError, match="truncation"):
        sample(generator, 8, truncation=0.0)


def test_modern_cgan_penalises_the_projection_discriminator_per_set():
    trainer = make_trainer("modern-cgan", **{"train.r_every": 1})
    assert trainer.conditional and not trainer.one_d_pass  # labels: one D pass per set
    trainer._begin_epoch()
    real, labels = trainer.batch(0)
    fake_labels = (labels + 1) % 10
    fake = torch.rand_like(real)
    penalty = d_regularisers(trainer, real, fake, {"labels": labels}, {"labels": fake_labels})
    expected = 0.0
    for images, classes in ((real, labels), (fake, fake_labels)):  # γ = 0.01 at step 0 of the cosine
        x = images.clone().requires_grad_(True)
        expected = expected + 0.5 * 0.01 * gradient_squared_norm(trainer.discriminator(x, labels=classes), x)
    assert_close(penalty, expected)
    result = trainer.train_step()
    assert math.isfinite(float(result.d_loss)) and math.isfinite(float(result.g_loss))


@pytest.mark.parametrize("name", ["dcgan", "cgan"])
def test_widths_set_the_convolutions_channels(name):
    """model.g_channels / d_channels: G's first map has 2·c channels, D's convolutions c and 2·c; 0 = 32."""
    from gan_atelier.models import build_models

    def convolutions(module):
        return [m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]

    generator, discriminator = build_models(cfg.get_config(name, {"model.g_channels": 48, "model.d_channels": 16}))
    assert convolutions(generator)[0].out_channels == 96
    assert [c.out_channels for c in convolutions(discriminator)] == [16, 32]
    generator, discriminator = build_models(cfg.get_config(name))
    assert convolutions(generator)[0].out_channels == 64
    assert [c.out_channels for c in convolutions(discriminator)] == [32, 64]


def test_widths_are_checked():
    with pytest.raises(ConfigError, match="model.d_channels"):
        cfg.get_config("dcgan", {"model.d_channels": -1})
    with pytest.raises(ConfigError, match="applies to the dcgan and cgan"):
        cfg.get_config("seed", {"model.g_channels": 64})


def test_top_k_keeps_the_fakes_d_rates_best_at_the_cosine_fraction():
    """Sinha et al. 2020: G's loss over the k best-rated fakes, k = round(B · cosine(1, ν, t, T))."""
    from gan_atelier.training.recipe import topk_fraction

    config = cfg.get_config("modern-plain", {"data.subset": 128, "train.batch_size": 32, "train.epochs": 2,
                                             "train.topk_end": 0.25})
    trainer = Trainer(config, synthetic_split(128, seed=0))
    T = total_steps(trainer)
    assert T == 8 and topk_fraction(trainer) == 1.0  # step 0: every fake
    trainer.step = T // 2
    assert topk_fraction(trainer) == pytest.approx(0.625)  # halfway: (1 + 0.25) / 2
    trainer.step = T  # the end of the schedule: k = 0.25 · 32 = 8
    calls = []
    hook = trainer.discriminator.register_forward_hook(lambda m, args, out: calls.append(out))
    trainer._begin_epoch()
    result = trainer._step(*trainer.batch(0))
    hook.remove()
    g_logits = calls[-1].view(-1)  # D on the fakes in G's step
    assert_close(result.g_loss, -g_logits.topk(8).values.mean().detach())  # hinge G loss over the 8 best
    assert not torch.allclose(result.g_loss, -g_logits.mean().detach())
    with pytest.raises(ConfigError, match="train.topk_end"):
        cfg.get_config("modern", {"train.topk_end": 0.0})
