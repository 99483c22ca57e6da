"""Cutting a stream of event chunks into samples without holding the recording.

Pure generators over ``Iterator[Events]`` (a reader's ``chunks()``): each keeps only the events
still needed by a sample not yet emitted, so memory is bounded by the largest sample plus one chunk.
They need time-sorted events (checked: a timestamp going backwards is an error).

* ``time_windows``: windows ``[t_first + k * stride, ... + window_us)``, stride = window - overlap;
  windows without events are skipped; the last window may be shorter.
* ``count_windows``: ``window_events`` events each, consecutive windows sharing ``overlap`` events;
  the last window holds the remaining events (fewer) when any event is not yet in a window.
* ``cut_intervals``: the events with ``start <= t < end`` for each interval (intervals may overlap),
  emitted in the order of their start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from neuroshards.errors import SliceError
from neuroshards.events import Events

from ..formats.blocks import concatenate, new_events


def _take(events: Events, start: int, stop: int) -> Events:
    return {name: values[start:stop] for name, values in events.items()}


def sorted_chunks(chunks: Iterator[Events]) -> Iterator[Events]:
    """Pass chunks through, raising SliceError at the first timestamp smaller than its predecessor."""
    last, seen = None, 0
    for chunk in chunks:
        t = chunk["t"]
        if len(t):
            steps = np.diff(t)
            backwards = np.flatnonzero(steps < 0)
            if last is not None and t[0] < last:
                backwards = np.concatenate(([-1], backwards))
            if len(backwards):
                at = int(backwards[0]) + 1
                raise SliceError(
                    f"timestamps go backwards at event {seen + at} (t = {int(t[at])} µs after "
                    f"{int(t[at - 1]) if at else last} µs); cutting by time needs time-sorted events"
                )
            last = int(t[-1])
        seen += len(t)
        yield chunk


def time_windows(chunks: Iterator[Events], window_us: int, overlap_us: int = 0) -> Iterator[Events]:
    if window_us <= 0 or not 0 <= overlap_us < window_us:
        raise ValueError(f"need window_us > 0 and 0 <= overlap < window, got {window_us}, {overlap_us}")
    stride = window_us - overlap_us
    pending = new_events(0)
    start: int | None = None

    def ready(final: bool) -> Iterator[Events]:
        nonlocal pending, start
        while len(pending["t"]):
            t = pending["t"]
            if start is None:
                start = int(t[0])
            elif t[0] >= start + window_us:  # skip windows that would be empty
                start += (int(t[0]) - start - window_us) // stride * stride + stride
            end = start + window_us
            if not final and t[-1] < end:
                return  # the window may still receive events
            stop = int(np.searchsorted(t, end, "left"))
            yield _take(pending, 0, stop)
            start += stride
            pending = _take(pending, int(np.searchsorted(t, start, "left")), len(t))

    for chunk in sorted_chunks(chunks):
        pending = concatenate((pending, chunk))
        yield from ready(False)
    yield from ready(True)


def count_windows(chunks: Iterator[Events], window_events: int, overlap_events: int = 0) -> Iterator[Events]:
    if window_events <= 0 or not 0 <= overlap_events < window_events:
        raise ValueError(f"need window_events > 0 and 0 <= overlap < window, got {window_events}, {overlap_events}")
    stride = window_events - overlap_events
    pending = new_events(0)
    fresh = 0  # events at the end of ``pending`` that no window holds yet
    for chunk in chunks:
        pending = concatenate((pending, chunk))
        fresh += len(chunk["t"])
        while len(pending["t"]) >= window_events:
            yield _take(pending, 0, window_events)
            fresh = len(pending["t"]) - window_events
            pending = _take(pending, stride, len(pending["t"]))
    if fresh > 0:
        yield pending


def cut_intervals(chunks: Iterator[Events], intervals: Sequence[tuple[int, int]]) -> Iterator[tuple[int, Events]]:
    """``(index into intervals, events)`` for each ``[start, end)``, in order of start (then index)."""
    order = sorted(range(len(intervals)), key=lambda i: (intervals[i][0], i))
    for i in order:
        if intervals[i][1] < intervals[i][0]:
            raise ValueError(f"interval {intervals[i]} ends before it starts")
    pending: Events = new_events(0)
    position = 0  # next interval (in ``order``) to emit

    def ready(final: bool) -> Iterator[tuple[int, Events]]:
        nonlocal pending, position
        while position < len(order):
            index = order[position]
            start, end = intervals[index]
            t = pending["t"]
            if not final and (not len(t) or t[-1] < end):
                return
            first, stop = np.searchsorted(t, [start, end], "left")
            yield index, _take(pending, int(first), int(stop))
            position += 1
            if position < len(order):
                keep = int(np.searchsorted(t, intervals[order[position]][0], "left"))
                pending = _take(pending, keep, len(t))

    for chunk in sorted_chunks(chunks):
        if position >= len(order):
            break
        t = chunk["t"]
        keep = int(np.searchsorted(t, intervals[order[position]][0], "left"))
        pending = concatenate((pending, _take(chunk, keep, len(t))))
        yield from ready(False)
    yield from ready(True)
