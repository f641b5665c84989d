"""Self-conditioning (model.clusters): k-means against its definition, the cluster draw c(z) against
the prior it must follow, and the training step feeding D each image's cluster."""

import math

import pytest
import torch
from torch.testing import assert_close

from gan_atelier import config as cfg
from gan_atelier.clusters import kmeans, pixel_clusters, principal_projection
from gan_atelier.data import synthetic_split
from gan_atelier.errors import ConfigError
from gan_atelier.models import SelfConditionedGenerator, generate_images
from gan_atelier.training import Trainer
from gan_atelier.truncation import truncated_normal


def planted_blobs(per_cluster=200, k=4, dims=5, spread=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.eye(k, dims) * 3.0  # pairwise distance 3·√2, far beyond the spread
    points = torch.cat([c + spread * torch.randn(per_cluster, dims, generator=g) for c in centres])
    return points, torch.arange(k).repeat_interleave(per_cluster)


def test_kmeans_recovers_planted_clusters_up_to_a_relabelling():
    points, truth = planted_blobs()
    result = kmeans(points, 4, seed=1)
    pairs = set(zip(truth.tolist(), result.assignments.tolist()))
    assert len(pairs) == 4  # a bijection between planted and found clusters
    assert_close(result.prior, torch.full((4,), 0.25, dtype=torch.float64))


def test_kmeans_fixed_point_nearest_centre_and_centroid_means():
    points = torch.randn(500, 3, generator=torch.Generator().manual_seed(3))
    result = kmeans(points, 5, seed=0)
    assert result.iterations < 100  # converged: no assignment changed
    assert torch.equal(torch.cdist(points, result.centres).argmin(dim=1), result.assignments)
    for j in range(5):
        assert_close(result.centres[j], points[result.assignments == j].mean(dim=0))
    residual = points - result.centres[result.assignments]
    assert result.inertia == pytest.approx(float((residual ** 2).sum()), rel=1e-5)


def test_kmeans_is_deterministic_and_leaves_the_global_rng_alone():
    points = torch.randn(300, 4, generator=torch.Generator().manual_seed(5))
    before = torch.get_rng_state()
    a, b = kmeans(points, 6, seed=2), kmeans(points, 6, seed=2)
    assert torch.equal(a.assignments, b.assignments) and torch.equal(torch.get_rng_state(), before)
    with pytest.raises(ValueError, match="1 <= k"):
        kmeans(points, 0)


def test_principal_projection_keeps_the_top_variance_directions():
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([5.0, 3.0, 1.0, 0.1])
    x = torch.randn(4000, 4, generator=g) * scales  # variances 25, 9, 1, 0.01 along the axes
    projected = principal_projection(x, 2)
    variances = projected.var(dim=0)
    assert variances[0] == pytest.approx(25, rel=0.1) and variances[1] == pytest.approx(9, rel=0.1)


def test_pixel_clusters_of_uint8_and_float_images_agree():
    images = (torch.rand(120, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    a = pixel_clusters(images, 3, seed=0)
    b = pixel_clusters(images.float() / 255.0, 3, seed=0)
    assert torch.equal(a.assignments, b.assignments) and a.prior.sum().item() == pytest.approx(1.0)


def test_cluster_draw_follows_the_prior():
    generator = SelfConditionedGenerator(latent_dim=8, num_clusters=4)
    prior = torch.tensor([0.1, 0.2, 0.3, 0.4])
    generator.set_prior(prior * 7)  # normalised on the way in
    z = torch.randn(200_000, 8, generator=torch.Generator().manual_seed(0))
    shares = torch.bincount(generator.clusters_of(z), minlength=4).double() / len(z)
    bound = 4 * torch.sqrt(prior.double() * (1 - prior.double()) / len(z))  # 4 binomial standard errors
    assert bool(((shares - prior.double()).abs() < bound).all()), shares


def test_cluster_mix_survives_truncation():
    generator = SelfConditionedGenerator(latent_dim=4, num_clusters=5)
    prior = torch.tensor([0.05, 0.15, 0.2, 0.25, 0.35])
    generator.set_prior(prior)
    z = truncated_normal(50_000, 4, 0.5, generator=torch.Generator().manual_seed(1))
    shares = torch.bincount(generator.clusters_of(z), minlength=5).double() / len(z)
    assert (shares - prior.double()).abs().max() < 0.015  # Φ(z₀) spans 0.38 of (0, 1): ≈ 380 sawtooth periods


def test_self_conditioned_generator_is_a_plain_unconditional_g():
    torch.manual_seed(0)
    generator = SelfConditionedGenerator(latent_dim=16, num_clusters=3).eval()
    z = torch.randn(6, 16)
    images = generate_images(generator, z)
    assert images.shape == (6, 1, 28, 28) and not generator.conditional
    assert_close(images, generator.inner(z, generator.clusters_of(z)))
    with pytest.raises(ValueError, match="3 non-negative"):
        generator.set_prior(torch.tensor([1.0, -1.0, 0.5]))


def test_trainer_feeds_d_the_clusters_of_real_images_and_of_g():
    config = cfg.get_config("modern", {"model.clusters": 3, "data.subset": 96, "train.batch_size": 32,
                                       "train.epochs": 1})
    data = synthetic_split(96, seed=0)
    trainer = Trainer(config, data)
    expected = pixel_clusters(data.images, 3, seed=config.train.seed)
    assert torch.equal(trainer.labels, expected.assignments)  # the dataset's labels are not used
    assert_close(trainer.generator.prior, expected.prior)
    assert_close(trainer.ema_generator.prior, expected.prior)
    assert not trainer.one_d_pass  # D is conditional: real and fake in their own passes
    seen = []
    hook = trainer.discriminator.register_forward_hook(lambda m, args, kwargs, out: seen.append(kwargs["labels"]),
                                                       with_kwargs=True)
    trainer._begin_epoch()
    z_state = trainer.noise_generator.get_state()
    real, labels = trainer.batch(0)
    trainer._step(real, labels)
    hook.remove()
    trainer.noise_generator.set_state(z_state)
    z = trainer.noise(real.shape[0])
    assert torch.equal(seen[0], labels)  # D on real: the images' clusters
    assert torch.equal(seen[1], trainer.generator.clusters_of(z))  # D on fake: the cluster G drew


def test_clusters_key_is_checked():
    with pytest.raises(ConfigError, match="model.clusters"):
        cfg.get_config("seed", {"model.clusters": 10})
    with pytest.raises(ConfigError, match="must be >= 0"):
        cfg.get_config("modern", {"model.clusters": -1})
    assert cfg.get_config("modern", {"model.clusters": 10}).model.clusters == 10
    with pytest.raises(ConfigError, match="model.clusters=10 needs at least"):
        cfg.get_config("modern", {"data.subset": 6})  # refused before any run folder exists
    with pytest.raises(ConfigError, match="model.clusters=10 needs at least"):
        Trainer(cfg.get_config("modern"), synthetic_split(6, seed=0))  # data smaller than the clusters


def test_self_conditioned_run_resumes_bit_for_bit(tmp_path):
    from gan_atelier.checkpoint import load_checkpoint, save_checkpoint
    from gan_atelier.training import LoopHooks, run_loop, state_hash

    previous = torch.get_num_threads()
    config = cfg.get_config("modern", {"model.clusters": 3, "data.subset": 70, "train.batch_size": 32,
                                       "train.epochs": 2, "train.threads": 1})
    data = synthetic_split(70, seed=1)
    try:
        straight = Trainer(config, data)
        assert run_loop(straight, progress=False)
        first = Trainer(config, data)
        assert not run_loop(first, LoopHooks(should_stop=lambda: first.step == 4), progress=False)  # mid-epoch 2
        path = save_checkpoint(first.state_dict(), tmp_path, "step_000000004.pt")
        resumed = Trainer(config, data)
        resumed.load_state_dict(load_checkpoint(path))
        assert run_loop(resumed, progress=False)
        assert state_hash(resumed) == state_hash(straight)
        assert torch.equal(resumed.labels, straight.labels)
    finally:
        torch.set_num_threads(previous)
