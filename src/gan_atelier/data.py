"""Fashion-MNIST and MNIST from IDX files: find, validate, load, fetch.

A split is kept whole as one ``uint8`` tensor of shape ``(N, 28, 28)`` plus a label tensor
``(N,)``; batches are gathered from it by index (no per-sample PIL conversion).

IDX format (LeCun): a 4-byte big-endian magic ``0x00 0x00 <dtype> <ndim>`` (dtype 0x08 =
uint8), then ``ndim`` big-endian uint32 sizes, then the payload. Every file is checked:
magic, dtype, ndim, dimensions, exact payload length, label range, image/label count
agreement, and (Fashion-MNIST) the SHA-256 of the *decompressed* bytes, since Debian
recompresses the ``.gz`` files. Any problem raises :class:`DataError` naming the file.

Lookup order (training never downloads): ``data_dir`` argument (``--data-dir``) →
``$GAN_ATELIER_DATA`` → the Debian package's folder → the user cache. Only
``gan-atelier data fetch`` downloads, into the user cache.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import DataError

SPLITS = ("train", "test")
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
COUNTS = {"train": 60000, "test": 10000}
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

# SHA-256 of the decompressed IDX bytes (zalandoresearch/fashion-mnist; same content in Debian).
SHA256 = {
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    # MNIST: no trusted decompressed hash is recorded here yet; files are validated structurally.
    "mnist": {},
}
MIRRORS = {
    "fashion-mnist": (
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",),
}
DEBIAN_DIRS = {
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),
    "mnist": ("/usr/share/datasets/mnist",),
}
DEBIAN_PACKAGES = {"fashion-mnist": "dataset-fashion-mnist", "mnist": "dataset-mnist"}
CLASS_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "mnist": tuple(str(digit) for digit in range(10)),
}
IDX_UINT8 = 0x08


@dataclass(frozen=True)
class Split:
    """One split held in memory: images ``(N, 28, 28)`` uint8, labels ``(N,)`` int64."""

    images: torch.Tensor
    labels: torch.Tensor
    dataset: str
    split: str
    sha256: str  # hash of the decompressed image file: the run's data fingerprint
    directory: str

    def __len__(self) -> int:
        return self.images.shape[0]

    def as_float(self) -> torch.Tensor:
        """Images in [0, 1] as float32 ``(N, 1, 28, 28)`` (the TP's ``ToTensor``)."""
        return self.images.unsqueeze(1).float().div_(255.0)


def cache_dir(dataset: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gan-atelier" / dataset


def _check_dataset(dataset: str) -> None:
    if dataset not in SHA256:
        raise DataError(f"unknown dataset {dataset!r}; valid datasets: {', '.join(SHA256)}")


def _has_files(directory: Path) -> bool:
    return all(
        (directory / name).exists() or (directory / f"{name}.gz").exists()
        for names in FILES.values()
        for name in names
    )


def candidate_dirs(dataset: str, data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """Where data is looked for, in order, with the origin of each place."""
    _check_dataset(dataset)
    places: list[tuple[str, Path]] = []
    if data_dir:
        places.append(("--data-dir", Path(data_dir)))
    env = os.environ.get("GAN_ATELIER_DATA")
    if env:
        # The variable may point at the dataset folder itself or at a parent holding several.
        places.append(("$GAN_ATELIER_DATA", Path(env) / dataset))
        places.append(("$GAN_ATELIER_DATA", Path(env)))
    places += [("Debian package", Path(d)) for d in DEBIAN_DIRS[dataset]]
    places.append(("user cache", cache_dir(dataset)))
    return places


def find_data_dir(dataset: str = "fashion-mnist", data_dir: str | os.PathLike | None = None) -> Path:
    """The first folder holding all four IDX files, or a DataError naming every option."""
    places = candidate_dirs(dataset, data_dir)
    if data_dir:
        # An explicit folder is not second-guessed: use it or fail, never fall through.
        directory = Path(data_dir)
        if _has_files(directory):
            return directory
        missing = [n for ns in FILES.values() for n in ns
                   if not (directory / n).exists() and not (directory / f"{n}.gz").exists()]
        raise DataError(f"{directory}: missing {dataset} files: {', '.join(missing)}")
    for _, directory in places:
        if _has_files(directory):
            return directory
    looked = "; ".join(f"{origin} {path}" for origin, path in places)
    raise DataError(
        f"{dataset} not found (looked in: {looked}). Options: pass --data-dir DIR, "
        f"set GAN_ATELIER_DATA, run `gan-atelier data fetch --dataset {dataset}`, "
        f"or offline on Debian `apt-get install {DEBIAN_PACKAGES[dataset]}`"
    )


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """File content, gunzipped if it ends in .gz, refusing more than ``max_bytes`` (bomb guard)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as file:
                data = file.read(max_bytes + 1)
                # Reading to the end makes gzip check the CRC and length trailer.
                if len(data) <= max_bytes:
                    file.read(1)
        else:
            with path.open("rb") as file:
                data = file.read(max_bytes + 1)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except EOFError:
        raise DataError(f"{path}: truncated gzip stream") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path}: corrupt gzip data ({error})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None
    if len(data) > max_bytes:
        raise DataError(f"{path}: larger than any valid file of its kind (> {max_bytes} bytes)")
    return data


def parse_idx(data: bytes, name: str, ndim: int) -> np.ndarray:
    """Decode IDX bytes of uint8 with ``ndim`` dimensions, checking every length exactly."""
    if len(data) < 4:
        raise DataError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    zero, dtype, file_ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise DataError(f"{name}: bad IDX magic number 0x{data[:4].hex()}")
    if dtype != IDX_UINT8:
        raise DataError(f"{name}: IDX data type 0x{dtype:02x} is not uint8 (0x08)")
    if file_ndim != ndim:
        raise DataError(f"{name}: expected {ndim} dimensions, the header says {file_ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + math.prod(dims)  # Python ints: np.prod's int64 would wrap on hostile dims
    if len(data) != expected:
        raise DataError(
            f"{name}: header declares {expected} bytes for dims {dims}, the file has {len(data)}"
        )
    if dims[0] == 0:
        raise DataError(f"{name}: contains no items")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _locate(directory: Path, name: str) -> Path:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.exists():
            return candidate
    raise DataError(f"{directory / name}(.gz): file not found")


def read_split_files(image_path: Path, label_path: Path, dataset: str = "fashion-mnist",
                     check_hash: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    """Read and validate one image file and its label file. Returns (images, labels, sha256)."""
    image_limit = 16 + COUNTS["train"] * 784 * 2  # generous: any MNIST-like split fits
    image_bytes = _read_bytes(image_path, image_limit)
    label_bytes = _read_bytes(label_path, 8 + COUNTS["train"] * 2)
    hashes = SHA256.get(dataset, {})
    image_hash = hashlib.sha256(image_bytes).hexdigest()
    if check_hash:
        for path, content, digest in ((image_path, image_bytes, image_hash),
                                      (label_path, label_bytes, None)):
            stem = path.name.removesuffix(".gz")
            if stem in hashes:
                digest = digest or hashlib.sha256(content).hexdigest()
                if digest != hashes[stem]:
                    raise DataError(
                        f"{path}: SHA-256 of the decompressed bytes is {digest[:16]}…, "
                        f"expected {hashes[stem][:16]}… (not the official {dataset} file)"
                    )
    images = parse_idx(image_bytes, str(image_path), ndim=3)
    labels = parse_idx(label_bytes, str(label_path), ndim=1)
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{image_path}: images are {images.shape[1:]}, expected {IMAGE_SHAPE}")
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{label_path}: {labels.shape[0]} labels for {images.shape[0]} images in {image_path.name}"
        )
    if labels.max() >= NUM_CLASSES:
        raise DataError(f"{label_path}: label {int(labels.max())} outside 0..{NUM_CLASSES - 1}")
    return images, labels, image_hash


def load_split(dataset: str = "fashion-mnist", split: str = "train",
               data_dir: str | os.PathLike | None = None, subset: int = 0) -> Split:
    """Load a whole split into memory (validated). ``subset`` keeps the first N images."""
    _check_dataset(dataset)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
    directory = find_data_dir(dataset, data_dir)
    image_name, label_name = FILES[split]
    images, labels, digest = read_split_files(
        _locate(directory, image_name), _locate(directory, label_name), dataset
    )
    if subset:
        images, labels = images[:subset], labels[:subset]
    return Split(
        images=torch.from_numpy(images.copy()),
        labels=torch.from_numpy(labels.astype(np.int64)),
        dataset=dataset, split=split, sha256=digest, directory=str(directory),
    )


def synthetic_split(n: int = 512, seed: int = 0, dataset: str = "synthetic") -> Split:
    """Fake data for dry runs and tests: 10 classes of blurry blobs at class-dependent places."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=generator)
    ys, xs = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    centres = torch.stack([6 + 16 * (labels % 2), 4 + 4 * (labels // 2)], dim=1).float()  # (n, 2)
    distance = (ys - centres[:, 0, None, None]) ** 2 + (xs - centres[:, 1, None, None]) ** 2
    images = torch.exp(-distance / 18.0) + 0.05 * torch.rand(n, 28, 28, generator=generator)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    return Split(images=images, labels=labels, dataset=dataset, split="train",
                 sha256="synthetic", directory="")


def info(dataset: str = "fashion-mnist", data_dir: str | os.PathLike | None = None) -> list[str]:
    """Human-readable lines: where each candidate folder is and whether it holds the data."""
    lines = []
    for origin, directory in candidate_dirs(dataset, data_dir):
        state = "found" if _has_files(directory) else "absent"
        lines.append(f"{origin:18s} {directory}  [{state}]")
    return lines


def verify(dataset: str = "fashion-mnist", data_dir: str | os.PathLike | None = None) -> list[str]:
    """Fully validate both splits; returns one line per split or raises DataError."""
    lines = []
    for split in SPLITS:
        loaded = load_split(dataset, split, data_dir)
        counts = torch.bincount(loaded.labels, minlength=NUM_CLASSES).tolist()
        lines.append(
            f"{split}: {len(loaded)} images OK in {loaded.directory} "
            f"(sha256 {loaded.sha256[:12]}…, per-class {min(counts)}..{max(counts)})"
        )
    return lines


def fetch(dataset: str = "fashion-mnist", destination: str | os.PathLike | None = None,
          timeout: float = 60.0) -> Path:
    """Download the four files into the user cache (or ``destination``), hash-checked.

    Each file goes to a temporary file in the target folder and is moved into place only
    after it decompresses, validates and (Fashion-MNIST) matches its SHA-256.
    """
    _check_dataset(dataset)
    target = Path(destination) if destination else cache_dir(dataset)
    target.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        for name in FILES[split]:
            final = target / f"{name}.gz"
            if final.exists():
                continue
            errors = []
            for mirror in MIRRORS[dataset]:
                try:
                    _download(mirror + f"{name}.gz", final, dataset, timeout)
                    break
                except (OSError, DataError) as error:
                    errors.append(f"{mirror}: {error}")
            else:
                raise DataError(f"could not download {name}.gz: " + " | ".join(errors))
    verify(dataset, target)
    return target


def _download(url: str, final: Path, dataset: str, timeout: float) -> None:
    handle, temp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        data = _gunzip_file(temp)
        stem = final.name.removesuffix(".gz")
        expected = SHA256[dataset].get(stem)
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise DataError(f"{url}: SHA-256 mismatch after download")
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)


def _gunzip_file(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as file:
            return file.read(16 + COUNTS["train"] * 784 * 2)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path}: corrupt download ({error})") from None
