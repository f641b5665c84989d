"""Pictures a person can look at: upscaled grids whose exact tiles survive, GIF frames with their epoch."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from gan_atelier import config as cfg
from gan_atelier.errors import ConfigError
from gan_atelier.viz import epoch_caption, exact_grid, grid_to_uint8, make_grid, save_gif, save_grid


def test_upscaled_grid_keeps_the_exact_tiles(tmp_path):
    images = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    save_grid(images, tmp_path / "x1.png", nrow=8, scale=1)
    save_grid(images, tmp_path / "x4.png", nrow=8, scale=4)
    exact = np.asarray(Image.open(tmp_path / "x1.png"))
    assert exact.shape == (2 * 30 + 2, 8 * 30 + 2)
    np.testing.assert_array_equal(exact, grid_to_uint8(make_grid(images)))
    big = np.asarray(Image.open(tmp_path / "x4.png"))
    assert big.shape == (4 * exact.shape[0], 4 * exact.shape[1])
    # Nearest neighbour: each exact pixel is a 4×4 block, so every 4th pixel gives the grid back.
    np.testing.assert_array_equal(big, np.kron(exact, np.ones((4, 4), dtype=np.uint8)))
    np.testing.assert_array_equal(exact_grid(tmp_path / "x4.png", 4), exact)


def test_gif_frames_carry_their_epoch(tmp_path):
    paths = []
    for epoch, value in ((5, 0.2), (10, 0.8)):
        path = tmp_path / f"epoch_{epoch:03d}.png"
        save_grid(torch.full((4, 1, 28, 28), value), path, nrow=2, scale=3)
        paths.append(path)
    assert [epoch_caption(p) for p in paths] == ["epoch 5", "epoch 10"]
    gif = Image.open(save_gif(paths, tmp_path / "progress.gif"))
    assert gif.n_frames == 2
    grid_height = Image.open(paths[0]).height
    bands = []
    for index, path in enumerate(paths):
        gif.seek(index)
        frame = np.asarray(gif.convert("L"))
        band = frame.shape[0] - grid_height
        assert band > 0 and frame.shape[1] == Image.open(path).width
        np.testing.assert_array_equal(frame[band:], np.asarray(Image.open(path)))  # the grid untouched
        assert (frame[:band] > 128).sum() > 20  # white caption text drawn in the band
        bands.append(frame[:band])
    assert not np.array_equal(bands[0], bands[1])  # "epoch 5" and "epoch 10" differ


def test_image_scale_is_a_checked_config_key():
    assert cfg.get_config("seed").log.image_scale == 4
    assert cfg.get_config("seed", {"log.image_scale": "1"}).log.image_scale == 1
    for bad in ("0", "-2", "2.5"):
        try:
            cfg.get_config("seed", {"log.image_scale": bad})
        except ConfigError as error:
            assert "log.image_scale" in str(error)
        else:
            raise AssertionError(bad)
    # Older run folders (no [log] table) still load, with the defaults.
    old = cfg.to_dict(cfg.get_config("quick"))
    del old["log"]
    assert cfg.from_dict(old).log == cfg.LogConfig()
    assert cfg.from_dict({**old, "log": {"tensorboard": True}}).log.tensorboard == "true"
