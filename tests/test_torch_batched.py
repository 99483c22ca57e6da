"""The batched torch representations equal the numpy kernels sample by sample (which
tests/test_representations_tonic.py holds to Tonic), and the batch_events stage pads a stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shardgen
from neuroshards.errors import SampleError
from shardgen.synthetic import write_synthetic_nmnist
from streams import EventStream
from streams.functional import representations as R
from streams.functional import torch_batched as TB
from streams.transforms import ToFrame, ToImage, ToTimesurface, ToVoxelGrid
from streams.transforms.device import batch_events, collate_events, to_device

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@st.composite
def batches(draw, sorted_t=True, one_dimensional=False):
    """(events of B samples, sensor_size): some empty, coordinates partly outside the sensor."""
    W, H = draw(st.integers(1, 10)), 1 if one_dimensional else draw(st.integers(1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    samples = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.sampled_from([0, 1, 2, 5, 30, 80]))
        t = rng.integers(0, draw(st.sampled_from([1, 40, 3000])), n)
        samples.append(
            {"t": np.sort(t) if sorted_t else t, "x": rng.integers(-1, W + 2, n), "p": rng.integers(0, 2, n).astype(np.uint8)}
        )
        if not one_dimensional:
            samples[-1]["y"] = rng.integers(0, H + 1, n)
    return samples, (W, H, 2)


def fields(batch: dict, device: str) -> tuple:
    batch = to_device(batch, device)
    return batch["t"], batch["x"], batch.get("y"), batch["p"], batch["lengths"]


def y_of(sample: dict):
    return sample.get("y")


MODES = st.one_of(
    st.builds(
        lambda w, o, inc: {"time_window": w, "overlap": o * w // 4, "include_incomplete": inc},
        st.sampled_from([1, 9, 300, 77.5]),
        st.integers(0, 3),
        st.booleans(),
    ),
    st.builds(
        lambda c, o, inc: {"event_count": c, "overlap": min(o, c - 1), "include_incomplete": inc},
        st.integers(1, 25),
        st.integers(0, 6),
        st.booleans(),
    ),
    st.builds(
        lambda b, o, end: {"n_time_bins": b, "overlap": o, "last_bin_to_end": end},
        st.integers(1, 6),
        st.sampled_from([0, 0.25, 0.5]),
        st.booleans(),
    ),
    st.builds(lambda b, o: {"n_event_bins": b, "overlap": o}, st.integers(1, 6), st.sampled_from([0, 0.5])),
)


@pytest.mark.parametrize("device", DEVICES)
@SETTINGS
@given(batches(), MODES)
def test_to_frame_equals_numpy(device, batch, mode):
    samples, size = batch
    frames, counts = TB.to_frame(*fields(TB.pad_events(samples), device), size, **mode)
    for row, count, e in zip(frames.cpu().numpy(), counts.tolist(), samples):
        expected = R.to_frame(e["t"], e["x"], y_of(e), e["p"], size, **mode)
        assert count == len(expected)
        np.testing.assert_array_equal(row[:count], expected)
        assert not row[count:].any()


@pytest.mark.parametrize("device", DEVICES)
@SETTINGS
@given(batches(one_dimensional=True), MODES)
def test_one_dimensional_frames_equal_numpy(device, batch, mode):
    samples, size = batch
    frames, counts = TB.to_frame(*fields(TB.pad_events(samples), device), size, **mode)
    assert frames.dim() == 4
    for row, count, e in zip(frames.cpu().numpy(), counts.tolist(), samples):
        np.testing.assert_array_equal(row[:count], R.to_frame(e["t"], e["x"], None, e["p"], size, **mode))


@pytest.mark.parametrize("device", DEVICES)
@SETTINGS
@given(batches(sorted_t=False))
def test_image_and_voxel_grid_equal_numpy_in_any_event_order(device, batch):
    samples, size = batch
    t, x, y, p, lengths = fields(TB.pad_events(samples), device)
    images = TB.to_image(x, y, p, lengths, size).cpu().numpy()
    grids = TB.to_voxel_grid(t, x, y, p, lengths, size, 5).cpu().numpy()
    for image, grid, e in zip(images, grids, samples):
        np.testing.assert_array_equal(image, R.to_image(e["x"], e["y"], e["p"], size))
        expected = R.to_voxel_grid(e["t"], e["x"], e["y"], e["p"], size, 5)
        if device == "cpu":
            np.testing.assert_array_equal(grid, expected)
        else:  # CUDA's atomic adds sum in any order
            np.testing.assert_allclose(grid, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@SETTINGS
@given(batches(), st.sampled_from([1, 7, 250]), st.sampled_from([3.0, 1000]))
def test_timesurface_equals_numpy(device, batch, dt, tau):
    samples, size = batch
    surfaces, counts = TB.to_timesurface(*fields(TB.pad_events(samples), device), size, dt, tau)
    for row, count, e in zip(surfaces.cpu().numpy(), counts.tolist(), samples):
        expected = R.to_timesurface(e["t"], e["x"], e["y"], e["p"], size, dt, tau)
        assert count == len(expected)
        # torch's exp against numpy's; CUDA's underflows to 0.0 where numpy's still gives a subnormal
        tiny = 0 if device == "cpu" else np.finfo(np.float64).tiny
        np.testing.assert_allclose(row[:count], expected, rtol=1e-15, atol=tiny)
        assert not row[count:].any()


@pytest.mark.parametrize("device", DEVICES)
def test_transforms_on_a_batch_give_each_samples_transform(device, shards):
    """A Tonic user keeps the transform object: ``on_batch`` of a collated batch (sensor size taken
    from the batch) gives, sample by sample, what the transform gives on the CPU."""
    samples = list(EventStream(shards, split="train"))[:3]
    batch = to_device(collate_events(samples), device)
    transforms = [ToFrame(n_time_bins=3), ToFrame(event_count=100, overlap=20), ToTimesurface(dt=4000, tau=3000.0)]
    for transform in transforms:
        values, counts = transform.on_batch(batch)
        for row, count, sample in zip(values.cpu().numpy(), counts.tolist(), samples):
            expected = transform(sample["events"], sensor_size=sample["sensor_size"])
            assert count == len(expected)
            np.testing.assert_allclose(row[:count], expected, rtol=1e-15, atol=np.finfo(np.float64).tiny)
    for transform in (ToImage(), ToVoxelGrid(n_time_bins=4)):
        for row, sample in zip(transform.on_batch(batch).cpu().numpy(), samples):
            expected = transform(sample["events"], sensor_size=sample["sensor_size"])
            np.testing.assert_allclose(row, expected, rtol=1e-12, atol=1e-12)
    assert ToVoxelGrid(n_time_bins=4).on_batch(batch, dtype=torch.float32).dtype == torch.float32
    with pytest.raises(ValueError, match="collate_events"):
        ToImage().on_batch({"frames": torch.zeros(1)})


def test_time_slicing_of_unsorted_events_raises():
    samples = [{"t": np.array([5, 1]), "x": np.array([0, 1]), "y": np.array([0, 0]), "p": np.array([1, 0])}]
    with pytest.raises(ValueError, match="sorted"):
        TB.to_frame(*fields(TB.pad_events(samples), "cpu"), (2, 1, 2), n_time_bins=2)
    frames, _ = TB.to_frame(*fields(TB.pad_events(samples), "cpu"), (2, 1, 2), n_event_bins=2)  # by count: any order
    np.testing.assert_array_equal(
        frames[0].numpy(),
        R.to_frame(samples[0]["t"], samples[0]["x"], samples[0]["y"], samples[0]["p"], (2, 1, 2), n_event_bins=2),
    )


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    raw = write_synthetic_nmnist(root / "raw", train_per_class=1, test_per_class=0, events_per_sample=800, seed=5)
    shardgen.convert("nmnist", raw, root / "shards", max_samples=4, verify=False, progress=False)
    return root / "shards"


def test_batch_events_stage_pads_the_stream_and_gives_the_transforms_values(shards):
    samples = list(EventStream(shards, split="train"))
    batches = list(EventStream(shards, split="train").compose(batch_events(3)))
    assert [len(b["__key__"]) for b in batches] == [3, 3, 3, 1]
    assert sum((b["__key__"] for b in batches), []) == [s["__key__"] for s in samples]
    for batch, group in zip(batches, [samples[i : i + 3] for i in range(0, len(samples), 3)]):
        assert batch["sensor_size"] == tuple(group[0]["sensor_size"])
        assert batch["label"].tolist() == [s["label"] for s in group]
        assert batch["lengths"].tolist() == [len(s["events"]["t"]) for s in group]
        for name in "txyp":
            for row, n, s in zip(batch[name], batch["lengths"].tolist(), group):
                np.testing.assert_array_equal(row[:n].numpy(), s["events"][name])
                assert not row[n:].any()
        frames, counts = TB.to_frame(
            batch["t"], batch["x"], batch["y"], batch["p"], batch["lengths"], batch["sensor_size"], n_time_bins=4
        )
        for row, sample in zip(frames.numpy(), group):
            np.testing.assert_array_equal(row, ToFrame(n_time_bins=4)(sample["events"], sensor_size=sample["sensor_size"]))
    assert len(list(EventStream(shards, split="train").compose(batch_events(3, partial=False)))) == 3
    fluent = list(EventStream(shards, split="train").batch(3, collate=collate_events))
    assert [b["__key__"] for b in fluent] == [b["__key__"] for b in batches]
    assert [len(b["__url__"]) for b in fluent] == [3, 3, 3, 1]  # every other field kept, as a list


def test_event_batches_from_loader_workers_equal_the_stream_s_and_cross_as_one_shared_buffer(shards):
    stream = EventStream(shards, split="train").batch(3, collate=collate_events)
    expected = list(stream)
    received = list(stream.loader(num_workers=2))
    assert [b["__key__"] for b in received] == [b["__key__"] for b in expected]
    for got, want in zip(received, expected):
        for name in ("t", "x", "y", "p", "lengths", "label"):
            assert got[name].dtype == want[name].dtype
            torch.testing.assert_close(got[name], want[name], rtol=0, atol=0)
        # the padded fields are views of one storage in shared memory: one segment per batch
        storages = {got[name].untyped_storage().data_ptr() for name in ("t", "x", "y", "p", "lengths")}
        assert len(storages) == 1 and got["t"].is_shared()


def test_batch_events_refuses_mixed_sensor_sizes():
    events = {"t": np.array([0]), "x": np.array([0]), "y": np.array([0]), "p": np.array([1])}
    samples = [
        {"__key__": "a", "events": events, "sensor_size": (34, 34, 2)},
        {"__key__": "b", "events": events, "sensor_size": (128, 128, 2)},
    ]
    with pytest.raises(SampleError, match="'b'.*sensor size"):
        list(batch_events(2)(iter(samples)))
