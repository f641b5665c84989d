"""Fuzzing the IDX and gzip reader with hypothesis: only ever arrays or ``DataError``.

Valid synthetic files (1 to 4 images with their labels) are mutated, one way at a time, in
their IDX content (wrong magic, dtype, ndim, dimensions, truncated payload, trailing bytes,
count mismatch, label ≥ 10, empty, random bytes) and in their gzip container (not gzip,
truncated, CRC flipped, a deflate byte flipped, trailing garbage, zero padding).
``read_split_files`` must then return validated arrays or raise the project's ``DataError``
naming the file: never another exception, never a hang (each example has a deadline). The
clean files must read back exactly, and a mutation that certainly breaks the file must be
refused (REFERENCES §3 and §7.7 item 10).
"""

from __future__ import annotations

import gzip
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from gan_atelier import data
from gan_atelier.errors import DataError

from conftest import idx_bytes

FUZZ = settings(max_examples=300, deadline=1000, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

CONTENT_ALWAYS_INVALID = {"magic", "dtype", "ndim", "dimension", "truncate", "trailing", "count", "label",
                          "empty"}
CONTAINER_ALWAYS_INVALID = {"not-gzip", "gzip-truncated", "gzip-crc", "gzip-garbage", "gzip-empty"}
CONTAINER_VALID = {"raw", "gzip", "gzip-zero-padding"}


@st.composite
def dataset(draw) -> tuple[np.ndarray, np.ndarray]:
    count = draw(st.integers(1, 4))
    pixels = draw(st.binary(min_size=count * 784, max_size=count * 784))
    images = np.frombuffer(pixels, dtype=np.uint8).reshape(count, 28, 28)
    labels = np.array(draw(st.lists(st.integers(0, 9), min_size=count, max_size=count)), dtype=np.uint8)
    return images, labels


def mutate_content(draw, blob: bytes, kind: str, is_labels: bool) -> bytes:
    """One IDX-level mutation of ``blob`` (a valid image or label file)."""
    ndim = 1 if is_labels else 3
    header = 4 + 4 * ndim
    b = bytearray(blob)
    if kind == "magic":
        b[draw(st.integers(0, 1))] = draw(st.integers(1, 255))
    elif kind == "dtype":
        b[2] = draw(st.integers(0, 255).filter(lambda v: v != 0x08))
    elif kind == "ndim":
        b[3] = draw(st.integers(0, 255).filter(lambda v: v != ndim))
    elif kind == "dimension":
        index = draw(st.integers(0, ndim - 1))
        old = struct.unpack_from(">I", b, 4 + 4 * index)[0]
        struct.pack_into(">I", b, 4 + 4 * index, draw(st.integers(0, 2**32 - 1).filter(lambda v: v != old)))
    elif kind == "truncate":
        b = b[: draw(st.integers(0, len(b) - 1))]
    elif kind == "trailing":
        b += draw(st.binary(min_size=1, max_size=64))
    elif kind == "count" and is_labels:  # one label fewer or more, header kept consistent
        count = struct.unpack_from(">I", b, 4)[0]
        new = count - 1 if draw(st.booleans()) else count + 1
        payload = bytes(b[header:header + new]) + bytes(max(0, new - count))
        b = bytearray(b[:4] + struct.pack(">I", new) + payload)
    elif kind == "count":  # one image fewer or more
        count = struct.unpack_from(">I", b, 4)[0]
        new = count - 1 if draw(st.booleans()) else count + 1
        payload = bytes(b[header:header + new * 784]) + bytes(max(0, (new - count) * 784))
        b = bytearray(b[:4] + struct.pack(">I", new) + b[8:header] + payload)
    elif kind == "label" and is_labels:
        b[header + draw(st.integers(0, len(b) - header - 1))] = draw(st.integers(10, 255))
    elif kind == "label":  # a label problem lives in the label file: mutate that one
        raise AssertionError("label mutations target the label file")
    elif kind == "empty":
        b = bytearray()
    elif kind == "random":
        b = bytearray(draw(st.binary(max_size=64)))
    return bytes(b)


def wrap(draw, blob: bytes, kind: str) -> tuple[bytes, bool]:
    """The file bytes for container ``kind``, and whether it is gzipped (decides the .gz name)."""
    if kind == "raw":
        return blob, False
    compressed = bytearray(gzip.compress(blob, mtime=0))
    if kind == "gzip":
        pass
    elif kind == "not-gzip":
        return blob, True  # IDX bytes under a .gz name
    elif kind == "gzip-truncated":
        compressed = compressed[: draw(st.integers(0, len(compressed) - 1))]
    elif kind == "gzip-crc":
        compressed[len(compressed) - 8 + draw(st.integers(0, 7))] ^= draw(st.integers(1, 255))
    elif kind == "gzip-payload":
        compressed[draw(st.integers(10, len(compressed) - 9))] ^= draw(st.integers(1, 255))
    elif kind == "gzip-garbage":  # a first byte that is neither gzip magic nor zero padding
        compressed += bytes([draw(st.integers(1, 255).filter(lambda v: v != 0x1F))])
        compressed += draw(st.binary(max_size=16))
    elif kind == "gzip-zero-padding":  # tolerated by gzip (tape padding): still valid
        compressed += bytes(draw(st.integers(1, 16)))
    elif kind == "gzip-empty":
        compressed = bytearray()
    return bytes(compressed), True


def read_pair(image_file: tuple[bytes, bool], label_file: tuple[bytes, bool]):
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for stem, (content, gzipped) in (("images-idx3-ubyte", image_file), ("labels-idx1-ubyte", label_file)):
            path = Path(folder) / (stem + (".gz" if gzipped else ""))
            path.write_bytes(content)
            paths.append(path)
        return data.read_split_files(*paths, dataset="fashion-mnist", check_hash=False)


def assert_valid(images: np.ndarray, labels: np.ndarray) -> None:
    assert images.dtype == np.uint8 and labels.dtype == np.uint8
    assert images.ndim == 3 and images.shape[1:] == (28, 28) and images.shape[0] >= 1
    assert labels.shape == (images.shape[0],) and int(labels.max()) <= 9


@FUZZ
@given(st.data(), dataset(),
       st.sampled_from(["none", *sorted(CONTENT_ALWAYS_INVALID), "random"]),
       st.sampled_from([*sorted(CONTAINER_VALID), *sorted(CONTAINER_ALWAYS_INVALID), "gzip-payload"]),
       st.booleans())
def test_mutated_idx_files_only_ever_raise_data_error(draw_data, arrays, content, container, in_labels):
    draw = draw_data.draw
    images, labels = arrays
    if content == "label":
        in_labels = True
    blobs = {"images": idx_bytes(images), "labels": idx_bytes(labels)}
    target = "labels" if in_labels else "images"
    blobs[target] = mutate_content(draw, blobs[target], content, in_labels)
    files = {name: wrap(draw, blob, container if name == target else "gzip") for name, blob in blobs.items()}
    event(f"content: {content}")
    event(f"container: {container}")
    try:
        read_images, read_labels, _ = read_pair(files["images"], files["labels"])
    except DataError as error:
        event("refused (DataError)")
        assert "-idx" in str(error), f"the message names no file: {error}"
        assert content != "none" or container not in CONTAINER_VALID, f"a valid file was refused: {error}"
        return
    # Read without error: it must be a valid split, and nothing certainly broken may get here.
    assert content not in CONTENT_ALWAYS_INVALID, f"{content} in {target} was accepted"
    assert container not in CONTAINER_ALWAYS_INVALID, f"{container} on {target} was accepted"
    assert_valid(read_images, read_labels)
    if content == "none":
        np.testing.assert_array_equal(read_images, images)
        np.testing.assert_array_equal(read_labels, labels)


@FUZZ
@given(st.binary(max_size=256), st.sampled_from([1, 3]))
@example(struct.pack(">HBB3I", 0, 8, 3, 1 << 16, 1 << 24, 1 << 24), 3)  # dims whose int64 product wraps to 0
@example(struct.pack(">HBB3I", 0, 8, 3, 2**32 - 1, 2**32 - 1, 2**32 - 1), 3)
@example(struct.pack(">HBBI", 0, 8, 1, 0), 1)  # zero items
def test_parse_idx_on_arbitrary_bytes(blob, ndim):
    try:
        array = data.parse_idx(blob, "fuzz.idx", ndim)
    except DataError as error:
        assert "fuzz.idx" in str(error)
        return
    assert array.ndim == ndim and array.shape[0] >= 1
    assert len(blob) == 4 + 4 * ndim + array.size


@FUZZ
@given(st.binary(max_size=256))
def test_arbitrary_bytes_named_gz_only_raise_data_error(blob):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "labels.gz"
        path.write_bytes(blob)
        try:
            data._read_bytes(path, 1000)
        except DataError as error:
            assert str(path) in str(error)


def test_decompression_bomb_is_refused_quickly(tmp_path):
    bomb = tmp_path / "train-labels-idx1-ubyte.gz"
    bomb.write_bytes(gzip.compress(b"\x00" * 50_000_000, compresslevel=9))  # 50 MB from ~50 KB
    images = tmp_path / "train-images-idx3-ubyte"
    images.write_bytes(idx_bytes(np.zeros((1, 28, 28), np.uint8)))
    with pytest.raises(DataError, match="larger than any valid file"):
        data.read_split_files(images, bomb, check_hash=False)
