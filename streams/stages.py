"""Pipeline stages: small generator functions over an iterator of samples, curried with their
parameters by webdataset's ``pipelinefilter``. Each composes in ``webdataset.DataPipeline``::

    wds.DataPipeline(source, decode(), frames(frames_number=16), batch(32))

and ``EventStream`` chains the same stages fluently (``stream.frames(...).batch(...)``).

A decoded sample is ``{"__key__", "events": {"t","x","y","p"}, "label", "sensor_size", ...}``.
Randomness comes from ``(seed, epoch, key)``, so a sample gets the same augmentation in an epoch
whichever worker or rank reads it, and a different one in the next epoch.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from webdataset.filters import pipelinefilter

from neuroshards.errors import SampleError
from neuroshards.record import EVENTS_MEMBER, LABEL_MEMBER, RecordError, decode_events, decode_record

from . import functional as F

Sample = dict[str, Any]



def _where(sample: Sample) -> str:
    return f"{sample.get('__url__', '?')}: sample {sample.get('__key__', '?')!r}"


def sample_rng(seed: int, sample: Sample) -> np.random.Generator:
    key = zlib.crc32(str(sample.get("__key__", "")).encode())
    return np.random.default_rng([seed, int(sample.get("__epoch__", 0)), key])


def _decode(source: Iterable[Sample]) -> Iterator[Sample]:
    for sample in source:
        data = sample.get(EVENTS_MEMBER)
        if data is None:
            raise SampleError(f"{_where(sample)}: no '{EVENTS_MEMBER}' member (members: {sorted(sample)})")
        try:
            record = decode_record(data, key=sample["__key__"])
            events = decode_events(record, key=sample["__key__"])
        except RecordError as error:
            raise SampleError(f"{sample.get('__url__', '?')}: {error}") from None
        decoded = {name: value for name, value in sample.items() if name not in (EVENTS_MEMBER, LABEL_MEMBER)}
        decoded["events"] = events
        decoded["sensor_size"] = tuple(record["sensor_size"])
        if LABEL_MEMBER in sample:
            decoded["label"] = int(sample[LABEL_MEMBER])
        yield decoded


def _sample_frames(
    sample: Sample,
    frames_number: int | None,
    split_by: str,
    duration: int | None,
    function: Callable[[dict, int, int], np.ndarray] | None,
    dtype: Any,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One sample's frames; with ``out`` (fixed frame number, 2-D sensor) counted into it."""
    W, H = sample["sensor_size"][:2]
    events = sample["events"]
    try:
        if function is not None:
            return function(events, H, W)
        if "y" not in events:  # a 1-D (audio) sensor [W, 1, 1]: frames [T, W], SpikingJelly's SHD rule
            if duration is not None:
                return F.shd.integrate_events_by_fixed_duration(events, duration, W, dtype=dtype)
            return F.shd.integrate_events_by_fixed_frames_number(events, split_by, frames_number, W, dtype=dtype)
        if duration is not None:
            return F.integrate_events_by_fixed_duration(events, duration, H, W, dtype=dtype)
        return F.integrate_events_by_fixed_frames_number(events, split_by, frames_number, H, W, dtype=dtype, out=out)
    except Exception as error:  # noqa: BLE001 - re-raised with the sample named
        raise SampleError(f"{_where(sample)}: frame integration failed: {error}") from error


def _frames(
    source: Iterable[Sample],
    frames_number: int | None = None,
    split_by: str = "number",
    duration: int | None = None,
    function: Callable[[dict, int, int], np.ndarray] | None = None,
    dtype: Any = np.float32,
) -> Iterator[Sample]:
    chosen = sum(option is not None for option in (frames_number, duration, function))
    if chosen != 1:
        raise ValueError("frames() takes exactly one of frames_number=, duration= or function=")
    for sample in source:
        yield {**sample, "frames": _sample_frames(sample, frames_number, split_by, duration, function, dtype)}


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


def _groups(source: Iterable[Sample], batch_size: int, partial: bool) -> Iterator[list[Sample]]:
    """Consecutive groups of ``batch_size`` samples; a shorter last group only when ``partial``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    pending: list[Sample] = []
    for sample in source:
        pending.append(sample)
        if len(pending) == batch_size:
            yield pending
            pending = []
    if pending and partial:
        yield pending


def _batch(
    source: Iterable[Sample],
    batch_size: int,
    partial: bool = True,
    collate: Callable[[list], Any] = F.pad_sequence_collate,
) -> Iterator[Any]:
    """Pad frames into ``(frames [B, T_max, ...], labels [B], lengths [B])`` (or ``collate``'s result)."""
    for group in _groups(source, batch_size, partial):
        for sample in group:
            if "frames" not in sample:
                raise SampleError(f"{_where(sample)}: batch() needs frames; add a frames() stage first")
        yield collate([(sample["frames"], sample.get("label", -1)) for sample in group])


def _frames_batch(
    source: Iterable[Sample],
    batch_size: int,
    frames_number: int,
    split_by: str = "number",
    dtype: Any = np.float32,
    partial: bool = True,
) -> Iterator[tuple]:
    """``frames(frames_number, split_by, dtype=dtype)`` then ``batch(batch_size, partial)`` in one
    step: each sample's events are counted straight into its row of the batch, so no per-sample
    frames are allocated and copied. Yields exactly what the two stages yield."""

    def collate(group: list[Sample]) -> tuple:
        if any("y" not in sample["events"] for sample in group):  # 1-D sensors: frames [T, W], padded as usual
            return F.pad_sequence_collate(
                [(_sample_frames(sample, frames_number, split_by, None, None, dtype), sample.get("label", -1)) for sample in group]
            )
        W, H = group[0]["sensor_size"][:2]
        frames = np.zeros((len(group), frames_number, 2, H, W), dtype=dtype)
        for row, sample in zip(frames, group):
            if tuple(sample["sensor_size"][:2]) != (W, H):
                raise SampleError(f"{_where(sample)}: sensor size {sample['sensor_size'][:2]} differs from "
                                  f"{(W, H)} of the batch's first sample; frames of both cannot share a batch")
            _sample_frames(sample, frames_number, split_by, None, None, dtype, out=row)
        labels = torch.as_tensor([sample.get("label", -1) for sample in group])
        return torch.from_numpy(frames), labels, torch.full((len(group),), frames_number, dtype=torch.int64)

    for group in _groups(source, batch_size, partial):
        yield collate(group)


decode = pipelinefilter(_decode)
frames = pipelinefilter(_frames)
map_samples = pipelinefilter(_map)
map_events = pipelinefilter(_map_events)
flip_horizontal = pipelinefilter(_flip_horizontal)
drop_events = pipelinefilter(_drop_events)
batch = pipelinefilter(_batch)
frames_batch = pipelinefilter(_frames_batch)

__all__ = [
    "SampleError",
    "batch",
    "decode",
    "drop_events",
    "flip_horizontal",
    "frames",
    "frames_batch",
    "map_events",
    "map_samples",
    "sample_rng",
]
