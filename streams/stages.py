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
from webdataset.filters import pipelinefilter

from shardgen.record import EVENTS_MEMBER, LABEL_MEMBER, RecordError, decode_events, decode_record

from . import functional as F

Sample = dict[str, Any]


class SampleError(ValueError):
    """A sample that a stage cannot process; the message names the shard and the sample key."""


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
        W, H = sample["sensor_size"][:2]
        events = sample["events"]
        try:
            if function is not None:
                frames = function(events, H, W)
            elif "y" not in events:  # a 1-D (audio) sensor [W, 1, 1]: frames [T, W], SpikingJelly's SHD rule
                if duration is not None:
                    frames = F.shd.integrate_events_by_fixed_duration(events, duration, W, dtype=dtype)
                else:
                    frames = F.shd.integrate_events_by_fixed_frames_number(events, split_by, frames_number, W, dtype=dtype)
            elif duration is not None:
                frames = F.integrate_events_by_fixed_duration(events, duration, H, W, dtype=dtype)
            else:
                frames = F.integrate_events_by_fixed_frames_number(events, split_by, frames_number, H, W, dtype=dtype)
        except Exception as error:  # noqa: BLE001 - re-raised with the sample named
            raise SampleError(f"{_where(sample)}: frame integration failed: {error}") from error
        yield {**sample, "frames": frames}


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


def _batch(
    source: Iterable[Sample],
    batch_size: int,
    partial: bool = True,
    collate: Callable[[list], Any] = F.pad_sequence_collate,
) -> Iterator[Any]:
    """Pad frames into ``(frames [B, T_max, ...], labels [B], lengths [B])`` (or ``collate``'s result)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    pending: list = []
    for sample in source:
        if "frames" not in sample:
            raise SampleError(f"{_where(sample)}: batch() needs frames; add a frames() stage first")
        pending.append((sample["frames"], sample.get("label", -1)))
        if len(pending) == batch_size:
            yield collate(pending)
            pending = []
    if pending and partial:
        yield collate(pending)


decode = pipelinefilter(_decode)
frames = pipelinefilter(_frames)
map_samples = pipelinefilter(_map)
map_events = pipelinefilter(_map_events)
flip_horizontal = pipelinefilter(_flip_horizontal)
drop_events = pipelinefilter(_drop_events)
batch = pipelinefilter(_batch)

__all__ = [
    "SampleError",
    "batch",
    "decode",
    "drop_events",
    "flip_horizontal",
    "frames",
    "map_events",
    "map_samples",
    "sample_rng",
]
