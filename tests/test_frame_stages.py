"""The frames and batch stages through EventStream equal the functional kernels on the same events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import webdataset as wds

import shardgen
import streams.functional as F
from shardgen.synthetic import write_synthetic_nmnist
from streams import EventStream, stages


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    raw = write_synthetic_nmnist(root / "raw", train_per_class=1, test_per_class=1, events_per_sample=1500, seed=3)
    shardgen.convert("nmnist", raw, root / "shards", max_samples=4, verify=False, progress=False)
    return root / "shards"


@pytest.fixture(scope="module")
def samples(shards) -> list[dict]:
    return list(EventStream(shards, split="train"))


CONFIGURATIONS = [
    (dict(frames_number=16, split_by="number"), lambda e, H, W: F.integrate_events_by_fixed_frames_number(e, "number", 16, H, W)),
    (dict(frames_number=7, split_by="time"), lambda e, H, W: F.integrate_events_by_fixed_frames_number(e, "time", 7, H, W)),
    (dict(duration=40_000), lambda e, H, W: F.integrate_events_by_fixed_duration(e, 40_000, H, W)),
    (
        dict(frames_number=4, dtype=np.uint8),
        lambda e, H, W: F.integrate_events_by_fixed_frames_number(e, "number", 4, H, W, dtype=np.uint8),
    ),
]


@pytest.mark.parametrize("options, kernel", CONFIGURATIONS, ids=["number", "time", "duration", "uint8"])
def test_frames_stage_equals_kernel(shards, samples, options, kernel) -> None:
    streamed = list(EventStream(shards, split="train").frames(**options))
    assert [s["__key__"] for s in streamed] == [s["__key__"] for s in samples]
    for sample, plain in zip(streamed, samples):
        W, H = sample["sensor_size"][:2]
        expected = kernel(plain["events"], H, W)
        assert sample["frames"].dtype == expected.dtype
        assert np.array_equal(sample["frames"], expected), sample["__key__"]
        assert sample["label"] == plain["label"]


@pytest.mark.parametrize("options, kernel", CONFIGURATIONS[::2], ids=["number", "duration"])
def test_batch_stage_pads_as_pad_sequence_collate(shards, samples, options, kernel) -> None:
    batches = list(EventStream(shards, split="train").frames(**options).batch(3))
    assert [len(batch["label"]) for batch in batches] == [3, 3, 3, 1]
    expected_batches = [samples[i : i + 3] for i in range(0, len(samples), 3)]
    for batch, group in zip(batches, expected_batches):
        frames, labels, lengths = batch["frames"], batch["label"], batch["lengths"]
        assert batch["__key__"] == [s["__key__"] for s in group]  # whole samples survive batching
        assert "events" not in batch and batch["sensor_size"] == [s["sensor_size"] for s in group]
        W, H = group[0]["sensor_size"][:2]
        frames_of = [(kernel(s["events"], H, W), s["label"]) for s in group]
        expected_frames, expected_labels, expected_lengths = F.pad_sequence_collate(frames_of)
        assert frames.dtype == torch.float32 and frames.shape == expected_frames.shape
        assert torch.equal(frames, expected_frames)
        assert torch.equal(labels, expected_labels) and torch.equal(lengths, expected_lengths)


def test_stages_compose_in_a_webdataset_pipeline(shards, samples) -> None:
    """The same stages as plain webdataset pipeline filters, with a custom frame function."""

    def on_frame(events, H, W):
        return F.integrate_events_segment_to_frame(events["x"], events["y"], events["p"], H, W)[None]

    stream = EventStream(shards, split="train")
    pipeline = wds.DataPipeline(stream, stages.frames(function=on_frame), stages.batch(len(samples)))
    (batch,) = list(pipeline)
    frames, lengths = batch["frames"], batch["lengths"]
    assert frames.shape == (len(samples), 1, 2, 34, 34)
    assert lengths.tolist() == [1] * len(samples)
    totals = [int(np.count_nonzero(s["events"]["x"] < 34)) for s in samples]  # synthetic events lie on the sensor
    assert frames.sum(dim=(1, 2, 3, 4)).tolist() == totals


def test_frames_stage_names_the_sample_on_failure(shards) -> None:
    def broken(events, H, W):
        raise ValueError("no frames today")

    with pytest.raises(stages.SampleError, match=r"sample '.*': frame integration failed: no frames today"):
        next(iter(EventStream(shards, split="train").frames(function=broken)))


@pytest.mark.parametrize(
    "build, argument",
    [
        (lambda s: s.frames(duration=-5), "duration"),
        (lambda s: s.frames(0), "frames_number"),
        (lambda s: s.frames(4, split_by="space"), "split_by"),
        (lambda s: s.frames(), "exactly one"),
        (lambda s: s.frames(4).batch(0), "batch_size"),
        (lambda s: s.frames(4).batch(2.5), "batch_size"),
    ],
)
def test_stage_arguments_are_checked_when_the_stage_is_built(shards, build, argument) -> None:
    with pytest.raises(ValueError, match=argument):
        build(EventStream(shards, split="train"))


@pytest.mark.parametrize(
    "options",
    [dict(frames_number=16), dict(frames_number=5, split_by="time"), dict(frames_number=3, dtype=np.uint8)],
    ids=["number", "time", "uint8"],
)
@pytest.mark.parametrize("partial", [True, False])
def test_fused_frames_batch_equals_the_two_stages(shards, options, partial) -> None:
    fused = EventStream(shards, split="train").frames(**options).batch(4, partial=partial)
    assert isinstance(fused._stages[-1], stages.FramesBatch)  # the fluent chain took the fused path
    separate = wds.DataPipeline(
        EventStream(shards, split="train"),
        stages.frames(options["frames_number"], options.get("split_by", "number"), None, None, options.get("dtype", np.float32)),
        stages.batch(4, partial),
    )
    pairs = list(zip(fused, separate, strict=True))
    assert len(pairs) == (3 if partial else 2)
    for batch, expected in pairs:
        assert batch["frames"].dtype == expected["frames"].dtype and torch.equal(batch["frames"], expected["frames"])
        assert torch.equal(batch["label"], expected["label"]) and torch.equal(batch["lengths"], expected["lengths"])
        assert batch["__key__"] == expected["__key__"]


def test_stages_after_frames_keep_the_unfused_path(shards) -> None:
    stream = EventStream(shards, split="train").frames(4).map(lambda s: {**s, "frames": s["frames"] * 2}).batch(20)
    assert not isinstance(stream._stages[-1], stages.FramesBatch)
    (batch,) = list(stream)
    plain = list(EventStream(shards, split="train").frames(4).batch(20))[0]["frames"]
    assert torch.equal(batch["frames"], plain * 2)


def test_fused_stage_names_the_sample_on_failure(shards) -> None:
    def damage(sample):  # coordinates one event short: no kernel can count them
        return {**sample, "events": {**sample["events"], "x": sample["events"]["x"][:-1]}}

    stream = EventStream(shards, split="train").map(damage).frames(4).batch(2)
    assert isinstance(stream._stages[-1], stages.FramesBatch)
    with pytest.raises(stages.SampleError, match=r"sample '.*': frame integration failed"):
        next(iter(stream))
