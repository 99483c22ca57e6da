"""Tonic's representations under Tonic's names and arguments (``tonic.transforms``, 1.7).

Each is a small frozen dataclass called as ``transform(events, *, rng=None, sensor_size=None)``
on a Tonic-style structured array (fields t, x, y, p; y absent for 1-D sensors) or on a decoded
sample's events mapping ``{"t", "x", "y", "p"}``. ``sensor_size`` (W, H, P) is the transform's
own when given (Tonic's first argument), else the one passed at the call (a stream passes the
sample's). ``rng`` is accepted for the shared transform protocol and unused: representations are
deterministic. The values are Tonic's; where Tonic raises or corrupts data the rules of
``streams.functional.representations`` apply::

    from streams.transforms import ToFrame
    frames = ToFrame(sensor_size=(128, 128, 2), n_time_bins=10)(events)   # int16 [10, 2, 128, 128]

``ToFrame``, ``ToImage``, ``ToVoxelGrid`` and ``ToTimesurface`` also compute a whole batch of
events at once on its device, with the same values sample by sample: ``on_batch(batch)`` takes a
batch of ``streams.transforms.device.collate_events`` (moved with ``to_device``) and calls
``streams.functional.torch_batched``::

    to_frames = ToFrame(n_time_bins=10)
    for batch in stream.batch(64, collate=collate_events).loader(num_workers=4, pin_memory=True):
        frames, n_frames = to_frames.on_batch(to_device(batch, "cuda"))   # [64, 10, 2, H, W] int16
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from ..functional import representations as R
from ..functional import torch_batched as TB

SensorSize = tuple[int, int, int]


def _sensor_size(own: SensorSize | None, given: SensorSize | None, name: str) -> SensorSize:
    size = own if own is not None else given
    if size is None:
        raise ValueError(f"{name} needs a sensor_size (W, H, P): give it to {name}(...) or at the call")
    return tuple(int(v) for v in size)


class Representation:
    """A transform from events to an array (frames, a grid, surfaces, an image): in a stream its
    result becomes the sample's ``"frames"``, which ``batch()`` pads and stacks."""


def _batch_fields(batch: dict[str, Any]) -> tuple:
    """``(t, x, y, p, lengths)`` of a ``collate_events`` batch (y None for 1-D sensors)."""
    missing = [name for name in ("t", "x", "p", "lengths") if name not in batch]
    if missing:
        raise ValueError(f"on_batch() takes a batch of streams.transforms.device.collate_events; this one lacks {missing}")
    return batch["t"], batch["x"], batch.get("y"), batch["p"], batch["lengths"]


def _batch_sensor_size(own: SensorSize | None, batch: dict[str, Any], name: str) -> SensorSize:
    return _sensor_size(own, batch.get("sensor_size"), name)


@dataclass(frozen=True)
class ToFrame(Representation):
    """Events counted into int16 frames ``[T, P, H, W]`` (``[T, P, W]`` for 1-D sensors), sliced by
    exactly one of ``time_window`` (µs; ``overlap`` in µs), ``event_count`` (``overlap`` in
    events), ``n_time_bins`` or ``n_event_bins`` (``overlap`` a fraction of a bin, below 1), as
    ``tonic.slicers`` slices. ``include_incomplete`` keeps the last, shorter slice of the first two.

    Tonic's ``n_time_bins`` bins stop short of the last event(s); ``last_bin_to_end=True`` (not
    Tonic's rule, off by default) lets the last bin take them. Without any ``sensor_size``, it is
    inferred from the sample as Tonic does (max x + 1, max y + 1, number of polarity values).
    """

    sensor_size: SensorSize | None = None
    time_window: float | None = None
    event_count: int | None = None
    n_time_bins: int | None = None
    n_event_bins: int | None = None
    overlap: float = 0
    include_incomplete: bool = False
    start_time: float | None = None
    end_time: float | None = None
    last_bin_to_end: bool = False

    def _slicing(self) -> dict[str, Any]:
        """The slicing arguments, named as both the CPU and the batched kernels take them."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sensor_size"}

    def __call__(self, events: Any, *, rng: Any = None, sensor_size: SensorSize | None = None) -> np.ndarray:
        t, x, y, p = R.event_fields(events)
        size = self.sensor_size if self.sensor_size is not None else sensor_size
        return R.to_frame(t, x, y, p, size, **self._slicing())

    def on_batch(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames of every sample of a ``collate_events`` batch, on its device: int16
        ``[B, T_max, P, H, W]``, zero past each sample's frame count, and the counts ``[B]``."""
        return TB.to_frame(*_batch_fields(batch), _batch_sensor_size(self.sensor_size, batch, "ToFrame"), **self._slicing())


@dataclass(frozen=True)
class ToSparseTensor(Representation):
    """``ToFrame``'s frames as a sparse torch COO tensor (``.to_dense()`` gives them back)."""

    sensor_size: SensorSize | None = None
    time_window: float | None = None
    event_count: int | None = None
    n_time_bins: int | None = None
    n_event_bins: int | None = None
    overlap: float = 0
    include_incomplete: bool = False

    def __call__(self, events: Any, *, rng: Any = None, sensor_size: SensorSize | None = None):
        frames = ToFrame(
            self.sensor_size,
            self.time_window,
            self.event_count,
            self.n_time_bins,
            self.n_event_bins,
            self.overlap,
            self.include_incomplete,
        )(events, sensor_size=sensor_size)
        return torch.from_numpy(frames).to_sparse()


