"""Spatio-temporal event downsampling (Ghosh et al. 2023, "Insect-inspired Spatio-temporal
Downsampling of Event-based Input", https://doi.org/10.1145/3589737.3605994) with Tonic 1.7's
values: ``integrator_downsample`` and ``differentiator_downsample``.

Tonic builds a dense ON/OFF histogram for every time window and walks the windows in Python; here
one compiled pass walks the events window by window, keeping only the current window's histogram.
The windows are Tonic's ``ToFrame(time_window=dt)`` slices, computed with its arithmetic (first
and last event bound the recording, only whole windows count, events are located by
``searchsorted``), so the same events fall in the same windows.

Tonic's rules kept: ``dt`` is in milliseconds when timestamps are integers (µs) and in the
timestamps' unit otherwise; the output timestamps are ``window * dt`` from 0, not from the first
event; with ``noise_threshold=0`` every pixel whose integrated value is >= 0 (resp. <= 0) emits an
ON (resp. OFF) event at every window, zeros emitting both. Where Tonic raises, these return: no
events (Tonic: IndexError, or ValueError when no window emits), drop events whose downsampled
pixel or polarity its frame cannot index (IndexError), and run the differentiator on float
timestamps or a window longer than the recording (UnboundLocalError, AssertionError).

Both return columns ``(x, y, p, t)`` as int32 arrays, Tonic's output fields.
"""

from __future__ import annotations

import numba
import numpy as np

from .events import _wrap


@numba.njit(cache=True, nogil=True)
def _is_sorted(t):  # pragma: no cover - compiled
    for k in range(1, len(t)):  # noqa: SIM110 - a compiled loop that stops at the first step down
        if t[k] < t[k - 1]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _left_bounds(t, keys):  # pragma: no cover - compiled
    """For sorted ``t`` and increasing float ``keys``: the first index with float(t) >= key, as
    ``np.searchsorted`` finds it (it compares in float64), in one walk along t."""
    bounds = np.empty(len(keys), dtype=np.int64)
    k = 0
    for m in range(len(keys)):
        while k < len(t) and np.float64(t[k]) < keys[m]:
            k += 1
        bounds[m] = k
    return bounds


def _time_windows(t: np.ndarray, time_window: float) -> tuple[np.ndarray, np.ndarray]:
    """Tonic's SliceByTime(time_window) bounds: (first index, end index) of each whole window,
    found as its ``np.searchsorted(t, float keys)``: by one walk along a sorted ``t``; on an
    unsorted one by numpy's own search, whose answer then depends on its algorithm."""
    start_time, end_time = t[0], t[-1]
    duration = end_time - start_time
    stride = time_window - 0.0
    n_slices = max(int(np.floor((duration - time_window) / stride) + 1), 1)
    window_starts = np.arange(n_slices) * stride + start_time
    window_ends = window_starts + time_window
    if _is_sorted(t) and np.all(np.diff(window_starts) >= 0):
        return _left_bounds(t, window_starts), _left_bounds(t, window_ends)
    return np.searchsorted(t, window_starts)[:n_slices], np.searchsorted(t, window_ends)[:n_slices]


_TABLE_LIMIT = 1 << 20


