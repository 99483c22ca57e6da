"""Batches of events for representations computed on the device.

``batch_events`` pads the events of consecutive samples into tensors, so that the DataLoader
moves events (some 17 bytes each) instead of dense frames, and the representation is computed on
the GPU from the whole batch at once (``streams.functional.torch_batched``)::

    from streams import EventStream
    from streams.transforms import ToFrame
    from streams.transforms.device import collate_events, to_device

    to_frames = ToFrame(n_time_bins=10)
    stream = EventStream("shards/dvs128gesture", split="train").batch(64, collate=collate_events)
    for batch in stream.loader(num_workers=4, pin_memory=True):
        frames, counts = to_frames.on_batch(to_device(batch, "cuda"))   # [64, 10, 2, H, W] int16

(``stream.compose(batch_events(64))`` is the same stage.)
"""

from __future__ import annotations

from typing import Any

import torch

from neuroshards.errors import SampleError

from ..functional.torch_batched import pad_events
from ..stages import Batch, Sample, _where


def collate_events(samples: list[Sample]) -> dict[str, Any]:
    """Decoded samples -> ``{"t", "x", "y", "p": [B, N_max], "lengths": [B], "label": [B],
    "sensor_size": (W, H, P)}`` and every other field as a list (``__key__`` included); no "y"
    for 1-D sensors. Every sample of a batch must share its sensor size."""
    size = tuple(samples[0]["sensor_size"])
    for sample in samples:
        if "events" not in sample:
            raise SampleError(f"{_where(sample)}: batch_events() needs decoded events; add a decode stage first")
        if tuple(sample["sensor_size"]) != size:
            raise SampleError(
                f"{_where(sample)}: sensor size {tuple(sample['sensor_size'])} differs from {size} "
                "of the batch's first sample; their events cannot share a batch"
            )
    batch: dict[str, Any] = {
        name: [sample.get(name) for sample in samples] for name in samples[0] if name not in ("events", "label", "sensor_size")
    }
    batch.update(pad_events([sample["events"] for sample in samples]))
    batch["label"] = torch.as_tensor([sample.get("label", -1) for sample in samples])
    batch["sensor_size"] = size
    return batch


def batch_events(batch_size: int, partial: bool = True) -> Batch:
    """The batch stage of ``collate_events``: groups of ``batch_size`` samples (a shorter last one
    when ``partial``); a stream counts its batches for resuming as for ``.batch()``."""
    return Batch(batch_size, partial, collate_events)


def to_device(batch: dict[str, Any], device: str | torch.device, non_blocking: bool = True) -> dict[str, Any]:
    """The batch with its tensors on ``device`` (asynchronously from pinned memory)."""
    return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


__all__ = ["batch_events", "collate_events", "to_device"]
