"""The evaluation pipeline: identical sets, protocol fields, the real-statistics cache, inputs, memorisation."""

from __future__ import annotations

import math

import pytest
import torch

from gan_atelier.errors import ConfigError, DataError
from gan_atelier.metrics import evaluate, reference
from gan_atelier.metrics.calibration import calibration_images, gaussian_blur
from gan_atelier.metrics.evaluate import evaluate_images, format_report
from gan_atelier.metrics.features import FID_NAME, FeatureSet, as_image_batch, load_classifier
from gan_atelier.metrics.memorisation import memorisation_scores, nearest_distances

N = 300


@pytest.fixture(scope="module")
def stats_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("stats")


@pytest.fixture(autouse=True)
def _shared_stats_cache(stats_cache, monkeypatch):
    """One real-statistics cache for the whole module (the test split is embedded once)."""
    monkeypatch.setenv("GAN_ATELIER_STATS_CACHE", str(stats_cache))


@pytest.fixture(scope="module")
def test_images():
    from conftest import REAL_DATA_DIR
    from gan_atelier.data import load_split

    if not REAL_DATA_DIR.is_dir():
        pytest.skip("Fashion-MNIST is not installed")
    return load_split("fashion-mnist", "test", REAL_DATA_DIR).as_float()


# ------------------------------------------------------------------------------ pipeline
def test_the_test_set_against_itself_is_perfect(test_images):
    result = evaluate_images(test_images[:N], n=N, memorisation=False)
    assert result["fid"] < 1e-6
    assert (result["precision"], result["recall"], result["coverage"]) == (1.0, 1.0, 1.0)
    assert result["density"] == 1.0
    assert result["kid"] < 0.0  # the unbiased estimator on one sample twice: see test_metrics_distances
    assert result["classes_covered"] == 10


def test_every_result_names_the_metric_the_extractor_and_n(test_images):
    extractor = load_classifier()
    result = evaluate_images(test_images[N:2 * N], n=N, memorisation=False)
    assert result["metric"] == FID_NAME == "FID-FMNIST-CNN v1"
    assert result["extractor"]["sha256"] == extractor.sha256
    assert result["n_generated"] == N and result["reference"]["n"] == N
    assert result["reference"]["split"] == "test"
    text = format_report(result)
    assert "FID-FMNIST-CNN v1" in text and extractor.sha256[:12] in text and f"N = {N}" in text
    assert "\nFID " not in text  # never a bare "FID"
    assert result["kid_subset_size"] == N  # capped by the sample count


def test_noisier_images_score_worse(test_images):
    scores = [evaluate_images(calibration_images(f"noise:{sigma}", N), n=N, memorisation=False)
              for sigma in (0.05, 0.2)]
    assert 0 < scores[0]["fid"] < scores[1]["fid"]
    assert scores[0]["kid"] < scores[1]["kid"]
    assert scores[0]["coverage"] > scores[1]["coverage"]


def test_fewer_images_than_n_use_what_is_there(test_images):
    result = evaluate_images(test_images[:120], n=N, memorisation=False)
    assert result["n_generated"] == 120 and result["reference"]["n"] == 120


