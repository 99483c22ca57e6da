"""Event columns from generic containers (HDF5, NumPy, text): names, units and polarity conventions.

Column names are matched case-insensitively against common spellings; timestamps are converted to
integer microseconds from ``time_unit`` (``"us"``, ``"ms"``, ``"s"``, ``"ns"``); polarity in
{0, 1}, {-1, 1} (-1 becomes 0) or boolean. Anything else is a FormatError naming where it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import BinaryIO

import numpy as np

from .errors import MAX_TIMESTAMP_US, FormatError
from .registry import explicit_sensor_size

COLUMN_NAMES = {
    "t": ("t", "ts", "timestamp", "timestamps", "time", "times"),
    "x": ("x", "xs"),
    "y": ("y", "ys"),
    "p": ("p", "pol", "polarity", "polarities", "ps"),
}
#: Microseconds per unit.
TIME_UNITS = {"ns": 1e-3, "us": 1, "ms": 1_000, "s": 1_000_000}


def match_columns(names: Iterable[str]) -> dict[str, str] | None:
    """``{"t": actual name, ...}`` when all four columns are present, else None."""
    lowered = {name.lower(): name for name in names}
    found = {}
    for canonical, spellings in COLUMN_NAMES.items():
        for spelling in spellings:
            if spelling in lowered:
                found[canonical] = lowered[spelling]
                break
        else:
            return None
    return found


def check_time_unit(time_unit: str) -> None:
    if time_unit not in TIME_UNITS:
        raise ValueError(f"unknown time unit {time_unit!r}; use one of {sorted(TIME_UNITS)}")


def to_microseconds(values: np.ndarray, time_unit: str, *, source: str, where: str) -> np.ndarray:
    """Timestamps in ``time_unit`` -> int64 µs. Where the conversion could wrap (unsigned 64-bit
    values, a unit's multiplication) the result must lie within ±MAX_TIMESTAMP_US, else a
    FormatError; signed integers already in µs are taken as they are (no pass over them: the
    common case costs nothing)."""
    factor = TIME_UNITS[time_unit]
    if values.dtype.kind in "iu":
        limit = MAX_TIMESTAMP_US // int(factor) if factor >= 1 else MAX_TIMESTAMP_US * int(round(1 / factor))
        could_wrap = factor > 1 or (values.dtype.kind == "u" and values.dtype.itemsize == 8)
        if could_wrap and len(values) and (int(values.max()) >= limit or int(values.min()) <= -limit):
            raise FormatError(source, None, f"{where}: timestamps outside ±2**62 µs (corrupt or wrong time unit)")
        if factor >= 1:
            microseconds = values.astype(np.int64)
            if factor != 1:
                microseconds *= int(factor)
            return microseconds
        # nanoseconds: floor to whole microseconds (values beyond int64 were refused above)
        return (values // int(round(1 / factor))).astype(np.int64)
    if values.dtype.kind != "f":
        raise FormatError(source, None, f"{where}: timestamps of type {values.dtype} are not numbers")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is an infinity, refused just below
        scaled = values.astype(np.float64) * factor
    if not np.all(np.isfinite(scaled)):
        raise FormatError(source, None, f"{where}: timestamps hold NaN or infinity")
    if time_unit == "us" and np.any(scaled != np.floor(scaled)):
        raise FormatError(
            source, None, f"{where}: fractional timestamps read as microseconds; give the time unit (e.g. time_unit='s')"
        )
    if len(scaled) and (scaled.max() >= MAX_TIMESTAMP_US or scaled.min() <= -MAX_TIMESTAMP_US):
        raise FormatError(source, None, f"{where}: timestamps outside ±2**62 µs (corrupt or wrong time unit)")
    return np.floor(scaled + 0.5).astype(np.int64) if time_unit != "ns" else np.floor(scaled).astype(np.int64)


def canonical_events(columns: Mapping[str, np.ndarray], *, time_unit: str, source: str, where: str) -> dict[str, np.ndarray]:
    """Columns t, x, y, p (any numeric dtypes) -> canonical event arrays, validated."""
    events = {"t": to_microseconds(np.asarray(columns["t"]), time_unit, source=source, where=where)}
    for name in ("x", "y"):
        values = np.asarray(columns[name])
        if values.dtype.kind == "f":
            if np.any(values != np.floor(values)):
                raise FormatError(source, None, f"{where}: {name} coordinates are not whole numbers")
        elif values.dtype.kind not in "iub":
            raise FormatError(source, None, f"{where}: {name} of type {values.dtype} is not numeric")
        if len(values) and (values.min() < 0 or values.max() >= 1 << 16):
            raise FormatError(source, None, f"{where}: {name} coordinates outside [0, 65535]")
        events[name] = values.astype(np.uint16)
    p = np.asarray(columns["p"])
    if p.dtype.kind not in "iubf":
        raise FormatError(source, None, f"{where}: polarity of type {p.dtype} is not numeric")
    if len(p) and not np.all((p == 0) | (p == 1) | (p == -1)):
        raise FormatError(source, None, f"{where}: polarity values other than 0, 1 or -1")
    events["p"] = (p > 0).astype(np.uint8)
    return events


class ColumnFileReader:
    """Options shared by the generic readers: ``time_unit`` and, for headerless columns, ``columns``
    (the order of t, x, y, p); the sensor size only from the option (these files do not record it,
    HDF5 attributes aside)."""

    def __init__(self, stream: BinaryIO, *, source: str, sensor_size=None, time_unit: str = "us", columns: str = "txyp"):
        check_time_unit(time_unit)
        if sorted(columns) != sorted("txyp"):
            raise ValueError(f"columns must order the letters t, x, y, p, got {columns!r}")
        self.stream, self.source, self.time_unit, self.order = stream, source, time_unit, columns
        self.sensor_size = explicit_sensor_size(sensor_size)
