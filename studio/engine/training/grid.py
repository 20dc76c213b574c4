"""Sample grids: a batch of images in [-1, 1] laid out in rows, as one picture to look at."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from studio.files.images import array_to_pil

if TYPE_CHECKING:
    from PIL import Image

PADDING = 2
COLUMNS = 8


def grid_size(rows: int, columns: int, tile: tuple[int, int], padding: int = PADDING) -> tuple[int, int]:
    """(width, height) in pixels of a grid of ``rows`` x ``columns`` tiles of ``tile`` = (h, w)."""
    height, width = tile
    return columns * (width + padding) + padding, rows * (height + padding) + padding


def image_grid(images: torch.Tensor, columns: int = COLUMNS, padding: int = PADDING) -> Image.Image:
    """N x 3 x H x W images in [-1, 1] as rows of ``columns`` tiles on a white background.

    A last row that is not full is left white where images are missing.
    """
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise ValueError(f"expected N x 3 x H x W images, got shape {tuple(images.shape)}")
    count, _, height, width = images.shape
    rows = -(-count // columns)
    out_w, out_h = grid_size(rows, columns, (height, width), padding)
    canvas = torch.ones(3, out_h, out_w)
    tiles = images.detach().float().cpu().clamp(-1.0, 1.0).add(1.0).div(2.0)
    for index in range(count):
        row, col = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + col * (width + padding)
        canvas[:, top : top + height, left : left + width] = tiles[index]
    return array_to_pil(canvas)