# ------------------------------------------------------------------------------ cache
def test_reference_statistics_are_cached_by_extractor_split_and_n(test_images, stats_cache, monkeypatch):
    extractor = load_classifier()
    first = reference.real_reference("test", 250, extractor=extractor)
    names = sorted(path.name for path in stats_cache.iterdir())
    assert any(name.startswith(f"stats-fashion-mnist-test-n250-{extractor.short_hash}") for name in names)
    assert any(name.startswith(f"features-fashion-mnist-test-{extractor.short_hash}") for name in names)

    def no_embedding(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(reference, "extract_features", no_embedding)
    second = reference.real_reference("test", 250, extractor=extractor)
    torch.testing.assert_close(second.stats.covariance, first.stats.covariance, rtol=0, atol=0)
    torch.testing.assert_close(second.radii[3], first.radii[3], rtol=0, atol=0)


def test_a_damaged_cache_file_is_recomputed(test_images, stats_cache):
    extractor = load_classifier()
    reference.real_reference("test", 260, extractor=extractor)
    (path,) = stats_cache.glob("stats-fashion-mnist-test-n260-*.pt")
    path.write_bytes(b"not a torch file")
    again = reference.real_reference("test", 260, extractor=extractor)
    assert again.n == 260 and torch.isfinite(again.stats.covariance).all()
    assert path.stat().st_size > 100  # rewritten


# ------------------------------------------------------------------------------ inputs
def test_image_batches_are_checked_and_converted():
    as_uint8 = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    assert as_image_batch(as_uint8).shape == (2, 1, 28, 28) and float(as_image_batch(as_uint8).max()) == 1.0
    assert as_image_batch(torch.rand(3, 784)).shape == (3, 1, 28, 28)
    with pytest.raises(DataError, match="must lie in"):
        as_image_batch(torch.rand(2, 1, 28, 28) * 2 - 1)
    with pytest.raises(DataError, match="NaN"):
        as_image_batch(torch.full((2, 1, 28, 28), float("nan")))
    with pytest.raises(DataError, match="must be"):
        as_image_batch(torch.rand(2, 3, 32, 32))
    with pytest.raises(DataError, match="no images"):
        as_image_batch(torch.rand(0, 1, 28, 28))


def test_calibration_sets_are_checked():
    for bad in ("noise", "noise:-1", "class:12", "class:1.5", "pink"):
        with pytest.raises(ConfigError):
            calibration_images(bad, 10)
    uniform = calibration_images("uniform", 5)
    assert uniform.shape == (5, 1, 28, 28) and 0 <= float(uniform.min()) and float(uniform.max()) <= 1


def test_gaussian_blur_keeps_the_mass_of_a_centred_point():
    image = torch.zeros(1, 1, 28, 28)
    image[0, 0, 14, 14] = 1.0
    blurred = gaussian_blur(image, 1.5)
    assert float(blurred.sum()) == pytest.approx(1.0, abs=1e-6)
    assert float(blurred[0, 0, 14, 14]) < 0.1
    torch.testing.assert_close(gaussian_blur(image, 0.0), image)
    # Separable Gaussian: the 2-d profile is the outer product of the 1-d one.
    torch.testing.assert_close(blurred[0, 0, 14, 15] / blurred[0, 0, 14, 14],
                               torch.tensor(math.exp(-1 / (2 * 1.5**2))), rtol=1e-5, atol=0)


# ------------------------------------------------------------------------------ memorisation
def test_nearest_distances_match_brute_force():
    queries = torch.randn(70, 16, generator=torch.Generator().manual_seed(0))
    pool = torch.randn(3000, 16, generator=torch.Generator().manual_seed(1))
    expected = torch.cdist(queries.double(), pool.double()).min(dim=1).values
    torch.testing.assert_close(nearest_distances(queries, pool), expected, rtol=1e-4, atol=1e-4)


def test_copies_of_training_points_are_flagged():
    generator = torch.Generator().manual_seed(2)
    train = torch.randn(2000, 8, generator=generator)
    test = torch.randn(500, 8, generator=generator)
    copies = train[:500] + 1e-4
    fresh = torch.randn(500, 8, generator=generator)
    test_distances = nearest_distances(test, train)
    copied = memorisation_scores(nearest_distances(copies, train), test_distances)
    novel = memorisation_scores(nearest_distances(fresh, train), test_distances)
    assert copied["memorisation_ratio"] < 0.01 and copied["near_copy_share"] == 1.0
    assert 0.8 < novel["memorisation_ratio"] < 1.25 and novel["near_copy_share"] < 0.05


def test_memorisation_in_the_pipeline_uses_the_training_features(test_images, monkeypatch):
    """A stand-in training set that contains the evaluated images: every sample is a near copy."""
    extractor = load_classifier()
    samples = test_images[600:600 + N]
    embedded = evaluate.extract_features(samples, extractor)
    others = evaluate.extract_features(test_images[1000:1500], extractor)
    pool = FeatureSet(torch.cat([embedded.features, others.features]), torch.cat([embedded.logits, others.logits]))
    baseline = nearest_distances(evaluate.extract_features(test_images[:N], extractor).features, others.features)
    monkeypatch.setattr(evaluate, "split_features", lambda *args, **kwargs: (pool, None, "pool"))
    monkeypatch.setattr(evaluate, "nearest_train_baseline", lambda *args, **kwargs: baseline)
    result = evaluate_images(samples, n=N)
    assert result["near_copy_share"] == 1.0
    assert result["nn_train_median"] < 1e-2 < result["nn_train_median_test"]
    assert result["memorisation_ratio"] < 1e-2
