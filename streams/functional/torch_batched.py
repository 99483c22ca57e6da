"""The representations of a whole padded batch of events, as torch operations on any device.

A batch is one tensor per field, ``t`` int64 ``[B, N]``, ``x``, ``y`` (absent for 1-D sensors)
and ``p`` ``[B, N]``, plus ``lengths`` ``[B]``: sample b's events are ``[b, :lengths[b]]``, the
rest is padding (``pad_events`` makes it; ``streams.transforms.device.batch_events`` is the
stage). Each function gives, sample by sample, the values of its CPU kernel in
``streams.functional.representations`` (so Tonic 1.7's values), stacked along a batch axis and
zero-padded where samples have different numbers of frames:

* counts (``to_frame``, ``to_image``) are exact on every device;
* float64 sums (``to_voxel_grid``) are exact on the CPU and equal up to rounding on CUDA, whose
  atomic adds sum in any order; time surfaces use torch's exp, equal to numpy's up to an ulp or
  two (CUDA's exp gives 0.0 for some results that numpy's rounds to a subnormal, below 2.2e-308).

The per-sample slice times (a few numbers per sample) are computed on the host with the CPU
kernels' own arithmetic and the event ranges found on the device (``torch.searchsorted``), so the
time-sliced modes need each sample's events sorted by t, as decoded records are; they raise
``ValueError`` otherwise (the CPU kernels take any order). Events outside the sensor are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from . import representations as R

SensorSize = Sequence[int]
_COUNT_MAX = int(R.FRAME_COUNT_MAX)


_TORCH_DTYPES = {np.dtype(np.int64): torch.int64, np.dtype(np.int32): torch.int32, np.dtype(np.int8): torch.int8}


def pad_events(events: Sequence[Mapping[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Events of B samples -> ``{"t" int64, "x", "y" int32, "p" int8: [B, N_max], "lengths" int64 [B]}``
    (``y`` only when every sample has one), zero-padded at the end.

    The tensors are views of one buffer, which a DataLoader worker moves to shared memory: the
    batch crosses to the main process as one segment rather than one per tensor."""
    if not events:
        raise ValueError("pad_events needs at least one sample")
    lengths = np.array([len(e["t"]) for e in events], np.int64)
    B, width = len(events), int(lengths.max(initial=0))
    names = [("t", np.int64), ("x", np.int32), ("p", np.int8)]
    if all("y" in e for e in events):
        names.insert(2, ("y", np.int32))
    # Largest items first, so that every field starts aligned to its item size.
    layout = [("lengths", np.dtype(np.int64), (B,))] + [(name, np.dtype(dtype), (B, width)) for name, dtype in names]
    sizes = [dtype.itemsize * int(np.prod(shape)) for _, dtype, shape in layout]
    raw = np.empty(sum(sizes), np.uint8)  # numpy's pages fault in 4x faster here than torch.empty's
    offsets = np.cumsum([0, *sizes])
    for (name, dtype, shape), start, stop in zip(layout, offsets, offsets[1:]):
        array = raw[start:stop].view(dtype).reshape(shape)
        if name == "lengths":
            array[:] = lengths
        else:
            for row, sample, n in zip(array, events, lengths):
                row[:n] = sample[name]
                row[n:] = 0
    buffer = torch.from_numpy(raw)
    if torch.utils.data.get_worker_info() is not None:
        buffer.share_memory_()  # moved once, here; the views below follow it
    batch = {
        name: buffer[start:stop].view(_TORCH_DTYPES[dtype]).view(shape)
        for (name, dtype, shape), start, stop in zip(layout, offsets, offsets[1:])
    }
    return {name: batch[name] for name in ["t", "x", "y", "p", "lengths"] if name in batch}


def _valid(lengths: torch.Tensor, width: int) -> torch.Tensor:
    return torch.arange(width, device=lengths.device)[None, :] < lengths[:, None]


