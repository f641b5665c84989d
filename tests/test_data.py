"""IDX reading and validation on synthetic files, lookup order, and the real files when installed."""

import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch

from gan_atelier import data
from gan_atelier.errors import DataError

from conftest import idx_bytes, write_idx_dataset


def test_reads_gz_and_raw_identically(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "SHA256", {"fashion-mnist": {}, "mnist": {}})
    gz = write_idx_dataset(tmp_path / "gz", compress=True, seed=3)
    raw = write_idx_dataset(tmp_path / "raw", compress=False, seed=3)
    a = data.load_split("fashion-mnist", "train", gz)
    b = data.load_split("fashion-mnist", "train", raw)
    assert a.images.dtype == torch.uint8 and a.images.shape == (64, 28, 28)
    assert a.labels.dtype == torch.int64 and a.labels.shape == (64,)
    torch.testing.assert_close(a.images, b.images)
    torch.testing.assert_close(a.labels, b.labels)
    assert a.sha256 == b.sha256 == hashlib.sha256((raw / "train-images-idx3-ubyte").read_bytes()).hexdigest()


def test_values_survive_the_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    parsed = data.parse_idx(idx_bytes(images), "x", ndim=3)
    np.testing.assert_array_equal(parsed, images)


def test_as_float_is_totensor_scaling(idx_dir):
    split = data.load_split("fashion-mnist", "test", idx_dir)
    x = split.as_float()
    assert x.shape == (32, 1, 28, 28) and x.dtype == torch.float32
    torch.testing.assert_close(x[:, 0] * 255.0, split.images.float())
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_subset_keeps_the_first_images(idx_dir):
    full = data.load_split("fashion-mnist", "train", idx_dir)
    part = data.load_split("fashion-mnist", "train", idx_dir, subset=10)
    torch.testing.assert_close(part.images, full.images[:10])


def _images(n=4):
    return np.zeros((n, 28, 28), np.uint8)


@pytest.mark.parametrize("payload, ndim, message", [
    (b"\x00\x00", 3, "too short"),
    (b"\x01\x00\x08\x03" + b"\x00" * 12, 3, "bad IDX magic"),
    (idx_bytes(_images(), dtype_code=0x0D), 3, "is not uint8"),
    (idx_bytes(np.zeros((4, 28), np.uint8)), 3, "expected 3 dimensions"),
    (idx_bytes(_images())[:-1], 3, "header declares"),
    (idx_bytes(_images()) + b"\x00", 3, "header declares"),
    (idx_bytes(_images(0)), 3, "contains no items"),
    (b"\x00\x00\x08\x03\x00\x00", 3, "truncated IDX header"),
])
def test_malformed_idx_raises_data_error(payload, ndim, message):
    with pytest.raises(DataError, match=message):
        data.parse_idx(payload, "bad.idx", ndim)


def _write_pair(tmp_path, images, labels, gz=True):
    image_path = tmp_path / ("img.gz" if gz else "img")
    label_path = tmp_path / ("lab.gz" if gz else "lab")
    for path, array in ((image_path, images), (label_path, labels)):
        blob = idx_bytes(array)
        path.write_bytes(gzip.compress(blob) if gz else blob)
    return image_path, label_path


