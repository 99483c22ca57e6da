"""The two event containers the transforms accept, behind one small interface.

* A Tonic-style structured array (fields t, x, y, p in any order and dtype): new values are
  stored into the fields as Tonic stores them (numpy's unsafe cast: floats truncate toward zero),
  so results equal Tonic's value for value.
* Our decoded dict ``{"t","x","y","p"}`` (1-D sensors have no "y"): columns are replaced, never
  written in place (decoded columns are read-only views of the record). A float result truncates
  toward zero like Tonic's; when it no longer fits the column's dtype (a coordinate jittered below
  0 in a uint16 column), the column widens to a signed dtype instead of wrapping around.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Events = np.ndarray | Mapping[str, np.ndarray]
SensorSize = tuple


def is_structured(events: Any) -> bool:
    return isinstance(events, np.ndarray) and events.dtype.names is not None


def count(events: Any) -> int:
    """Number of events (for anything else, its length, as Tonic's Compose checks)."""
    if isinstance(events, Mapping):
        return len(events["t"])
    return len(events)


def names(events: Events) -> tuple[str, ...]:
    return tuple(events.dtype.names) if is_structured(events) else tuple(events)


def has(events: Events, name: str) -> bool:
    return name in names(events)


def column(events: Events, name: str) -> np.ndarray:
    if not has(events, name):
        raise ValueError(f"the events have no {name!r} field (fields: {', '.join(names(events))})")
    return np.asarray(events[name])


def select(events: Events, index: Any) -> Events:
    """The events at ``index`` (a boolean mask, an index array or a slice), same container; a new
    array but for a slice (a view, as numpy's). Structured records are copied by ``np.take``
    (a mask through its indices): about 2x faster than numpy's own indexing of them."""
    if is_structured(events):
        if isinstance(index, np.ndarray) and index.dtype == bool:
            index = np.flatnonzero(index)
        return np.take(events, index) if isinstance(index, np.ndarray) else events[index]
    return {name: np.asarray(values)[index] for name, values in events.items()}


def _fit(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype == like.dtype:
        return values
    if like.dtype.kind in "iu" and values.dtype.kind == "f":
        values = np.trunc(values)
    if like.dtype.kind in "iu" and values.size:
        info = np.iinfo(like.dtype)
        low, high = values.min(), values.max()
        if low < info.min or high > info.max:
            wider = np.result_type(like.dtype, np.int32)
            if wider.kind != "i" or low < np.iinfo(wider).min or high > np.iinfo(wider).max:
                wider = np.dtype(np.int64)
            return values.astype(wider)
    return values.astype(like.dtype)


def _bytes(events: np.ndarray) -> np.ndarray | None:
    """A structured array's memory as bytes, when it is one contiguous block of plain data."""
    if events.flags.c_contiguous and not events.dtype.hasobject:
        return events.reshape(-1).view(np.uint8)
    return None


def copy(events: Events) -> Events:
    """A copy whose columns ``store`` may replace (a dict's arrays are shared until replaced).
    Structured records are copied as bytes: numpy copies them field by field, ~7x slower."""
    if not is_structured(events):
        return dict(events)
    raw = _bytes(events)
    if raw is None:
        return events.copy()
    out = np.empty(events.shape, events.dtype)
    _bytes(out)[:] = raw
    return out


def store(events: Events, name: str, values: np.ndarray) -> None:
    """Replace a column of ``events``, a copy made by ``copy`` (or new events from ``select``),
    stored as in the module doc."""
    if is_structured(events):
        events[name] = values
    else:
        events[name] = _fit(values, np.asarray(events[name]))


def stored(events: Events, name: str, values: np.ndarray) -> np.ndarray:
    """``values`` as ``store`` would hold them in column ``name`` of ``events``."""
    like = column(events, name)
    return np.asarray(values).astype(like.dtype) if is_structured(events) else _fit(values, like)


def assign(events: Events, **columns: np.ndarray) -> Events:
    """A copy of the events with ``columns`` replaced."""
    out = copy(events)
    for name, values in columns.items():
        store(out, name, values)
    return out


def concatenate(first: Events, second: Events) -> Events:
    if is_structured(first):
        head, tail = _bytes(first), _bytes(second)
        if head is None or tail is None or first.dtype != second.dtype or first.ndim != 1 or second.ndim != 1:
            return np.concatenate((first, second))
        # As bytes, as ``copy`` does.
        out = np.empty(len(first) + len(second), first.dtype)
        _bytes(out)[: len(head)] = head
        _bytes(out)[len(head) :] = tail
        return out
    return {name: np.concatenate((np.asarray(first[name]), np.asarray(second[name]))) for name in first}


def from_columns(like: Events, columns: Mapping[str, np.ndarray], dtype: np.dtype) -> Events:
    """New events from ``columns``: a structured array of ``dtype`` when ``like`` is one, else a dict
    whose columns keep ``like``'s dtypes (widening as ``assign`` does)."""
    if is_structured(like):
        out = np.empty(len(next(iter(columns.values()))), dtype=dtype)
        for name in dtype.names:
            out[name] = columns[name]
        return out
    return {name: _fit(columns[name], np.asarray(like[name])) if name in like else columns[name] for name in columns}


def resolve_sensor_size(own: SensorSize | None, given: SensorSize | None, who: str) -> SensorSize:
    """The transform's own sensor size when set, else the one it was called with."""
    size = own if own is not None else given
    if size is None:
        raise ValueError(
            f"{who} needs the sensor size: pass sensor_size= to it, or call it with sensor_size= (a stream passes each sample's)"
        )
    return tuple(size)


def default_rng(rng: np.random.Generator | None) -> np.random.Generator:
    """A fresh generator per call when none is given, so repeated calls vary as Tonic's do."""
    return np.random.default_rng() if rng is None else rng


def takes_stream_arguments(transform: Callable) -> bool:
    """Whether ``transform`` is called ``transform(events, *, rng=, sensor_size=)`` (ours) or
    ``transform(events)`` (Tonic's, torchvision's, a plain function)."""
    try:
        parameters = inspect.signature(transform).parameters
    except (TypeError, ValueError):
        return False
    return "rng" in parameters and "sensor_size" in parameters


def call(transform: Callable, events: Any, rng: np.random.Generator | None, sensor_size: SensorSize | None) -> Any:
    if takes_stream_arguments(transform):
        return transform(events, rng=rng, sensor_size=sensor_size)
    return transform(events)


def output_sensor_size(transform: Callable, sensor_size: SensorSize | None) -> SensorSize | None:
    """The sensor size after ``transform`` (unchanged for transforms that do not say)."""
    change = getattr(transform, "output_sensor_size", None)
    return change(sensor_size) if change is not None else sensor_size
