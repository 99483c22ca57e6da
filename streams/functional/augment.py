"""Event augmentations as pure functions of (events, parameters, rng): no hidden state."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from neuroshards.events import Events


def flip_horizontal(events: Mapping[str, np.ndarray], width: int) -> Events:
    """Mirror left-right: x -> width - 1 - x."""
    flipped = dict(events)
    flipped["x"] = np.subtract(width - 1, events["x"], dtype=np.int64).astype(events["x"].dtype)
    return flipped


def drop_events(events: Mapping[str, np.ndarray], rate: float, rng: np.random.Generator) -> Events:
    """Keep each event with probability 1 - rate."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"drop rate must lie in [0, 1], got {rate}")
    keep = rng.random(len(events["t"])) >= rate
    return {name: values[keep] for name, values in events.items()}


def translate(events: Mapping[str, np.ndarray], dx: int, dy: int, width: int, height: int) -> Events:
    """Shift by (dx, dy) pixels; events that leave the sensor are removed."""
    x = np.add(events["x"], dx, dtype=np.int64)
    y = np.add(events["y"], dy, dtype=np.int64)
    keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    moved = {name: values[keep] for name, values in {**events, "x": x, "y": y}.items()}
    moved["x"] = moved["x"].astype(events["x"].dtype)
    moved["y"] = moved["y"].astype(events["y"].dtype)
    return moved
