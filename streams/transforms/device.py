"""Batches of events for representations computed on the device.

``batch_events`` pads the events of consecutive samples into tensors, so that the DataLoader
moves events (some 17 bytes each) instead of dense frames, and the representation is computed on
the GPU from the whole batch at once (``streams.functional.torch_batched``)::

    import webdataset as wds
    from torch.utils.data import DataLoader
    from streams.functional import torch_batched as TB
    from streams.transforms.device import batch_events, to_device

    loader = DataLoader(stream.compose(batch_events(64)), batch_size=None, num_workers=4, pin_memory=True)
    for batch in loader:
        batch = to_device(batch, "cuda")
        frames, counts = TB.to_frame(batch["t"], batch["x"], batch["y"], batch["p"], batch["lengths"],
                                     batch["sensor_size"], n_time_bins=10)   # [B, 10, 2, H, W] int16
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import torch
from webdataset.filters import pipelinefilter

from ..functional.torch_batched import pad_events
from ..stages import Sample, SampleError, _groups, _where


def _batch_events(source: Iterable[Sample], batch_size: int, partial: bool = True) -> Iterator[dict[str, Any]]:
    """Groups of ``batch_size`` decoded samples (a shorter last one when ``partial``) ->
    ``{"t", "x", "y", "p": [B, N_max], "lengths": [B], "label": [B], "__key__": [B keys],
    "sensor_size": (W, H, P)}`` (no "y" for 1-D sensors); every sample of a batch must share
    its sensor size."""
    for group in _groups(source, batch_size, partial):
        size = tuple(group[0]["sensor_size"])
        for sample in group:
            if "events" not in sample:
                raise SampleError(f"{_where(sample)}: batch_events() needs decoded events; add a decode stage first")
            if tuple(sample["sensor_size"]) != size:
                raise SampleError(f"{_where(sample)}: sensor size {tuple(sample['sensor_size'])} differs from {size} "
                                  "of the batch's first sample; their events cannot share a batch")
        batch: dict[str, Any] = pad_events([sample["events"] for sample in group])
        batch["label"] = torch.as_tensor([sample.get("label", -1) for sample in group])
        batch["__key__"] = [sample.get("__key__") for sample in group]
        batch["sensor_size"] = size
        yield batch


def to_device(batch: dict[str, Any], device: str | torch.device, non_blocking: bool = True) -> dict[str, Any]:
    """The batch with its tensors on ``device`` (asynchronously from pinned memory)."""
    return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


batch_events = pipelinefilter(_batch_events)

__all__ = ["batch_events", "to_device"]
