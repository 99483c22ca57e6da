"""ATIS 40-bit binary (N-MNIST, N-Caltech101): 5 bytes per event, no header.

Byte layout per event: x (8 bits), y (8 bits), then p (1 bit) and t (23 bits) big-endian.
Decoded exactly as SpikingJelly's ``load_ATIS_bin``. With ``overflow=True`` a record with
y == 240 is read as a timestamp-overflow marker (adds 2**23 µs to later events and is dropped),
as the ATIS tools do for recordings longer than 8.4 s; the datasets' recordings contain none.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neuroshards.record import PackedEvents

from .blocks import NO_TIME, set_bit
from .errors import FormatError, guarded

RECORD_BYTES = 5
OVERFLOW_Y = 240


@njit(cache=True, inline="always")
def _record(records, i):
    """(t within its 2**23 µs period, x, y, p) of record ``i``."""
    byte2 = np.int64(records[i, 2])
    t = ((byte2 & 0x7F) << 16) | (np.int64(records[i, 3]) << 8) | np.int64(records[i, 4])
    return t, np.int64(records[i, 0]), np.int64(records[i, 1]), byte2 >> 7


@njit(cache=True, nogil=True)
def _atis_extremes(records, overflow):
    """Events, smallest and largest t, largest x and y."""
    n, period = 0, np.int64(0)
    low, high, x_max, y_max = NO_TIME, np.int64(-1), np.int64(0), np.int64(0)
    for i in range(len(records)):
        stamp, ex, ey, _ep = _record(records, i)
        if overflow and ey == OVERFLOW_Y:
            period += 1 << 23
            continue
        low, high = min(low, stamp + period), max(high, stamp + period)
        x_max, y_max = max(x_max, ex), max(y_max, ey)
        n += 1
    return n, low, high, x_max, y_max


@njit(cache=True, nogil=True)
def _atis_fill(records, overflow, t0, t, x, y, bits):
    """The events as t - t0, x, y and polarity bits packed little-endian."""
    n, period = 0, np.int64(0)
    for i in range(len(records)):
        stamp, ex, ey, ep = _record(records, i)
        if overflow and ey == OVERFLOW_Y:
            period += 1 << 23
            continue
        t[n], x[n], y[n] = stamp + period - t0, ex, ey
        set_bit(bits, n, ep)
        n += 1


def _records(data: bytes | np.ndarray, source: str) -> np.ndarray:
    if len(data) % RECORD_BYTES:
        whole = len(data) - len(data) % RECORD_BYTES
        raise FormatError(source, whole, f"truncated ATIS record: {len(data)} bytes is not a multiple of {RECORD_BYTES}")
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)


@guarded("atis")
def decode_atis_bin(data: bytes, *, source: str = "<bytes>", overflow: bool = False) -> dict[str, np.ndarray]:
    """The events of an ATIS file's bytes: t int64 µs, x/y uint16, p uint8 (read through the record
    layout, the one decoding path)."""
    packed = pack_atis_bin(data, (256, 256, 2), source=source, overflow=overflow)
    return {
        "t": packed.t.astype(np.int64) + packed.t0,
        "x": packed.x.astype(np.uint16),
        "y": packed.y.astype(np.uint16),
        "p": np.unpackbits(packed.p, count=packed.n, bitorder="little"),
    }


@guarded("atis")
def pack_atis_bin(data: bytes, sensor_size: tuple[int, ...], *, source: str = "<bytes>", overflow: bool = False) -> PackedEvents:
    """The same events decoded straight into the record's field layout (two passes over the
    bytes, no event arrays in between: most of the time of converting N-MNIST's small files)."""
    records = _records(data, source)
    n, low, high, x_max, y_max = _atis_extremes(records, overflow)
    packed = PackedEvents.allocate(sensor_size, int(n), int(low), int(high), int(x_max), int(y_max))
    _atis_fill(records, overflow, packed.t0, packed.t, packed.x, packed.y, packed.p)
    return packed


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
