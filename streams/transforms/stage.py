"""The stream stage that applies an event transform to each decoded sample."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from webdataset.filters import pipelinefilter

from ..stages import Sample, SampleError, _where, sample_rng
from . import _events as E


def _apply_transform(source: Iterable[Sample], transform: Callable, seed: int = 0) -> Iterator[Sample]:
    """Call ``transform`` on each sample's events with ``rng=sample_rng(seed, sample)`` (so a
    resumed run repeats the draws) and the sample's ``sensor_size``, which becomes the transform's
    output sensor size (after a crop or a downsampling, the new one)."""
    for sample in source:
        sensor_size = sample.get("sensor_size")
        try:
            events = E.call(transform, sample["events"], sample_rng(seed, sample), sensor_size)
            sensor_size = E.output_sensor_size(transform, sensor_size)
        except SampleError:
            raise
        except Exception as error:  # noqa: BLE001 - re-raised with the shard and sample named
            raise SampleError(f"{_where(sample)}: transform {transform!r} failed: {error}") from error
        yield {**sample, "events": events, "sensor_size": sensor_size}


apply_transform = pipelinefilter(_apply_transform)

__all__ = ["apply_transform"]