def _downsampled_column(values: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Tonic's rescaling of one coordinate, ``values * scale`` stored back into the values' dtype,
    as (values, table, low) for ``_accumulate_window``: the rescaled coordinate of value v is
    ``table[v - low]``, computed once per distinct value with Tonic's arithmetic; for a range too
    wide for a table, (the rescaled values as int64, an empty table, 0)."""
    if values.dtype.kind in "iu" and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low < _TABLE_LIMIT:
            every_value = np.arange(low, high + 1).astype(values.dtype)
            return values, (every_value * scale).astype(values.dtype).astype(np.int64), low
    return (values * scale).astype(values.dtype).astype(np.int64), np.zeros(0, np.int64), 0


def _on_frame(column: tuple, size: int) -> bool:
    """Whether every rescaled value of a ``_downsampled_column`` lies in [0, size)."""
    values, table, _ = column
    rescaled = table if len(table) else values
    return len(rescaled) == 0 or (rescaled.min() >= 0 and rescaled.max() < size)


def _downsampled_columns(x, y, p, sensor_size, target_size):
    """x and y rescaled as Tonic does (``x * target / sensor``), p, and whether all of them lie
    on the target frame, for ``_integrate``."""
    factor = np.asarray(target_size) / tuple(sensor_size)[:-1]
    columns = _downsampled_column(x, factor[0]), _downsampled_column(y, factor[1])
    on_frame = (
        _on_frame(columns[0], target_size[0])
        and _on_frame(columns[1], target_size[1])
        and (len(p) == 0 or (p.min() >= 0 and p.max() < 2))
    )
    return (*columns[0], *columns[1], p, bool(on_frame))


@numba.njit(cache=True, nogil=True, inline="always")
def _rescaled(values, table, low, k):  # pragma: no cover - compiled
    return table[np.int64(values[k]) - low] if len(table) else np.int64(values[k])


@numba.njit(cache=True, nogil=True, inline="always")
def _accumulate_window(
    x, x_table, x_low, y, y_table, y_low, p, on_frame, start, end, counts, spike
):  # pragma: no cover - compiled
    """spike += ON - OFF counts of events[start:end]; counts (flat [polarity, y, x]) are int16 as
    Tonic's frames. ``on_frame``: every event's pixel and polarity are known to lie on the frame,
    so the per-event index checks (5x the cost of the rest) are skipped."""
    counts[:] = 0
    height, width = spike.shape
    for k in range(start, end):
        i = _rescaled(x, x_table, x_low, k)
        j = _rescaled(y, y_table, y_low, k)
        c = np.int64(p[k])
        if not on_frame:
            i, j, c = _wrap(i, width), _wrap(j, height), _wrap(c, 2)
            if i < 0 or j < 0 or c < 0:
                continue
        counts[(c * height + j) * width + i] += 1
    plane = height * width
    for j in range(height):
        for i in range(width):
            spike[j, i] += np.int16(counts[plane + j * width + i] - counts[j * width + i])


@numba.njit(cache=True, nogil=True)
def _fire(spike, threshold, fired):  # pragma: no cover - compiled
    """Pixels whose integrated value reached the threshold, ON ones first, each in row-major
    order as Tonic lists them (``polarity * H * W + row * W + column``, into ``fired``); both are
    found before either is reset. Returns how many."""
    height, width = spike.shape
    n = 0
    for polarity in (1, 0):
        sign = 1.0 if polarity == 1 else -1.0
        for j in range(height):
            for i in range(width):
                if sign * spike[j, i] >= threshold:
                    fired[n] = (polarity * height + j) * width + i
                    n += 1
    for k in range(n):
        spike.flat[fired[k] % (height * width)] = 0.0
    return n


@numba.njit(cache=True, nogil=True)
def _integrate(
    x, x_table, x_low, y, y_table, y_low, p, on_frame, starts, ends, height, width, threshold, frame_of_window, n_frames
):  # pragma: no cover - compiled
    """Walk the windows; integrator events as (window, x, y, polarity) rows in Tonic's order.

    With ``frame_of_window`` (differentiator), count instead, per frame, pixel and polarity, the
    windows in which the pixel fired (Tonic's Heaviside sums over its histograms), emitting nothing.
    """
    counts = np.zeros(2 * height * width, dtype=np.int16)
    spike = np.zeros((height, width))
    fired = np.empty(2 * height * width, dtype=np.int64)
    frames = np.zeros((n_frames, 2, height, width), dtype=np.int32)
    out = np.empty((1024, 4), dtype=np.int64)
    n = 0
    last_fired = -1
    for window in range(len(starts)):
        _accumulate_window(x, x_table, x_low, y, y_table, y_low, p, on_frame, starts[window], ends[window], counts, spike)
        k = _fire(spike, threshold, fired)
        if k == 0:
            continue
        last_fired = window
        if n_frames:
            frame = frames[frame_of_window[window]].ravel()
            for m in range(k):
                frame[fired[m]] += 1
            continue
        while n + k > len(out):
            out = np.concatenate((out, np.empty_like(out)))
        for m in range(k):
            polarity, cell = divmod(fired[m], height * width)
            out[n, 0] = window
            out[n, 1] = cell % width
            out[n, 2] = cell // width
            out[n, 3] = polarity
            n += 1
    return out[:n], frames, last_fired


_EMPTY = (np.zeros(0, np.int32),) * 4


def _windows_and_columns(x, y, p, t, sensor_size, target_size, dt):
    """Tonic's common steps: dt in µs for integer timestamps, rescaled columns, window bounds."""
    if np.issubdtype(t.dtype, np.integer):
        dt = dt * 1000
    starts, ends = _time_windows(t, dt)
    return dt, _downsampled_columns(x, y, p, sensor_size, target_size), starts.astype(np.int64), ends.astype(np.int64)


def integrator_downsample(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    t: np.ndarray,
    sensor_size: tuple,
    target_size: tuple,
    dt: float,
    noise_threshold: int = 0,
) -> tuple[np.ndarray, ...]:
    """ON/OFF differencing and an integrate-and-fire neuron per downsampled pixel (Tonic's
    ``integrator_downsample``): returns int32 columns (x, y, p, t)."""
    if len(t) == 0:
        return _EMPTY
    dt, columns, starts, ends = _windows_and_columns(x, y, p, t, sensor_size, target_size, dt)
    width, height = int(target_size[0]), int(target_size[1])
    rows, _, _ = _integrate(*columns, starts, ends, height, width, float(noise_threshold), np.zeros(0, np.int64), 0)
    times = (rows[:, 0] * dt).astype(np.int32)
    return rows[:, 1].astype(np.int32), rows[:, 2].astype(np.int32), rows[:, 3].astype(np.int32), times


def differentiator_downsample(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    t: np.ndarray,
    sensor_size: tuple,
    target_size: tuple,
    dt: float,
    differentiator_time_bins: int = 2,
    noise_threshold: int = 0,
) -> tuple[np.ndarray, ...]:
    """The integrator on ``differentiator_time_bins`` sub-windows of ``dt``, then an event where a
    pixel fired in more sub-windows than in the previous ``dt`` window (Tonic's
    ``differentiator_downsample``): returns int32 columns (x, y, p, t)."""
    if differentiator_time_bins < 1 or differentiator_time_bins % 1:
        raise ValueError(f"differentiator_time_bins must be a positive integer, got {differentiator_time_bins}")
    if len(t) == 0:
        return _EMPTY
    sub_dt, columns, starts, ends = _windows_and_columns(x, y, p, t, sensor_size, target_size, dt / differentiator_time_bins)
    frame_dt = dt * 1000 if np.issubdtype(t.dtype, np.integer) else dt
    # Tonic files each sub-window's histogram under frame int((window * sub_dt) // frame_dt).
    frame_of_window = ((np.arange(len(starts)) * sub_dt) // frame_dt).astype(np.int64)
    width, height = int(target_size[0]), int(target_size[1])
    _, frames, last_fired = _integrate(
        *columns, starts, ends, height, width, float(noise_threshold), frame_of_window, int(frame_of_window[-1]) + 1
    )
    if last_fired < 0:
        return _EMPTY
    # Tonic's frames are [frame, y, x, polarity]; these [frame, polarity, y, x].
    frames = frames[: frame_of_window[last_fired] + 1].transpose(0, 2, 3, 1)
    frame, y_new, x_new, p_new = np.nonzero(np.diff(frames, axis=0) > 0)
    times = (frame * frame_dt).astype(np.int32)
    return x_new.astype(np.int32), y_new.astype(np.int32), p_new.astype(np.int32), times
