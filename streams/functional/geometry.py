"""Geometric event augmentations: pure kernels over coordinate columns, parameters explicit.

Each returns the new integer coordinates (int64) and, where events can leave the sensor, the
mask of those that stay; the caller keeps or drops the events' other fields accordingly.
"""

from __future__ import annotations

import numpy as np


def roll(x: np.ndarray, y: np.ndarray, dx: int, dy: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Shift by (dx, dy) with wrap-around, as ``torch.roll`` shifts frames: no event is lost."""
    return (np.add(x, dx, dtype=np.int64) % width, np.add(y, dy, dtype=np.int64) % height)


def affine(
    x: np.ndarray, y: np.ndarray, matrix: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map pixel centres through the 2x2 ``matrix`` about the sensor's centre, to the nearest pixel.

    Returns (x, y, inside): the events mapped outside the sensor are False in ``inside`` (an
    image transform fills them with zeros: the events are lost)."""
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    dx, dy = x - centre_x, y - centre_y
    new_x = np.rint(matrix[0, 0] * dx + matrix[0, 1] * dy + centre_x).astype(np.int64)
    new_y = np.rint(matrix[1, 0] * dx + matrix[1, 1] * dy + centre_y).astype(np.int64)
    inside = (new_x >= 0) & (new_x < width) & (new_y >= 0) & (new_y < height)
    return new_x, new_y, inside


def rotation_matrix(degrees: float) -> np.ndarray:
    """Rotation by ``degrees``, counter-clockwise on an image whose y axis points down."""
    angle = np.deg2rad(degrees)
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, sin], [-sin, cos]])


def shear_matrix(degrees: float) -> np.ndarray:
    """Shear parallel to x: x += tan(degrees) * y (torchvision's ``RandomAffine(shear=...)``)."""
    return np.array([[1.0, np.tan(np.deg2rad(degrees))], [0.0, 1.0]])


def box_mask(x: np.ndarray, y: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """True for events inside the box [x0, x1) x [y0, y1)."""
    # Each column read once from its (strided) field, then twice contiguous: 1.4x faster.
    x, y = np.ascontiguousarray(x), np.ascontiguousarray(y)
    inside = x >= x0
    inside &= x < x1
    inside &= y >= y0
    inside &= y < y1
    return inside


def cutout_box(centre_x: int, centre_y: int, length: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The square of side ``length`` around a centre, clipped to the sensor (Cutout, DeVries and
    Taylor 2017, as NDA applies it): (x0, y0, x1, y1)."""
    return cutout_box_sides(centre_x, centre_y, length, length, width, height)


def cutmix_box(width: int, height: int, lam: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """CutMix's box (Yun et al. 2019, as NDA draws it): side ratio sqrt(1 - lam) of the sensor's,
    centre uniform over the pixels, clipped to the sensor: (x0, y0, x1, y1)."""
    ratio = np.sqrt(1.0 - lam)
    centre_x, centre_y = rng.integers(width), rng.integers(height)
    return cutout_box_sides(centre_x, centre_y, int(width * ratio), int(height * ratio), width, height)


def cutout_box_sides(
    centre_x: int, centre_y: int, side_x: int, side_y: int, width: int, height: int
) -> tuple[int, int, int, int]:
    """A box of sides (side_x, side_y) around a centre, clipped to the sensor: (x0, y0, x1, y1)."""
    return (
        int(np.clip(centre_x - side_x // 2, 0, width)),
        int(np.clip(centre_y - side_y // 2, 0, height)),
        int(np.clip(centre_x + side_x // 2, 0, width)),
        int(np.clip(centre_y + side_y // 2, 0, height)),
    )


def blob_score(x: np.ndarray, y: np.ndarray, t: np.ndarray, bounds: tuple, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Log-density (up to constants) of a 3-D Gaussian over the cube of ``bounds`` = (width,
    height, t_first, t_last) normalised to [0, 1]^3, with ``centre`` and per-axis ``scale``."""
    width, height, first, last = bounds
    normalised = (x / width, y / height, (t - first) / max(last - first, 1e-12))
    return -sum(((axis - c) / s) ** 2 for axis, c, s in zip(normalised, centre, scale))


def blob_threshold(centre: np.ndarray, scale: np.ndarray, share: float) -> float:
    """The score above which the blob covers ``share`` of the unit cube (on a 16^3 grid)."""
    if share <= 0:
        return np.inf
    grid = (np.arange(16) + 0.5) / 16
    gx, gy, gt = np.meshgrid(grid, grid, grid, indexing="ij")
    scores = blob_score(gx, gy, gt, (1.0, 1.0, 0.0, 1.0), centre, scale)
    return float(np.quantile(scores, 1.0 - share))
