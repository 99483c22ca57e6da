"""Pipeline stages: small generator functions over an iterator of samples, curried with their
parameters. Each composes in ``webdataset.DataPipeline``::

    wds.DataPipeline(source, decode(), frames(frames_number=16), batch(32))

and ``EventStream`` chains the same stages fluently (``stream.frames(...).batch(...)``).

A decoded sample is ``{"__key__", "events": {"t","x","y","p"}, "label", "sensor_size", ...}``.
Randomness comes from ``(seed, epoch, key)``, so a sample gets the same augmentation in an epoch
whichever worker or rank reads it, and a different one in the next epoch.

``frames`` and ``batch`` are small classes rather than ``pipelinefilter`` functions because they
declare facts the stream needs: ``batch`` its batch size (the epoch plan hands whole batches to
DataLoader workers), ``frames`` that it can be fused with a following ``batch``
(``Frames.fused_with``). Their arguments are checked when the stage is built, not when a worker
first runs it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from webdataset.filters import pipelinefilter

from neuroshards.errors import RecordError, SampleError
from neuroshards.record import EVENTS_MEMBER, LABEL_MEMBER, decode_events, decode_record

from .lazy import lazy_module

F = lazy_module("streams.functional")  # its numba kernels load when a stage first runs

Sample = dict[str, Any]
SPLIT_BY = ("number", "time")


def _where(sample: Sample) -> str:
    return f"{sample.get('__url__', '?')}: sample {sample.get('__key__', '?')!r}"


def sample_rng(seed: int, sample: Sample) -> np.random.Generator:
    key = zlib.crc32(str(sample.get("__key__", "")).encode())
    return np.random.default_rng([seed, int(sample.get("__epoch__", 0)), key])


def decode_sample(sample: Sample) -> Sample:
    """A raw sample (tar members as bytes) -> a decoded one; the record's errors name the shard."""
    data = sample.get(EVENTS_MEMBER)
    if data is None:
        raise SampleError(f"{_where(sample)}: no '{EVENTS_MEMBER}' member (members: {sorted(sample)})")
    try:
        record = decode_record(data, key=sample["__key__"])
        events = decode_events(record, key=sample["__key__"])
        sensor_size = tuple(int(side) for side in record["sensor_size"])
        label = int(sample[LABEL_MEMBER]) if LABEL_MEMBER in sample else None
    except RecordError as error:
        raise SampleError(f"{sample.get('__url__', '?')}: {error}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise SampleError(f"{_where(sample)}: malformed record or label ({type(error).__name__}: {error})") from None
    decoded = {name: value for name, value in sample.items() if name not in (EVENTS_MEMBER, LABEL_MEMBER)}
    decoded["events"] = events
    decoded["sensor_size"] = sensor_size
    if label is not None:
        decoded["label"] = label
    return decoded


def _decode(source: Iterable[Sample]) -> Iterator[Sample]:
    for sample in source:
        yield decode_sample(sample)


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


class Frames:
    """Integrate each sample's events into frames (SpikingJelly's rules): exactly one of
    ``frames_number`` (with ``split_by`` 'number' or 'time'), ``duration`` (µs per frame) or
    ``function(events, H, W) -> frames``."""

    def __init__(
        self,
        frames_number: int | None = None,
        split_by: str = "number",
        duration: int | None = None,
        function: Callable[[dict, int, int], np.ndarray] | None = None,
        dtype: Any = np.float32,
    ):
        chosen = [
            name
            for name, value in (("frames_number", frames_number), ("duration", duration), ("function", function))
            if value is not None
        ]
        if len(chosen) != 1:
            raise ValueError(f"frames() takes exactly one of frames_number=, duration= or function=, got {chosen or 'none'}")
        if frames_number is not None:
            _check_positive("frames_number", frames_number)
        if duration is not None:
            _check_positive("duration", duration)
        if split_by not in SPLIT_BY:
            raise ValueError(f"split_by must be one of {SPLIT_BY}, got {split_by!r}")
        if function is not None and not callable(function):
            raise ValueError(f"function must be callable, got {function!r}")
        self.frames_number, self.split_by, self.duration, self.function = frames_number, split_by, duration, function
        self.dtype = np.dtype(dtype)

    def __call__(self, source: Iterable[Sample]) -> Iterator[Sample]:
        for sample in source:
            yield {**sample, "frames": self.sample_frames(sample)}

    def sample_frames(self, sample: Sample, out: np.ndarray | None = None) -> np.ndarray:
        """One sample's frames; with ``out`` (fixed frame number, 2-D sensor) counted into it."""
        W, H = sample["sensor_size"][:2]
        events = sample["events"]
        try:
            if self.function is not None:
                return self.function(events, H, W)
            if "y" not in events:  # a 1-D (audio) sensor [W, 1, 1]: frames [T, W], SpikingJelly's SHD rule
                if self.duration is not None:
                    return F.one_dimensional.integrate_events_by_fixed_duration(events, self.duration, W, dtype=self.dtype)
                return F.one_dimensional.integrate_events_by_fixed_frames_number(
                    events, self.split_by, self.frames_number, W, dtype=self.dtype
                )
            if self.duration is not None:
                return F.integrate_events_by_fixed_duration(events, self.duration, H, W, dtype=self.dtype)
            return F.integrate_events_by_fixed_frames_number(
                events, self.split_by, self.frames_number, H, W, dtype=self.dtype, out=out
            )
        except Exception as error:  # noqa: BLE001 - re-raised with the sample named
            raise SampleError(f"{_where(sample)}: frame integration failed: {error}") from error

    def fused_with(self, batch: Batch) -> FramesBatch | None:
        """One stage doing this and ``batch`` (same output, no per-sample frames), where it applies."""
        if self.frames_number is None or batch.collate is not collate_frames:
            return None
        return FramesBatch(self, batch)


def collate_frames(samples: list[Sample]) -> Sample:
    """Whole samples -> one batch: ``frames`` padded to ``[B, T_max, ...]`` with ``lengths`` [B]
    (SpikingJelly's ``pad_sequence_collate``), ``label`` [B], and every other field as a list
    (``__key__`` included), so nothing about a sample is lost in batching; its ``events`` are
    represented by their frames and left out (they would double what workers send to the main
    process: pass ``collate=`` to keep them)."""
    for sample in samples:
        if "frames" not in sample:
            raise SampleError(f"{_where(sample)}: batch() needs frames; add a frames() stage first (or pass collate=)")
    frames, labels, lengths = F.pad_sequence_collate([(sample["frames"], sample.get("label", -1)) for sample in samples])
    return _batch_of(samples, frames, labels, lengths)


def _batch_of(samples: list[Sample], frames: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor) -> Sample:
    batch: Sample = {
        name: [sample.get(name) for sample in samples] for name in samples[0] if name not in ("frames", "label", "events")
    }
    batch.update(frames=frames, label=labels, lengths=lengths)
    return batch


class Batch:
    """Groups of ``batch_size`` consecutive samples, each passed whole to ``collate`` (default
    ``collate_frames``); the last, shorter group is kept unless ``partial=False``."""

    def __init__(self, batch_size: int, partial: bool = True, collate: Callable[[list[Sample]], Any] | None = None):
        _check_positive("batch_size", batch_size)
        if collate is not None and not callable(collate):
            raise ValueError(f"collate must be callable, got {collate!r}")
        self.batch_size, self.partial = int(batch_size), bool(partial)
        self.collate = collate or collate_frames

    def groups(self, source: Iterable[Sample]) -> Iterator[list[Sample]]:
        pending: list[Sample] = []
        for sample in source:
            pending.append(sample)
            if len(pending) == self.batch_size:
                yield pending
                pending = []
        if pending and self.partial:
            yield pending

    def __call__(self, source: Iterable[Sample]) -> Iterator[Any]:
        for group in self.groups(source):
            yield self.collate(group)


class FramesBatch:
    """``Frames(frames_number, ...)`` then ``Batch(batch_size)`` in one step: each sample's events
    are counted straight into its row of the batch, so no per-sample frames are allocated and
    copied. Yields exactly what the two stages yield."""

    def __init__(self, frames: Frames, batch: Batch):
        self.frames, self.batch = frames, batch

    def __call__(self, source: Iterable[Sample]) -> Iterator[Sample]:
        for group in self.batch.groups(source):
            yield self._collate(group)

    def _collate(self, group: list[Sample]) -> Sample:
        if any("y" not in sample["events"] for sample in group):  # 1-D sensors: frames [T, W], padded as usual
            return collate_frames([{**sample, "frames": self.frames.sample_frames(sample)} for sample in group])
        W, H = group[0]["sensor_size"][:2]
        T = self.frames.frames_number
        frames = np.zeros((len(group), T, 2, H, W), dtype=self.frames.dtype)
        for row, sample in zip(frames, group):
            if tuple(sample["sensor_size"][:2]) != (W, H):
                raise SampleError(
                    f"{_where(sample)}: sensor size {sample['sensor_size'][:2]} differs from "
                    f"{(W, H)} of the batch's first sample; frames of both cannot share a batch"
                )
            self.frames.sample_frames(sample, out=row)
        labels = torch.as_tensor([sample.get("label", -1) for sample in group])
        return _batch_of(group, torch.from_numpy(frames), labels, torch.full((len(group),), T, dtype=torch.int64))


def _map(source: Iterable[Sample], function: Callable[[Sample], Sample]) -> Iterator[Sample]:
    for sample in source:
        yield function(sample)


def _map_events(source: Iterable[Sample], function: Callable[[dict], dict]) -> Iterator[Sample]:
    for sample in source:
        yield {**sample, "events": function(sample["events"])}


def _flip_horizontal(source: Iterable[Sample], probability: float = 0.5, seed: int = 0) -> Iterator[Sample]:
    for sample in source:
        if sample_rng(seed, sample).random() < probability:
            sample = {**sample, "events": F.flip_horizontal(sample["events"], sample["sensor_size"][0])}
        yield sample


def _drop_events(source: Iterable[Sample], rate: float = 0.1, seed: int = 0) -> Iterator[Sample]:
    for sample in source:
        yield {**sample, "events": F.drop_events(sample["events"], rate, sample_rng(seed, sample))}


decode = pipelinefilter(_decode)
frames = Frames
batch = Batch
map_samples = pipelinefilter(_map)
map_events = pipelinefilter(_map_events)
flip_horizontal = pipelinefilter(_flip_horizontal)
drop_events = pipelinefilter(_drop_events)

__all__ = [
    "Batch",
    "Frames",
    "FramesBatch",
    "SampleError",
    "batch",
    "collate_frames",
    "decode",
    "decode_sample",
    "drop_events",
    "flip_horizontal",
    "frames",
    "map_events",
    "map_samples",
    "sample_rng",
]
