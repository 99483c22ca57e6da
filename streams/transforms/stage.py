"""Event transforms on decoded samples: in a stream (``apply_transform``) and as the
``transform=`` of a map-style dataset (``SampleTransform``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from webdataset.filters import pipelinefilter

from ..stages import Sample, SampleError, _where, sample_rng
from . import _events as E
from .events import Compose
from .representations import Representation


@dataclass
class SampleTransform:
    """``transform`` applied to a decoded sample's events, with the sample's ``sensor_size``,
    which becomes the transform's output sensor size (after a crop or a downsampling, the new
    one). ``seed``: draws from ``sample_rng(seed, sample)``, the same for a sample in an epoch
    (a resumed run repeats them); None: a fresh generator per call, as Tonic's transforms draw.

        ShardDataset("shards/nmnist", transform=SampleTransform(Compose([...]), seed=0))
    """

    transform: Callable
    seed: int | None = None

    def __call__(self, sample: Sample) -> Sample:
        field = "frames" if makes_representation(self.transform) else "events"
        sensor_size = sample.get("sensor_size")
        rng = sample_rng(self.seed, sample) if self.seed is not None else None
        try:
            events = E.call(self.transform, sample["events"], rng, sensor_size)
            sensor_size = E.output_sensor_size(self.transform, sensor_size)
        except SampleError:
            raise
        except Exception as error:  # noqa: BLE001 - re-raised with the shard and sample named
            raise SampleError(f"{_where(sample)}: transform {self.transform!r} failed: {error}") from error
        return {**sample, field: events, "sensor_size": sensor_size}


def makes_representation(transform: Callable) -> bool:
    """Whether ``transform`` turns events into an array (directly, or as a ``Compose``'s last step)."""
    if isinstance(transform, Compose):
        return bool(transform.transforms) and makes_representation(transform.transforms[-1])
    return isinstance(transform, Representation)


def _apply_transform(source: Iterable[Sample], transform: Callable, seed: int = 0) -> Iterator[Sample]:
    """``SampleTransform(transform, seed)`` on each sample of the stream."""
    on_sample = SampleTransform(transform, seed)
    for sample in source:
        yield on_sample(sample)


apply_transform = pipelinefilter(_apply_transform)

__all__ = ["SampleTransform", "apply_transform"]
