"""Events in memory: a dict of equally long numpy arrays ``t`` (µs), ``x``, ``y``, ``p``.

A 1-D sensor (spiking audio, ``[channels, 1, 1]``) has no ``y`` and no ``p``. Decoded records keep
their stored (narrow) dtypes; ``CANONICAL_DTYPES`` are what readers produce before encoding.
"""

from __future__ import annotations

import numpy as np

Events = dict[str, np.ndarray]

FIELDS = ("t", "x", "y", "p")
CANONICAL_DTYPES = {"t": np.dtype(np.int64), "x": np.dtype(np.uint16), "y": np.dtype(np.uint16), "p": np.dtype(np.uint8)}


#: float16 seconds below this are closer together than 1 µs, so distinct values can share a µs.
FLOAT16_EXACT_FROM_SECONDS = 2.0**-9


def seconds_to_microseconds(seconds: np.ndarray) -> np.ndarray:
    """Float seconds -> int64 µs, rounded down (Tonic's ``float64(t) * 1e6`` cast to int).

    For float16 and float32 inputs the product is exact in float64, so the result is the floor of
    the true value. For float16 seconds >= 2**-9 s the mapping is invertible
    (``microseconds_to_float16_seconds``).
    """
    seconds = np.asarray(seconds)
    if seconds.dtype.kind != "f":
        raise TypeError(f"seconds must be floating point, got {seconds.dtype}")
    return np.floor(seconds.astype(np.float64) * 1e6).astype(np.int64)


def microseconds_to_float16_seconds(t_us: np.ndarray) -> np.ndarray:
    """The float16 seconds that ``seconds_to_microseconds`` turned into ``t_us`` (exact from 2**-9 s)."""
    return ((np.asarray(t_us, dtype=np.float64) + 0.5) / 1e6).astype(np.float16)