def _pixels(
    x: torch.Tensor, y: torch.Tensor | None, p: torch.Tensor, valid: torch.Tensor, sensor_size: SensorSize
) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat index (c*H + y)*W + x of each event and whether it is a real event inside the sensor
    (the CPU kernels' rule: one channel on a single-polarity sensor, else channel p)."""
    W, H, P = (int(v) for v in sensor_size)
    x = x.long()
    inside = valid & (x >= 0) & (x < W)
    if y is not None:
        y = y.long()
        inside &= (y >= 0) & (y < H)
    else:
        y, H = torch.zeros_like(x), 1
    channel = torch.zeros_like(x) if P == 1 else p.long()
    inside &= (channel >= 0) & (channel < P)
    return (channel * H + y) * W + x, inside


def _count(counts: torch.Tensor, target: torch.Tensor) -> None:
    """counts[target] += 1; targets outside the sensor point at a spare last cell, so that no host
    sync is needed to drop them."""
    counts.index_add_(0, target.reshape(-1), torch.ones(target.numel(), dtype=counts.dtype, device=counts.device))


def _saturated(counts: torch.Tensor) -> torch.Tensor:
    """int16 counts without the spare cell, saturating as the CPU kernels do."""
    return counts[:-1].clamp_(max=_COUNT_MAX).to(torch.int16)


def to_image(
    x: torch.Tensor, y: torch.Tensor | None, p: torch.Tensor, lengths: torch.Tensor, sensor_size: SensorSize
) -> torch.Tensor:
    """``ToImage`` per sample: int16 ``[B, P, H, W]`` (``[B, P, W]`` without y)."""
    W, H, P = (int(v) for v in sensor_size)
    B, N = x.shape
    pixels, inside = _pixels(x, y, p, _valid(lengths, N), sensor_size)
    plane = P * (H if y is not None else 1) * W
    counts = torch.zeros(B * plane + 1, dtype=torch.int32, device=x.device)
    _count(counts, torch.where(inside, torch.arange(B, device=x.device)[:, None] * plane + pixels, B * plane))
    return _saturated(counts).reshape((B, P, H, W) if y is not None else (B, P, W))


def _check_sorted(t: torch.Tensor, lengths: torch.Tensor) -> None:
    later = _valid(lengths, t.shape[1])[:, 1:]
    if bool(((t[:, 1:] < t[:, :-1]) & later).any()):
        raise ValueError(
            "the device path slices by time with searchsorted and needs each sample's events "
            "sorted by t; use the CPU transform for unsorted events"
        )


def _searchsorted_rows(t: torch.Tensor, lengths: torch.Tensor, times: np.ndarray) -> torch.Tensor:
    """np.searchsorted(t[b, :lengths[b]], times[b]) for every row at once (padding sorts last)."""
    queries = torch.from_numpy(times).to(t.device)
    keys = t.double() if queries.is_floating_point() else t
    queries = queries.to(keys.dtype)
    top = torch.tensor(
        float("inf") if keys.is_floating_point() else torch.iinfo(torch.int64).max, dtype=keys.dtype, device=t.device
    )
    keys = torch.where(_valid(lengths, t.shape[1]), keys, top).contiguous()
    return torch.minimum(torch.searchsorted(keys, queries.contiguous()), lengths[:, None])


def _pad_rows(rows: list[np.ndarray], fill) -> np.ndarray:
    width = max(len(r) for r in rows)
    dtype = np.result_type(*rows)
    out = np.full((len(rows), width), fill, dtype)
    for out_row, row in zip(out, rows):
        out_row[: len(row)] = row
    return out


def frame_slices(
    t: torch.Tensor,
    lengths: torch.Tensor,
    time_window: float | None = None,
    event_count: int | None = None,
    n_time_bins: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0,
    include_incomplete: bool = False,
    start_time: float | None = None,
    end_time: float | None = None,
    last_bin_to_end: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each sample's ``to_frame`` slices as index ranges ``[starts, stops)`` ``[B, S_max]`` (padded
    with empty ranges past the end) and the number of slices ``[B]``."""
    R.frame_slices(np.zeros(0, np.int64), time_window, event_count, n_time_bins, n_event_bins)  # checks the mode
    n_events = lengths.tolist()
    if n_event_bins is not None and not overlap < 1:
        raise ValueError(f"the device path needs an n_event_bins overlap below 1 (slices in order), got {overlap}")
    if time_window is None and n_time_bins is None or not any(n_events):

        def ranges_of(n: int) -> tuple[np.ndarray, np.ndarray]:  # from the count alone: no t needed
            if n == 0:
                return R.frame_slices(np.zeros(0, np.int64), time_window, event_count, n_time_bins, n_event_bins)
            if event_count is not None:
                return R.slice_by_count(n, event_count, overlap, include_incomplete)
            return R.slice_by_event_bins(n, n_event_bins, overlap)

        ranges = [ranges_of(n) for n in n_events]
        counts = torch.tensor([len(a) for a, _ in ranges], device=t.device)
        big = max(n_events) + 1
        starts = torch.from_numpy(_pad_rows([a for a, _ in ranges], big)).to(t.device)
        stops = torch.from_numpy(_pad_rows([b for _, b in ranges], big)).to(t.device)
        return starts, stops, counts
    _check_sorted(t, lengths)
    index = torch.clamp(lengths - 1, min=0)[:, None]
    firsts, lasts = t[:, 0].tolist(), t.gather(1, index)[:, 0].tolist()
    windows = []
    for n, first, last in zip(n_events, firsts, lasts):
        if n == 0:  # one empty frame (time_window) or n_time_bins of them, as on the CPU
            count = 1 if time_window is not None else n_time_bins
            windows.append((np.full(count, np.iinfo(np.int64).max), np.full(count, np.iinfo(np.int64).max)))
        elif time_window is not None:
            windows.append(
                R.time_windows(np.int64(first), np.int64(last), time_window, overlap, include_incomplete, start_time, end_time)
            )
        else:
            windows.append(R.time_bin_windows(np.int64(first), np.int64(last), n_time_bins, overlap))
    counts = torch.tensor([len(w[0]) for w in windows], device=t.device)
    fill = np.inf if any(w[0].dtype.kind == "f" for w in windows) else np.iinfo(np.int64).max
    starts = _searchsorted_rows(t, lengths, _pad_rows([w[0] for w in windows], fill))
    stops = torch.maximum(_searchsorted_rows(t, lengths, _pad_rows([w[1] for w in windows], fill)), starts)
    if last_bin_to_end and n_time_bins is not None:
        stops[:, n_time_bins - 1] = lengths
    past = torch.arange(starts.shape[1], device=t.device)[None, :] >= counts[:, None]
    big = t.shape[1] + 1
    return starts.masked_fill(past, big), stops.masked_fill(past, big), counts


def _slices_of_events(starts: torch.Tensor, stops: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each event position k of each row, the first and last slice holding it (first > last:
    none). Slices of every mode start and stop in order, so those holding k are consecutive."""
    k = torch.arange(width, device=starts.device).expand(starts.shape[0], width).contiguous()
    first = torch.searchsorted(stops.contiguous(), k, right=True)  # slices ending at or before k come first
    last = torch.searchsorted(starts.contiguous(), k, right=True) - 1
    return first, last


def to_frame(
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor | None,
    p: torch.Tensor,
    lengths: torch.Tensor,
    sensor_size: SensorSize,
    time_window: float | None = None,
    event_count: int | None = None,
    n_time_bins: int | None = None,
    n_event_bins: int | None = None,
    overlap: float = 0,
    include_incomplete: bool = False,
    start_time: float | None = None,
    end_time: float | None = None,
    last_bin_to_end: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``ToFrame`` per sample: int16 frames ``[B, T_max, P, H, W]`` (``[B, T_max, P, W]`` without
    y), zero past each sample's frame count, and the counts ``[B]``."""
    W, H, P = (int(v) for v in sensor_size)
    B, N = x.shape
    starts, stops, counts = frame_slices(
        t,
        lengths,
        time_window,
        event_count,
        n_time_bins,
        n_event_bins,
        overlap,
        include_incomplete,
        start_time,
        end_time,
        last_bin_to_end,
    )
    S = starts.shape[1]
    plane = P * (H if y is not None else 1) * W
    pixels, inside = _pixels(x, y, p, _valid(lengths, N), sensor_size)
    first, last = _slices_of_events(starts, stops, N)
    copies = int((last - first + 1).clamp(min=0).masked_fill(~inside, 0).max()) if N else 0
    rows = torch.arange(B, device=x.device)[:, None] * S
    size = B * S * plane
    frames = torch.zeros(size + 1, dtype=torch.int32, device=x.device)
    for m in range(copies):  # an event lies in up to `copies` overlapping slices; 1 without overlap
        slice_ = first + m
        _count(frames, torch.where(inside & (slice_ <= last), (rows + slice_) * plane + pixels, size))
    shape = (B, S, P, H, W) if y is not None else (B, S, P, W)
    return _saturated(frames).reshape(shape), counts


def to_voxel_grid(
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    p: torch.Tensor,
    lengths: torch.Tensor,
    sensor_size: SensorSize,
    n_time_bins: int,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``ToVoxelGrid`` per sample: ``[B, n_time_bins, 1, H, W]`` (float64 as Tonic; ``dtype`` may
    ask for float32, summed in float32). Any event order, as on the CPU."""
    W, H, P = (int(v) for v in sensor_size)
    if P != 2:
        raise ValueError(f"the voxel grid needs a sensor with two polarities, got sensor_size {tuple(sensor_size)}")
    if n_time_bins < 1:
        raise ValueError(f"n_time_bins must be positive, got {n_time_bins}")
    B, N = x.shape
    if N == 0:
        return torch.zeros(B, n_time_bins, 1, H, W, dtype=dtype, device=x.device)
    pixels, inside = _pixels(x, y, p, _valid(lengths, N), (W, H, 1))
    index = torch.clamp(lengths - 1, min=0)[:, None]
    t0 = t[:, :1]
    span = (t.gather(1, index) - t0).double()
    ts = torch.where(
        span != 0, n_time_bins * (t.double() - t0.double()) / span, torch.zeros((), dtype=torch.float64, device=t.device)
    )
    bins = ts.trunc().long()
    share = ts - bins
    polarity = torch.where(p != 0, p.double(), -1.0)
    plane = H * W
    size = B * n_time_bins * plane
    grid = torch.zeros(size + 1, dtype=dtype, device=x.device)
    base = torch.arange(B, device=x.device)[:, None] * (n_time_bins * plane) + pixels
    # Tonic's order: every left share, then every right share.
    for offset, value in ((0, polarity * (1.0 - share)), (1, polarity * share)):
        bin_ = bins + offset
        target = torch.where(inside & (bin_ >= 0) & (bin_ < n_time_bins), base + bin_ * plane, size)
        grid.index_add_(0, target.reshape(-1), value.to(dtype).reshape(-1))
    return grid[:size].reshape(B, n_time_bins, 1, H, W)


def to_timesurface(
    t: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    p: torch.Tensor,
    lengths: torch.Tensor,
    sensor_size: SensorSize,
    dt: float,
    tau: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``ToTimesurface`` per sample: float64 ``[B, S_max, P, H, W]``, zero past each sample's
    surface count, and the counts ``[B]``. Events sorted by t in each sample."""
    W, H, P = (int(v) for v in sensor_size)
    B, N = x.shape
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    if N == 0:  # one zero surface each, as on the CPU
        return torch.zeros(B, 1, P, H, W, dtype=torch.float64, device=x.device), torch.ones(B, dtype=torch.int64, device=x.device)
    starts, stops, counts = frame_slices(t, lengths, time_window=dt)
    S = starts.shape[1]
    plane = P * H * W
    pixels, inside = _pixels(x, y, p, _valid(lengths, N), sensor_size)
    first, _ = _slices_of_events(starts, stops, N)  # the surface from which on event k is remembered
    inside &= first < counts[:, None]
    size = B * S * plane
    memory = torch.full((size + 1,), -torch.inf, dtype=torch.float64, device=x.device)
    target = torch.where(inside, (torch.arange(B, device=x.device)[:, None] * S + first) * plane + pixels, size)
    memory.scatter_reduce_(0, target.reshape(-1), t.double().reshape(-1), reduce="amax")  # sorted: the last event
    memory = torch.cummax(memory[:size].reshape(B, S, plane), dim=1).values
    ends = [R.timesurface_ends(s, dt, np.int64(first_t)) for s, first_t in zip(counts.tolist(), t[:, 0].tolist())]
    ends = torch.from_numpy(_pad_rows(ends, np.inf)).to(x.device)
    # A tensor divisor: CUDA divides by a host scalar as a multiplication by its reciprocal, an ulp off.
    surfaces = torch.exp((memory - ends[:, :, None]) / torch.tensor(float(tau), dtype=torch.float64, device=x.device))
    surfaces = surfaces.masked_fill((torch.arange(S, device=x.device)[None, :] >= counts[:, None])[:, :, None], 0)
    return surfaces.reshape(B, S, P, H, W), counts
