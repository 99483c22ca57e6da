"""A small, deterministic synthetic dataset in N-MNIST's raw layout (the embedded default).

``Train/<digit>/<nnnnn>.bin`` and ``Test/<digit>/<nnnnn>.bin`` in the ATIS 40-bit format: each
recording shows a seven-segment digit moving through N-MNIST's three saccades on a 34 x 34
sensor, so the demo, tests and benchmarks run the same code path as the real dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .formats.atis import encode_atis_bin

SENSOR = 34
DURATION_US = 300_000
# Segments a..g of a seven-segment display, as (row0, row1, col0, col1) on a 20 x 12 glyph.
_SEGMENTS = {
    "a": (0, 2, 1, 11), "b": (1, 10, 10, 12), "c": (10, 19, 10, 12), "d": (18, 20, 1, 11),
    "e": (10, 19, 0, 2), "f": (1, 10, 0, 2), "g": (9, 11, 1, 11),
}
_DIGITS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]


def glyph(digit: int) -> np.ndarray:
    mask = np.zeros((20, 12), dtype=bool)
    for segment in _DIGITS[digit]:
        r0, r1, c0, c1 = _SEGMENTS[segment]
        mask[r0:r1, c0:c1] = True
    return mask


def synthetic_recording(digit: int, rng: np.random.Generator, n_events: int) -> dict[str, np.ndarray]:
    """Events of one digit drawn along three saccades (right-down, left-down, up)."""
    rows, cols = np.nonzero(glyph(digit))
    t = np.sort(rng.integers(0, DURATION_US, size=n_events))
    phase = t / DURATION_US * 3
    # Saccade displacement in pixels: a closed triangle, as the N-MNIST camera moves.
    dx = np.where(phase < 1, phase, np.where(phase < 2, 2 - phase, 0.0)) * 5
    dy = np.where(phase < 1, phase, np.where(phase < 2, 1.0, 3 - phase)) * 5
    pick = rng.integers(0, len(rows), size=n_events)
    x = np.clip(cols[pick] + 8 + np.round(dx + rng.normal(0, 0.6, n_events)), 0, SENSOR - 1)
    y = np.clip(rows[pick] + 5 + np.round(dy + rng.normal(0, 0.6, n_events)), 0, SENSOR - 1)
    # Leading edges brighten (ON), trailing edges darken (OFF): p follows the motion, with noise.
    moving_forward = phase < 1.5
    p = (rng.random(n_events) < np.where(moving_forward, 0.65, 0.35)).astype(np.uint8)
    return {"t": t.astype(np.int64), "x": x.astype(np.uint16), "y": y.astype(np.uint16), "p": p}


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
                path = folder / f"{number:05d}.bin"
                if not path.exists() or path.read_bytes() != data:
                    path.write_bytes(data)
    return root