def test_wrong_image_size_and_label_problems(tmp_path):
    image_path, label_path = _write_pair(tmp_path, np.zeros((3, 32, 32), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(DataError, match=r"images are \(32, 32\), expected \(28, 28\)"):
        data.read_split_files(image_path, label_path, check_hash=False)
    image_path, label_path = _write_pair(tmp_path, _images(3), np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="4 labels for 3 images"):
        data.read_split_files(image_path, label_path, check_hash=False)
    image_path, label_path = _write_pair(tmp_path, _images(3), np.array([0, 10, 1], np.uint8))
    with pytest.raises(DataError, match="label 10 outside 0..9"):
        data.read_split_files(image_path, label_path, check_hash=False)


def test_broken_gzip_files(tmp_path):
    blob = gzip.compress(idx_bytes(_images()))
    cases = {
        "empty.gz": b"",
        "truncated.gz": blob[: len(blob) // 2],
        "notgzip.gz": b"this is not gzip data at all",
        "crc.gz": blob[:-8] + bytes([blob[-8] ^ 0xFF]) + blob[-7:],
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataError) as info:
            data.parse_idx(data._read_bytes(path, 10**6), str(path), 3)
        assert str(path) in str(info.value), name


def test_hash_mismatch_is_reported_for_fashion_mnist(tmp_path):
    directory = write_idx_dataset(tmp_path / "d")
    image = directory / "train-images-idx3-ubyte.gz"
    label = directory / "train-labels-idx1-ubyte.gz"
    with pytest.raises(DataError, match="SHA-256 of the decompressed bytes"):
        data.read_split_files(image, label, "fashion-mnist", check_hash=True)


def test_lookup_order(tmp_path, monkeypatch):
    explicit = write_idx_dataset(tmp_path / "explicit")
    env_root = tmp_path / "env"
    write_idx_dataset(env_root / "fashion-mnist")
    monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion-mnist": (str(tmp_path / "nodebian"),), "mnist": ()})
    assert data.find_data_dir("fashion-mnist", explicit) == explicit
    monkeypatch.setenv("GAN_ATELIER_DATA", str(env_root))
    assert data.find_data_dir("fashion-mnist") == env_root / "fashion-mnist"
    monkeypatch.delenv("GAN_ATELIER_DATA")
    cache = write_idx_dataset(data.cache_dir("fashion-mnist"))
    assert data.find_data_dir("fashion-mnist") == cache


def test_missing_data_error_names_every_option(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_DIRS", {"fashion-mnist": (str(tmp_path / "nodebian"),), "mnist": ()})
    with pytest.raises(DataError) as info:
        data.find_data_dir("fashion-mnist")
    message = str(info.value)
    for option in ("--data-dir", "GAN_ATELIER_DATA", "gan-atelier data fetch",
                   "apt-get install dataset-fashion-mnist"):
        assert option in message
    with pytest.raises(DataError, match="missing fashion-mnist files"):
        data.find_data_dir("fashion-mnist", tmp_path / "empty")


def test_unknown_dataset_and_split(idx_dir):
    with pytest.raises(DataError, match="valid datasets: fashion-mnist, mnist"):
        data.load_split("cifar10", "train", idx_dir)
    with pytest.raises(DataError, match="valid splits: train, test"):
        data.load_split("fashion-mnist", "val", idx_dir)


def test_fetch_refuses_a_bad_download(tmp_path, monkeypatch):
    """fetch() keeps nothing when the downloaded bytes are not the official file (no network)."""
    bogus = tmp_path / "mirror"
    write_idx_dataset(bogus)
    monkeypatch.setattr(data, "MIRRORS", {"fashion-mnist": (bogus.as_uri() + "/",), "mnist": ()})
    target = tmp_path / "target"
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        data.fetch("fashion-mnist", target)
    assert not any(target.iterdir()), "no partial or temporary file may remain"


def test_fetch_moves_verified_files_into_place(tmp_path, monkeypatch):
    mirror = write_idx_dataset(tmp_path / "mirror")
    monkeypatch.setattr(data, "SHA256", {"fashion-mnist": {}, "mnist": {}})
    monkeypatch.setattr(data, "MIRRORS", {"fashion-mnist": (mirror.as_uri() + "/",), "mnist": ()})
    target = data.fetch("fashion-mnist", tmp_path / "target")
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in mirror.iterdir())


def test_real_files_verify(real_data_dir):
    """The installed Fashion-MNIST matches the official decompressed SHA-256 and class balance."""
    train = data.load_split("fashion-mnist", "train", real_data_dir)
    test = data.load_split("fashion-mnist", "test", real_data_dir)
    assert len(train) == 60000 and len(test) == 10000
    assert train.sha256 == data.SHA256["fashion-mnist"]["train-images-idx3-ubyte"]
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    assert int(train.images.max()) == 255 and int(train.images.min()) == 0