@dataclass(frozen=True)
class ToImage(Representation):
    """Every event counted into one int16 frame ``[P, H, W]``."""

    sensor_size: SensorSize | None = None

    def __call__(self, events: Any, *, rng: Any = None, sensor_size: SensorSize | None = None) -> np.ndarray:
        _, x, y, p = R.event_fields(events)
        return R.to_image(x, y, p, _sensor_size(self.sensor_size, sensor_size, "ToImage"))

    def on_batch(self, batch: dict[str, Any]) -> torch.Tensor:
        """The image of every sample of a ``collate_events`` batch, on its device: int16 ``[B, P, H, W]``."""
        _, x, y, p, lengths = _batch_fields(batch)
        return TB.to_image(x, y, p, lengths, _batch_sensor_size(self.sensor_size, batch, "ToImage"))


@dataclass(frozen=True)
class ToVoxelGrid(Representation):
    """Zhu et al. 2019's voxel grid: float64 ``[n_time_bins, 1, H, W]``, each event's polarity
    (+1, or -1 for p = 0) shared bilinearly between the two nearest time bins."""

    sensor_size: SensorSize | None = None
    n_time_bins: int | None = None

    def __call__(self, events: Any, *, rng: Any = None, sensor_size: SensorSize | None = None) -> np.ndarray:
        if self.n_time_bins is None:
            raise ValueError("ToVoxelGrid needs n_time_bins")
        t, x, y, p = R.event_fields(events)
        return R.to_voxel_grid(t, x, y, p, _sensor_size(self.sensor_size, sensor_size, "ToVoxelGrid"), self.n_time_bins)

    def on_batch(self, batch: dict[str, Any], dtype: torch.dtype | None = None) -> torch.Tensor:
        """The voxel grid of every sample of a ``collate_events`` batch, on its device:
        ``[B, n_time_bins, 1, H, W]`` float64 as Tonic (``dtype=torch.float32`` sums in float32)."""
        if self.n_time_bins is None:
            raise ValueError("ToVoxelGrid needs n_time_bins")
        size = _batch_sensor_size(self.sensor_size, batch, "ToVoxelGrid")
        return TB.to_voxel_grid(*_batch_fields(batch), size, self.n_time_bins, dtype or torch.float64)


@dataclass(frozen=True)
class ToTimesurface(Representation):
    """Lagorce et al. 2016's time surfaces over the whole sensor, one at the end of each ``dt``
    window: float64 ``[S, P, H, W]`` = exp(-(window end - each pixel's last timestamp) / tau)."""

    sensor_size: SensorSize | None = None
    dt: float | None = None
    tau: float | None = None

    def __call__(self, events: Any, *, rng: Any = None, sensor_size: SensorSize | None = None) -> np.ndarray:
        if self.dt is None or self.tau is None:
            raise ValueError("ToTimesurface needs dt and tau")
        t, x, y, p = R.event_fields(events)
        return R.to_timesurface(t, x, y, p, _sensor_size(self.sensor_size, sensor_size, "ToTimesurface"), self.dt, self.tau)

    def on_batch(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Time surfaces of every sample of a ``collate_events`` batch, on its device: float64
        ``[B, S_max, P, H, W]``, zero past each sample's count, and the counts ``[B]``."""
        if self.dt is None or self.tau is None:
            raise ValueError("ToTimesurface needs dt and tau")
        size = _batch_sensor_size(self.sensor_size, batch, "ToTimesurface")
        return TB.to_timesurface(*_batch_fields(batch), size, self.dt, self.tau)


@dataclass(frozen=True)
class ToAveragedTimesurface(Representation):
    """Sironi et al. 2018's histograms of averaged time surfaces (HATS): float32
    ``[n_cells, P, surface_size, surface_size]`` over cells of ``cell_size`` pixels; ``decay``
    "exp" or "lin"; ``time_window`` and ``tau`` in µs."""

    sensor_size: SensorSize | None = None
    surface_size: int = 5
    cell_size: int = 10
    time_window: float = 1e3
    tau: float = 100
    decay: str = "exp"

    def __call__(self, events: Any, *, rng: Any = None, sensor_size: SensorSize | None = None) -> np.ndarray:
        t, x, y, p = R.event_fields(events)
        return R.to_averaged_timesurface(
            t,
            x,
            y,
            p,
            _sensor_size(self.sensor_size, sensor_size, "ToAveragedTimesurface"),
            self.cell_size,
            self.surface_size,
            self.time_window,
            self.tau,
            self.decay,
        )


@dataclass(frozen=True)
class ToBinaRep(Representation):
    """Barchid et al. 2022's Bina-Rep: ``n_frames * n_bits`` event frames (``ToFrame``'s, say) ->
    float32 ``[n_frames, P, H, W]``, each n_bits binary frames read as one n-bit number in [0, 1].
    Takes frames, not events."""

    n_frames: int = 1
    n_bits: int = 8

    def __call__(self, event_frames: np.ndarray, *, rng: Any = None, sensor_size: SensorSize | None = None) -> np.ndarray:
        return R.to_bina_rep(event_frames, self.n_frames, self.n_bits)


__all__ = ["ToAveragedTimesurface", "ToBinaRep", "ToFrame", "ToImage", "ToSparseTensor", "ToTimesurface", "ToVoxelGrid"]
