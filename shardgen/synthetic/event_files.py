"""Writers of event files in each format, independent of the readers, for round-trip tests.

Each ``write_*`` takes canonical events (t int64 µs, sorted; x, y, p) and returns the file's
bytes. The binary encoders follow the published layouts (Prophesee's EVT 2.0/3.0 and DAT specs).
"""

from __future__ import annotations

import io

import numpy as np

from neuroshards.events import Events


def raw_header(encoding: str, width: int | None = None, height: int | None = None) -> bytes:
    lines = ["% Date 2024-01-01 00:00:00", f"% evt {encoding}"]
    if width is not None:
        lines.append(f"% geometry {width}x{height}")
    return ("\n".join(lines) + "\n").encode()


def write_evt2(events: Events, *, width: int, height: int, noise_every: int = 0, rng=None) -> bytes:
    """TIME_HIGH whenever t >> 6 changes, then one CD word per event; every ``noise_every``-th
    event is preceded by an EXT_TRIGGER or OTHERS word (which carry no CD event)."""
    words = []
    high = None
    for i, (t, x, y, p) in enumerate(zip(*(events[k].tolist() for k in "txyp"))):
        if t >> 6 != high:
            high = t >> 6
            words.append(0x8 << 28 | (high & 0x0FFFFFFF))
        if noise_every and i % noise_every == 0:
            words.append((0xA if rng.random() < 0.5 else 0xE) << 28 | int(rng.integers(0, 1 << 28)))
        words.append(p << 28 | (t & 0x3F) << 22 | x << 11 | y)
    return raw_header("2.0", width, height) + np.asarray(words, "<u4").tobytes()


def write_evt3(events: Events, *, width: int, height: int, rng, stale_time_low: bool = False) -> bytes:
    """Events grouped by (t, y, p) in file order; a group is written as ADDR_X words or, at
    random, as VECT_BASE_X + VECT_12/VECT_8 masks. ``stale_time_low`` inserts, at random, a late
    TIME_LOW smaller than the current one (as real sensors emit), which must not move time."""
    t, x, y, p = (events[k].tolist() for k in "txyp")
    words: list[int] = []
    high = low = row = None
    i = 0
    n = len(t)
    while i < n:
        j = i
        while j < n and (t[j], y[j], p[j]) == (t[i], y[i], p[i]):
            j += 1
        time = t[i]
        if high is None or time >> 12 != high:
            high = time >> 12
            words.append(0x8 << 12 | (high & 0xFFF))
            low = None
        if time & 0xFFF != low:
            low = time & 0xFFF
            words.append(0x6 << 12 | low)
        if stale_time_low and low > 0 and rng.random() < 0.3:
            words.append(0x6 << 12 | int(rng.integers(0, low)))
        if y[i] != row:
            row = y[i]
            words.append(0x0 << 12 | row)
        xs = x[i:j]
        if len(set(xs)) == len(xs) and rng.random() < 0.6:
            words.extend(_vectors(xs, p[i], rng))
        else:
            words.extend(0x2 << 12 | p[i] << 11 | value for value in xs)
        i = j
    return raw_header("3.0", width, height) + np.asarray(words, "<u2").tobytes()


def _vectors(xs: list[int], polarity: int, rng) -> list[int]:
    """VECT_BASE_X then VECT_12/VECT_8 words covering the increasing ``xs``."""
    base = xs[0]
    words = [0x3 << 12 | polarity << 11 | base]
    remaining = list(xs)
    while remaining:
        bits = 12 if rng.random() < 0.5 else 8
        mask = 0
        while remaining and remaining[0] < base + bits:
            mask |= 1 << (remaining.pop(0) - base)
        words.append((0x4 if bits == 12 else 0x5) << 12 | mask)
        base += bits
    return words


def write_dat(events: Events, *, layout: str = "v2", width: int | None = None, height: int | None = None) -> bytes:
    lines = ["% Data file containing Event2D events."]
    if layout == "v2":
        lines.append("% Version 2")
    if width is not None:
        lines += [f"% Width {width}", f"% Height {height}"]
    header = ("\n".join(lines) + "\n").encode() + bytes([0, 8])
    x, y, p = (events[k].astype(np.uint32) for k in "xyp")
    address = x | y << 14 | p << 28 if layout == "v2" else x | y << 9 | p << 17
    records = np.empty(len(x), [("t", "<u4"), ("address", "<u4")])
    records["t"], records["address"] = events["t"], address
    return header + records.tobytes()


def write_csv(events: Events, *, header: bool, separator: str = ",") -> bytes:
    lines = ["# written by the test suite"] + (["t,x,y,p".replace(",", separator)] if header else [])
    lines += [separator.join(map(str, row)) for row in zip(*(events[k].tolist() for k in "txyp"))]
    return ("\n".join(lines) + "\n").encode()


def write_npy(events: Events, *, structured: bool) -> bytes:
    buffer = io.BytesIO()
    if structured:
        array = np.empty(len(events["t"]), [("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
        for k in "txyp":
            array[k] = events[k]
    else:
        array = np.stack([events[k].astype(np.int64) for k in "txyp"], axis=1)
    np.save(buffer, array)
    return buffer.getvalue()


def write_npz(events: Events) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{k: events[k] for k in "txyp"})
    return buffer.getvalue()


def write_hdf5(events: Events, *, group: str | None, width: int, height: int) -> bytes:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        target = handle.create_group(group) if group else handle
        for k in "txyp":
            target.create_dataset(k, data=events[k])
        handle.attrs["width"], handle.attrs["height"] = width, height
    return buffer.getvalue()
