"""Mixing samples of a batch, on events: CutMix as NDA applies it, and EventMix.

``mix_events(batch_size, method=...)`` is a stage over decoded samples: it takes them in groups
of ``batch_size`` (the batch the next ``batch()`` will form), pairs each with another of its
group (a random permutation) and replaces its events by a mix of both, then yields the samples
one by one, so frames and batching follow as usual. Each sample gains ``"mix"``: ``{"labels":
(own, partner), "weights": (w, 1 - w)}``; with ``num_classes``, ``"label"`` becomes the soft target
``w * onehot(own) + (1 - w) * onehot(partner)`` (a list of floats: it collates to a float tensor
[B, num_classes]). The draws come from ``sample_rng(seed, first sample of the group)``, so a
resumed run mixes the same way.

* ``method="cutmix"`` (Yun et al. 2019, on events as NDA mixes its frames: Li et al. 2022,
  "Neuromorphic Data Augmentation for Training Spiking Neural Networks", ECCV): lam ~ Beta(alpha,
  alpha); a box of side ratio sqrt(1 - lam) around a uniform centre, clipped to the sensor, takes
  the partner's events; w is the share of the sensor outside the box (``geometry.cutmix_box``).
* ``method="eventmix"`` (after Shen et al. 2023, "EventMix: An Efficient Data Augmentation Strategy
  for Event-Based Learning", Information Sciences): a spatio-temporal region, a random 3-D Gaussian
  blob (centre uniform, scales uniform in [0.15, 0.5] of each axis) thresholded to cover 1 - lam
  of the (x, y, t) volume, takes the partner's events; w is the sample's share of the mixed
  events (the paper's event-count label weighting). A simplification of the paper's masks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from webdataset.filters import pipelinefilter

from ..functional import events as kernels
from ..functional import geometry
from ..stages import Sample, SampleError, _where, sample_rng
from . import _events as E


def _mix_pair(own: Sample, partner: Sample, method: str, alpha: float, rng: np.random.Generator):
    width, height = own["sensor_size"][:2]
    lam = rng.beta(alpha, alpha)
    a, b = own["events"], partner["events"]
    if method == "cutmix":
        box = geometry.cutmix_box(width, height, lam, rng)
        from_own = ~geometry.box_mask(E.column(a, "x"), E.column(a, "y"), *box)
        from_partner = geometry.box_mask(E.column(b, "x"), E.column(b, "y"), *box)
        weight = 1.0 - (box[2] - box[0]) * (box[3] - box[1]) / (width * height)
    else:
        times = np.concatenate((E.column(a, "t"), E.column(b, "t")))
        bounds = (width, height, float(times.min()) if len(times) else 0.0, float(times.max()) if len(times) else 1.0)
        centre, scale = rng.random(3), rng.uniform(0.15, 0.5, 3)
        threshold = geometry.blob_threshold(centre, scale, 1.0 - lam)

        def inside(events):
            return (
                geometry.blob_score(E.column(events, "x"), E.column(events, "y"), E.column(events, "t"), bounds, centre, scale)
                > threshold
            )

        from_own, from_partner = ~inside(a), inside(b)
        kept = int(from_own.sum()) + int(from_partner.sum())
        weight = from_own.sum() / kept if kept else 1.0
    first, second = E.select(a, from_own), E.select(b, from_partner)
    order = kernels.merge_sorted_times(E.column(first, "t"), E.column(second, "t"))
    return E.select(E.concatenate(first, second), order), float(weight)


def _mix_events(
    source: Iterable[Sample],
    batch_size: int,
    method: str = "cutmix",
    alpha: float = 1.0,
    num_classes: int | None = None,
    seed: int = 0,
) -> Iterator[Sample]:
    if method not in ("cutmix", "eventmix"):
        raise ValueError(f"mix_events method must be 'cutmix' or 'eventmix', got {method!r}")
    if batch_size < 1:
        raise ValueError(f"mix_events needs batch_size >= 1, got {batch_size}")
    group: list[Sample] = []
    for sample in source:
        group.append(sample)
        if len(group) == batch_size:
            yield from _mix_group(group, method, alpha, num_classes, seed)
            group = []
    if group:
        yield from _mix_group(group, method, alpha, num_classes, seed)


def _mix_group(group: list[Sample], method: str, alpha: float, num_classes: int | None, seed: int) -> Iterator[Sample]:
    """Each sample of the group mixed with a partner of the group (a random permutation)."""
    rng = sample_rng(seed, group[0])
    partners = rng.permutation(len(group))
    for sample, partner_index in zip(group, partners):
        partner = group[partner_index]
        if tuple(partner["sensor_size"][:2]) != tuple(sample["sensor_size"][:2]):
            raise SampleError(
                f"{_where(sample)}: cannot mix with {partner.get('__key__')!r}: sensor sizes "
                f"{sample['sensor_size']} and {partner['sensor_size']} differ"
            )
        events, weight = _mix_pair(sample, partner, method, alpha, rng)
        own_label, partner_label = sample.get("label", -1), partner.get("label", -1)
        mixed = {**sample, "events": events, "mix": {"labels": (own_label, partner_label), "weights": (weight, 1.0 - weight)}}
        if num_classes is not None:
            target = np.zeros(num_classes)
            target[own_label] += weight
            target[partner_label] += 1.0 - weight
            mixed["label"] = target.tolist()
        yield mixed


mix_events = pipelinefilter(_mix_events)

__all__ = ["mix_events"]
