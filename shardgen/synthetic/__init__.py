"""Small, deterministic synthetic datasets in real raw layouts (the embedded default).

``Train/<digit>/<nnnnn>.bin`` and ``Test/<digit>/<nnnnn>.bin`` in the ATIS 40-bit format: each
recording shows a seven-segment digit moving through N-MNIST's three saccades on a 34 x 34
sensor, so the demo, tests and benchmarks run the same code path as the real dataset. For
benchmarks at N-Caltech101's size, ``write_synthetic_ncaltech101`` writes that dataset's layout
(240 x 180) with the same saccade generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..formats.atis import encode_atis_bin

SENSOR = 34
DURATION_US = 300_000
# Segments a..g of a seven-segment display, as (row0, row1, col0, col1) on a 20 x 12 glyph.
_SEGMENTS = {
    "a": (0, 2, 1, 11),
    "b": (1, 10, 10, 12),
    "c": (10, 19, 10, 12),
    "d": (18, 20, 1, 11),
    "e": (10, 19, 0, 2),
    "f": (1, 10, 0, 2),
    "g": (9, 11, 1, 11),
}
_DIGITS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]


def glyph(digit: int) -> np.ndarray:
    mask = np.zeros((20, 12), dtype=bool)
    for segment in _DIGITS[digit]:
        r0, r1, c0, c1 = _SEGMENTS[segment]
        mask[r0:r1, c0:c1] = True
    return mask


def saccade_events(
    rows: np.ndarray,
    cols: np.ndarray,
    rng: np.random.Generator,
    n_events: int,
    *,
    sensor: tuple[int, int] = (SENSOR, SENSOR),
    origin: tuple[int, int] = (8, 5),
    amplitude: float = 5.0,
    duration_us: int = DURATION_US,
) -> dict[str, np.ndarray]:
    """Events of a shape (pixels ``rows``, ``cols``) drawn along N-MNIST's three saccades
    (right-down, left-down, up) on a ``sensor = (W, H)``, the shape's corner at ``origin = (x, y)``."""
    width, height = sensor
    t = np.sort(rng.integers(0, duration_us, size=n_events))
    phase = t / duration_us * 3
    # Saccade displacement in pixels: a closed triangle, as the N-MNIST camera moves.
    dx = np.where(phase < 1, phase, np.where(phase < 2, 2 - phase, 0.0)) * amplitude
    dy = np.where(phase < 1, phase, np.where(phase < 2, 1.0, 3 - phase)) * amplitude
    pick = rng.integers(0, len(rows), size=n_events)
    x = np.clip(cols[pick] + origin[0] + np.round(dx + rng.normal(0, 0.6, n_events)), 0, width - 1)
    y = np.clip(rows[pick] + origin[1] + np.round(dy + rng.normal(0, 0.6, n_events)), 0, height - 1)
    # Leading edges brighten (ON), trailing edges darken (OFF): p follows the motion, with noise.
    moving_forward = phase < 1.5
    p = (rng.random(n_events) < np.where(moving_forward, 0.65, 0.35)).astype(np.uint8)
    return {"t": t.astype(np.int64), "x": x.astype(np.uint16), "y": y.astype(np.uint16), "p": p}


def synthetic_recording(digit: int, rng: np.random.Generator, n_events: int) -> dict[str, np.ndarray]:
    """Events of one seven-segment digit on N-MNIST's 34 x 34 sensor."""
    rows, cols = np.nonzero(glyph(digit))
    return saccade_events(rows, cols, rng, n_events)


def write_synthetic_nmnist(
    root: str | Path,
    *,
    train_per_class: int = 6,
    test_per_class: int = 2,
    events_per_sample: int = 4000,
    seed: int = 0,
) -> Path:
    """Write the synthetic dataset under ``root`` (idempotent: same arguments, same bytes)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    number = 0
    for split, per_class in (("Train", train_per_class), ("Test", test_per_class)):
        for digit in range(10):
            folder = root / split / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            for _ in range(per_class):
                number += 1
                n = int(rng.integers(events_per_sample // 2, events_per_sample * 3 // 2))
                data = encode_atis_bin(synthetic_recording(digit, rng, n))
                _write_if_changed(folder / f"{number:05d}.bin", data)
    return root


CALTECH_SENSOR = (240, 180)


def outline(label: int, height: int = 120, width: int = 160) -> np.ndarray:
    """A class's shape for the N-Caltech101-like dataset: an ellipse ring whose aspect ratio and
    one spoke's angle depend on the label."""
    rows, cols = np.mgrid[0:height, 0:width]
    v, u = (rows - height / 2) / (height / 2), (cols - width / 2) / (width / 2)
    aspect = 0.5 + (label % 5) / 8
    radius = np.hypot(u, v / aspect)
    angle = np.pi * label / 7
    along = u * np.cos(angle) + v * np.sin(angle)
    across = -u * np.sin(angle) + v * np.cos(angle)
    return ((radius > 0.8) & (radius < 0.95)) | ((np.abs(across) < 0.04) & (np.abs(along) < 0.8))


def write_synthetic_ncaltech101(
    root: str | Path,
    *,
    classes: int = 10,
    per_class: int = 30,
    events_per_sample: int = 100_000,
    seed: int = 0,
) -> Path:
    """N-Caltech101's raw layout (``Caltech101/<class>/image_<nnnn>.bin``, ATIS 40-bit, 240 x 180)
    under ``root``: shapes moving through the saccades, exactly ``events_per_sample`` events each
    (idempotent: same arguments, same bytes). Returns the ``Caltech101`` folder."""
    folder = Path(root) / "Caltech101"
    rng = np.random.default_rng(seed)
    for label in range(classes):
        rows, cols = np.nonzero(outline(label))
        class_folder = folder / f"class_{label:03d}"
        class_folder.mkdir(parents=True, exist_ok=True)
        for number in range(1, per_class + 1):
            origin = (int(rng.integers(10, 60)), int(rng.integers(10, 40)))
            events = saccade_events(rows, cols, rng, events_per_sample, sensor=CALTECH_SENSOR, origin=origin, amplitude=12)
            data = encode_atis_bin(events)
            _write_if_changed(class_folder / f"image_{number:04d}.bin", data)
    return folder


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` unless ``path`` holds it already (the writers are idempotent and cheap to rerun)."""
    if not path.exists() or path.stat().st_size != len(data) or path.read_bytes() != data:
        path.write_bytes(data)
