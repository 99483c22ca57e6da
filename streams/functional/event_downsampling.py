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

Both return an int32 array [4, n] of columns x, y, p, t (Tonic's output fields): the transposed
view of [n, 4] records, Tonic's structured output as it lies in memory.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from .events import _wrap_array


@numba.njit(cache=True, nogil=True, inline="always")
def _steps_down(t, begin, end):  # pragma: no cover - compiled
    """Whether t steps down anywhere in [begin, end), without a branch per step."""
    step_down = False
    for k in range(max(begin, 1), end):
        step_down |= not t[k] >= t[k - 1]  # a NaN counts as one: numpy sorts it last
    return step_down


@numba.njit(cache=True, nogil=True)
def _sorted_left_bounds(t, keys):  # pragma: no cover - compiled
    """For sorted ``t`` and non-decreasing ``keys``: the first index with float(t) >= key for each
    key, ``np.searchsorted``'s answer (it compares in float64), on t as it is (numpy would convert
    all of it). Each search gallops from the previous bound, so that it reads near it (a window's
    ~1000 events) rather than bisecting the whole recording."""
    bounds = np.empty(len(keys), dtype=np.int64)
    low = 0
    for m in range(len(keys)):
        # low: no t before it is >= the key; grow a step until t[low + step - 1] is.
        step = 1
        while low + step <= len(t) and np.float64(t[low + step - 1]) < keys[m]:
            low += step
            step *= 2
        high = min(low + step - 1, len(t))
        while low < high:
            middle = (low + high) // 2
            if np.float64(t[middle]) < keys[m]:
                low = middle + 1
            else:
                high = middle
        bounds[m] = low
    return bounds


def _window_keys(t: np.ndarray, time_window: float) -> tuple[np.ndarray, np.ndarray]:
    """Tonic's SliceByTime(time_window) keys: the float start and end times of each whole window."""
    start_time, end_time = t[0], t[-1]
    duration = end_time - start_time
    stride = time_window - 0.0
    n_slices = max(int(np.floor((duration - time_window) / stride) + 1), 1)
    window_starts = np.arange(n_slices) * stride + start_time
    return window_starts, window_starts + time_window


def _on_windows(kernel, t: np.ndarray, keys: tuple[np.ndarray, np.ndarray], *arguments) -> np.ndarray:
    """``kernel(t, starts, ends, check, *arguments)`` on the windows' (first index, end index), as
    Tonic finds them with ``np.searchsorted(t, keys)``: by bisection, as if t were sorted, the
    kernel checking that it is in its pass over the events (so that they are read once); when it
    is not, again on numpy's own search, whose answer then depends on its algorithm."""
    starts, ends = (_sorted_left_bounds(t, k) for k in keys)
    events, unsorted = kernel(t, starts, ends, True, *arguments)
    if unsorted:
        starts, ends = (np.searchsorted(t, k).astype(np.int64) for k in keys)
        events, _ = kernel(t, starts, ends, False, *arguments)
    return events


def _frame_index(values: np.ndarray, scale: float | None, size: int, stride: int) -> np.ndarray:
    """Tonic's frame index of each value along an axis of ``size``, times ``stride``: the value
    rescaled as Tonic does (``values * scale`` stored back into the values' dtype; None: as is),
    by Python's index rule; -1 where that cannot index (Tonic raises)."""
    rescaled = values if scale is None else (values * scale).astype(values.dtype)
    index = _wrap_array(rescaled.astype(np.int64), size)
    return np.where(index < 0, -1, index * stride)


@functools.lru_cache(maxsize=32)
def _every_value_index(dtype: np.dtype, scale: float | None, size: int, stride: int) -> np.ndarray:
    """``_frame_index`` of every value of an 8- or 16-bit dtype, lowest first: a transform keeps
    its sizes from call to call, so its tables are made once."""
    low, high = (0, 1) if dtype == np.bool_ else (np.iinfo(dtype).min, np.iinfo(dtype).max)
    return _frame_index(np.arange(low, high + 1).astype(dtype), scale, size, stride)


_TABLE_LIMIT = 1 << 20


def _index_column(values: np.ndarray, scale: float | None, size: int, stride: int) -> tuple:
    """(values, table, low) for ``_lookup``: the ``_frame_index`` of a value v is ``table[v - low]``,
    computed once per distinct value; for a range too wide for a table, (each value's frame index
    along the axis + 1, from 0 where it cannot index, the table of their ``_frame_index``, 0): one
    way of lookup for every column, so that the kernels test none per event."""
    if values.dtype.kind in "bui" and values.dtype.itemsize <= 2:
        low = 0 if values.dtype == np.bool_ else np.iinfo(values.dtype).min
        return values, _every_value_index(values.dtype, scale, size, stride), int(low)
    if values.dtype.kind in "iu" and len(values):
        low, high = int(values.min()), int(values.max())
        if high - low < _TABLE_LIMIT:
            return values, _frame_index(np.arange(low, high + 1).astype(values.dtype), scale, size, stride), low
    return _frame_index(values, scale, size, 1) + 1, np.concatenate(([-1], np.arange(size) * stride)), 0


@numba.njit(cache=True, nogil=True, inline="always")
def _lookup(values, table, low, k):  # pragma: no cover - compiled
    # An unsigned index (never below low): no test for a negative index per event.
    return table[np.uint64(np.int64(values[k]) - low)]


@numba.njit(cache=True, nogil=True, inline="always")
def _gather_lowest_bits(word):  # pragma: no cover - compiled
    """The lowest bit of each of the 8 bytes of ``word``, as the 8 bits of one byte (byte i -> bit i)."""
    return ((word & np.uint64(0x0101010101010101)) * np.uint64(0x0102040810204080)) >> np.uint64(56)


@numba.njit(cache=True, nogil=True, inline="always")
def _append_bits(listed, n, bits, first, scale, offset):  # pragma: no cover - compiled
    """Writes ``(first + i) * scale + offset`` for each set bit i of ``bits`` to ``listed`` from n,
    lowest first; returns the index past them. Four are written whatever the bits' number (past
    them: at that index, which the next one overwrites, so ``listed`` needs a slot of room): a
    loop that ends at the last set bit mispredicts its exit, which costs more than these writes
    where few of 64 bits are set."""
    for _ in range(4):
        listed[n] = (first + trailing_zeros(bits)) * scale + offset
        n += np.int64(bits != 0)
        bits &= bits - np.uint64(1)
    while bits:
        listed[n] = (first + trailing_zeros(bits)) * scale + offset
        n += 1
        bits &= bits - np.uint64(1)
    return n


@numba.njit(cache=True, nogil=True, inline="always")
def _list_flags(flags, listed, n, scale, offset):  # pragma: no cover - compiled
    """Writes ``index * scale + offset`` for each index whose flag is 1 to ``listed`` from n,
    ascending; returns the index past them. ``flags``: bytes 0 or 1, whole groups of 64, each
    gathered into a mask (8 bytes by one multiplication; the 8 words by a loop of fixed count,
    which the compiler vectorizes) whose bits _append_bits lists."""
    words = flags.view(np.uint64)
    for group in range(0, len(words), 8):
        bits = np.uint64(0)
        for word in range(group, group + 8):
            bits |= _gather_lowest_bits(words[word]) << np.uint64(8 * (word - group))
        n = _append_bits(listed, n, bits, 8 * group, scale, offset)
    return n


@numba.njit(cache=True, nogil=True, inline="always")
def _integrate_window(columns, start, end, threshold, work):  # pragma: no cover - compiled
    """One window of Tonic's integrator: count events[start:end] per polarity and cell (cell =
    y * width + x), add ON - OFF to ``spike``, fire and reset. ``columns``: x, y and p as
    ``_index_column``s whose strides (1, width, the cells' count) make the sum of an event's three
    lookups its place in ``counts`` (flat [polarity, cell], int16 as Tonic's frames). Returns how
    many fired, listed in ``fired``: keys ``cell * 2 + polarity``, ON ones first, each in
    row-major order as Tonic lists them."""
    x, x_table, x_low, y, y_table, y_low, p, p_table, p_low = columns
    counts, spike, fired_flags, fired = work
    plane = len(spike)
    # Slices: the compiled loop over each is faster than over a range of the whole columns.
    x, y, p = x[start:end], y[start:end], p[start:end]
    for k in range(end - start):
        i = _lookup(x, x_table, x_low, k)
        j = _lookup(y, y_table, y_low, k)
        c = _lookup(p, p_table, p_low, k)
        if (i | j | c) >= 0:
            counts[c + j + i] += 1
    off, on = counts[:plane], counts[plane:]  # apart, so that the compiler vectorizes the loop
    for cell in range(plane):
        # Added in place, so that the value has the spike's type: int32 spikes are then tested 8
        # cells at a time (Tonic's float64: 4).
        spike[cell] += np.int16(on[cell] - off[cell])
        value = spike[cell]
        # Tonic tests both on the value before any reset: with threshold <= 0 a zero fires both.
        fires_on, fires_off = value >= threshold, -value >= threshold
        spike[cell] = 0 if fires_on | fires_off else value
        fired_flags[0, cell], fired_flags[1, cell] = fires_off, fires_on
    counts[:] = 0
    return _list_flags(fired_flags[0], fired, _list_flags(fired_flags[1], fired, 0, 2, 1), 2, 0)


@numba.njit(cache=True, nogil=True)
def _work(plane, threshold):  # pragma: no cover - compiled
    """The integrator's arrays: counts, spike (the threshold's type, see _spike_threshold), whether
    each cell fired [polarity, cell] (whole groups of 64 cells, for _list_flags), the fired keys
    (with _append_bits' slot of room)."""
    padded = (plane + 63) // 64 * 64
    return (
        np.zeros(2 * plane, dtype=np.int16),
        np.zeros(plane, dtype=np.asarray(threshold).dtype),
        np.zeros((2, padded), dtype=np.uint8),
        np.empty(2 * padded + 1, dtype=np.int64),
    )


@numba.njit(cache=True, nogil=True)
def _room(out, size):  # pragma: no cover - compiled
    """``out`` (int32 records x, y, p, t) with room for ``size`` events, doubled as needed."""
    if size <= len(out):
        return out
    capacity = len(out)
    while capacity < size:
        capacity *= 2
    grown = np.empty((capacity, 4), dtype=np.int32)
    grown[: len(out)] = out
    return grown


@numba.njit(cache=True, nogil=True, inline="always")
def _emit(out, n, key, x_of_cell, y_of_cell, time):  # pragma: no cover - compiled
    """Event n of ``out`` = the pixel and polarity of key ``cell * 2 + polarity`` at ``time``."""
    cell = key >> 1
    out[n, 0], out[n, 1], out[n, 2], out[n, 3] = x_of_cell[cell], y_of_cell[cell], key & 1, time


@numba.njit(cache=True, nogil=True)
def _integrator_events(t, starts, ends, check, columns, height, width, threshold, time_of_window):  # pragma: no cover - compiled
    """Integrator events (int32 records x, y, p, t) in Tonic's order, and (when ``check``) whether t steps
    down (the window bounds are then wrong)."""
    checked, unsorted = 0, False
    work = _work(height * width, threshold)
    fired = work[3]
    cells = np.arange(height * width)
    x_of_cell, y_of_cell = cells % width, cells // width  # not a division per event
    # Room for the most it can emit, so that it never grows (copies and fresh pages: 10% of its
    # time); pages never written are never mapped. With threshold > 0 a window emits at most
    # one event per cell it counted (a cell fires ON or OFF), else both for every cell.
    most = 0
    for window in range(len(starts)):
        most += max(ends[window] - starts[window], 0) if threshold > 0 else 2 * height * width
    out = np.empty((most, 4), dtype=np.int32)
    n = 0
    for window in range(len(starts)):
        if check:  # the window's events just read, counted next while in cache
            unsorted |= _steps_down(t, checked, ends[window])
            checked = max(checked, ends[window])
        k = _integrate_window(columns, starts[window], ends[window], threshold, work)
        for m in range(k):
            _emit(out, n + m, fired[m], x_of_cell, y_of_cell, time_of_window[window])
        n += k
    return out[:n], check and (unsorted or _steps_down(t, checked, len(t)))


@numba.njit(cache=True, nogil=True)
def _differentiator_events(
    t, starts, ends, check, columns, height, width, threshold, frame_of_window, time_of_frame, fires
):  # pragma: no cover - compiled
    """Differentiator events (int32 records x, y, p, t) in Tonic's order: a pixel and polarity that fired
    in more windows of frame f + 1 than of frame f gives an event for f (Tonic's
    ``np.nonzero(np.diff(frames) > 0)`` over frames [frame, y, x, polarity]). Only two frames are
    kept: frame f in slot f % 2 of ``fires`` ([2, keys], zeroed here), how many of its windows
    fired each key. And, as ``_integrator_events``, whether t steps down."""
    checked, unsorted = 0, False
    plane = height * width
    work = _work(plane, threshold)
    fired = work[3]
    cells = np.arange(plane)
    x_of_cell, y_of_cell = cells % width, cells // width
    fires[:] = 0
    # The keys that fired in more windows than in the frame before, as _list_flags' flags and list.
    rising = np.zeros(work[2].size, dtype=np.uint8)
    rising_keys = np.empty(len(rising) + 1, dtype=np.int64)
    out = np.empty((1024, 4), dtype=np.int32)
    n = 0
    frame = -1
    # One step past the windows closes the last frame.
    for window in range(len(starts) + 1):
        if check and window < len(starts):
            unsorted |= _steps_down(t, checked, ends[window])
            checked = max(checked, ends[window])
        k = _integrate_window(columns, starts[window], ends[window], threshold, work) if window < len(starts) else 0
        closing = window == len(starts) or (k and frame_of_window[window] != frame)
        if closing and frame >= 1:
            now, before = fires[frame % 2], fires[(frame - 1) % 2]
            for key in range(len(now)):
                rising[key] = now[key] > before[key]
            k_rising = _list_flags(rising, rising_keys, 0, 1, 0)
            out = _room(out, n + k_rising)
            for m in range(k_rising):
                _emit(out, n + m, rising_keys[m], x_of_cell, y_of_cell, time_of_frame[frame - 1])
            n += k_rising
            before[:] = 0
        if closing and window < len(starts):
            if frame_of_window[window] > frame + 1:
                fires[:] = 0  # the frames between fired nothing
            frame = frame_of_window[window]
        for m in range(k):
            fires[frame % 2, fired[m]] += 1
    return out[:n], check and (unsorted or _steps_down(t, checked, len(t)))


_EMPTY = np.zeros((0, 4), np.int32)


def _spike_threshold(threshold: float, n_events: int) -> np.integer:
    """Tonic's float64 spikes, as integers: sums of windows' ON - OFF counts (int16), each at most
    the cell's events in its window, so at most ``n_events`` in size, held by int32 below 2^31 - 1
    events. For them ``value >= threshold`` is ``value >= ceil(threshold)`` clipped to a bound
    past them (NaN: nothing fires), returned in the spikes' type."""
    dtype, bound = (np.int32, 2**31 - 1) if n_events < 2**31 - 1 else (np.int64, 2**53)
    return dtype(bound if np.isnan(threshold) else np.clip(np.ceil(threshold), -bound, bound))


def _windows_and_columns(x, y, p, t, sensor_size, target_size, dt):
    """Tonic's common steps: dt in µs for integer timestamps, window keys, columns for the kernels."""
    if np.issubdtype(t.dtype, np.integer):
        dt = dt * 1000
    keys = _window_keys(t, dt)
    factor = np.asarray(target_size) / tuple(sensor_size)[:-1]
    width, height = int(target_size[0]), int(target_size[1])
    columns = (
        *_index_column(x, factor[0], width, 1),
        *_index_column(y, factor[1], height, width),
        *_index_column(p, None, 2, width * height),
    )
    return dt, columns, keys


def integrator_downsample(
    x: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    t: np.ndarray,
    sensor_size: tuple,
    target_size: tuple,
    dt: float,
    noise_threshold: int = 0,
) -> np.ndarray:
    """ON/OFF differencing and an integrate-and-fire neuron per downsampled pixel (Tonic's
    ``integrator_downsample``): int32 columns [4, n] (x, y, p, t), see the module doc."""
    if len(t) == 0:
        return _EMPTY.T
    dt, columns, keys = _windows_and_columns(x, y, p, t, sensor_size, target_size, dt)
    width, height = int(target_size[0]), int(target_size[1])
    # Tonic's times: window * dt, stored as int32.
    times = (np.arange(len(keys[0])) * dt).astype(np.int32)
    return _on_windows(_integrator_events, t, keys, columns, height, width, _spike_threshold(noise_threshold, len(t)), times).T


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
) -> np.ndarray:
    """The integrator on ``differentiator_time_bins`` sub-windows of ``dt``, then an event where a
    pixel fired in more sub-windows than in the previous ``dt`` window (Tonic's
    ``differentiator_downsample``): int32 columns [4, n] (x, y, p, t), see the module doc."""
    if differentiator_time_bins < 1 or differentiator_time_bins % 1:
        raise ValueError(f"differentiator_time_bins must be a positive integer, got {differentiator_time_bins}")
    if len(t) == 0:
        return _EMPTY.T
    sub_dt, columns, keys = _windows_and_columns(x, y, p, t, sensor_size, target_size, dt / differentiator_time_bins)
    frame_dt = dt * 1000 if np.issubdtype(t.dtype, np.integer) else dt
    # Tonic files each sub-window's histogram under frame int((window * sub_dt) // frame_dt).
    frame_of_window = ((np.arange(len(keys[0])) * sub_dt) // frame_dt).astype(np.int64)
    width, height = int(target_size[0]), int(target_size[1])
    times = (np.arange(frame_of_window[-1] + 1) * frame_dt).astype(np.int32)
    # Counts of a frame's windows (about differentiator_time_bins): int32, compared twice as fast.
    fires = np.empty((2, 2 * width * height), np.int32 if differentiator_time_bins < 2**30 else np.int64)
    arguments = (columns, height, width, _spike_threshold(noise_threshold, len(t)), frame_of_window, times, fires)
    return _on_windows(_differentiator_events, t, keys, *arguments).T
