"""ATIS 40-bit binary (N-MNIST, N-Caltech101): 5 bytes per event, no header.

Byte layout per event: x (8 bits), y (8 bits), then p (1 bit) and t (23 bits) big-endian.
Decoded exactly as SpikingJelly's ``load_ATIS_bin``. With ``overflow=True`` a record with
y == 240 is read as a timestamp-overflow marker (adds 2**23 µs to later events and is dropped),
as the ATIS tools do for recordings longer than 8.4 s; the datasets' recordings contain none.
"""

from __future__ import annotations

import numpy as np

from .errors import FormatError

RECORD_BYTES = 5
OVERFLOW_Y = 240


def decode_atis_bin(data: bytes, *, source: str = "<bytes>", overflow: bool = False) -> dict[str, np.ndarray]:
    if len(data) % RECORD_BYTES:
        whole = len(data) - len(data) % RECORD_BYTES
        raise FormatError(
            source, whole, f"truncated ATIS record: {len(data)} bytes is not a multiple of {RECORD_BYTES}"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    byte2 = records[:, 2]
    t = (
        (byte2.astype(np.int64) & 0x7F) << 16
        | records[:, 3].astype(np.int64) << 8
        | records[:, 4].astype(np.int64)
    )
    x = records[:, 0].astype(np.uint16)
    y = records[:, 1].astype(np.uint16)
    p = (byte2 >> 7).astype(np.uint8)
    if overflow:
        markers = y == OVERFLOW_Y
        if markers.any():
            t = t + (np.cumsum(markers, dtype=np.int64) << 23)
            keep = ~markers
            t, x, y, p = t[keep], x[keep], y[keep], p[keep]
    return {"t": t, "x": x, "y": y, "p": p}


def encode_atis_bin(events: dict[str, np.ndarray]) -> bytes:
    """The inverse of ``decode_atis_bin`` (t < 2**23, x and y < 256): for synthetic datasets and tests."""
    t = np.asarray(events["t"], dtype=np.int64)
    if len(t) and (t.min() < 0 or t.max() >= 1 << 23):
        raise ValueError("ATIS timestamps must lie in [0, 2**23) µs")
    records = np.empty((len(t), RECORD_BYTES), dtype=np.uint8)
    records[:, 0] = events["x"]
    records[:, 1] = events["y"]
    records[:, 2] = (np.asarray(events["p"], dtype=np.uint8) << 7) | (t >> 16).astype(np.uint8)
    records[:, 3] = (t >> 8) & 0xFF
    records[:, 4] = t & 0xFF
    return records.tobytes()
