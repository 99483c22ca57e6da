"""1-D (audio) sensors end to end: SpikingJelly's SHD frame integration, padding and batching.

``references/containers/shd_frames.npz`` holds SpikingJelly 2.0's ``_integrate_events_by_*``
frames of the SHD fixtures (float16 seconds, as the files store them) and of a few edge cases;
our kernels get the same recordings as converted shards hold them (integer µs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shardgen
from neuroshards.events import seconds_to_microseconds
from shardgen.synthetic import containers as writers
from streams import EventStream
from streams.functional import integrate_events_by_fixed_frames_number as integrate_2d
from streams.functional import one_dimensional as shd

REFERENCE = Path(__file__).parent / "references" / "containers" / "shd_frames.npz"
W = 700


@pytest.fixture(scope="module")
def spikingjelly_frames() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


def recordings(reference: dict) -> list[str]:
    return sorted({key.split("/")[0] for key in reference})


def our_frames(events: dict, case: str) -> np.ndarray:
    mode, value = case.rsplit("_", 1)
    if mode == "duration":  # SpikingJelly's SHD duration is in ms, ours in µs
        return shd.integrate_events_by_fixed_duration(events, 1000 * int(value), W)
    return shd.integrate_events_by_fixed_frames_number(events, mode, int(value), W)


def test_frames_equal_spikingjellys_shd_integration(spikingjelly_frames):
    compared = 0
    for name in recordings(spikingjelly_frames):
        t16 = spikingjelly_frames[f"{name}/t"]
        events = {"t": seconds_to_microseconds(t16), "x": spikingjelly_frames[f"{name}/x"]}
        for key in spikingjelly_frames:
            if key.count("/") != 1 or not key.startswith(name + "/") or key.endswith(("/t", "/x")):
                continue
            case = key.split("/")[1]
            if f"{key}/raised" in spikingjelly_frames:
                continue
            frames = our_frames(events, case)
            assert frames.dtype == np.float32 and frames.shape[1:] == (W,)
            np.testing.assert_array_equal(frames, spikingjelly_frames[key], err_msg=key)
            compared += 1
    assert compared >= 80


def test_where_spikingjelly_raises_the_frames_follow_the_documented_rules(spikingjelly_frames):
    raised = [key[: -len("/raised")] for key in spikingjelly_frames if key.endswith("/raised")]
    assert raised
    for key in raised:
        name, case = key.split("/")
        events = {"t": seconds_to_microseconds(spikingjelly_frames[f"{name}/t"]), "x": spikingjelly_frames[f"{name}/x"]}
        frames = our_frames(events, case)
        n = len(events["t"])
        if case.startswith("duration"):
            # no events: no frame; all at one time: one frame holding them all
            assert frames.shape == ((0, W) if n == 0 else (1, W)), key
        else:
            assert frames.shape == (int(case.rsplit("_", 1)[1]), W), key
        assert frames.sum() <= n, key  # empty windows are zero frames, nothing is invented
        if n and case.startswith("time"):
            assert frames[-1].sum() > 0, key  # the last frame runs to the last event


def test_one_dimensional_shards_stream_into_padded_batches(tmp_path, spikingjelly_frames):
    raw = writers.write_shd(tmp_path / "raw")
    shardgen.convert("shd", raw, tmp_path / "shards", progress=False, max_samples=3)
    stream = EventStream(tmp_path / "shards", split="train")
    batches = list(stream.frames(duration=60_000).batch(4))
    assert [len(batch["label"]) for batch in batches] == [4, 2]
    keys = [sample["__key__"] for sample in EventStream(tmp_path / "shards", split="train")]
    position = 0
    for batch in batches:
        frames, lengths = batch["frames"], batch["lengths"]
        assert frames.ndim == 3 and frames.shape[2] == W and frames.shape[1] == int(lengths.max())
        for row, length in zip(frames.numpy(), lengths.tolist()):
            index = int(keys[position].rsplit("_", 1)[1])
            case = f"shd_train_{index}/duration_60"
            if f"{case}/raised" not in spikingjelly_frames:
                np.testing.assert_array_equal(row[:length], spikingjelly_frames[case])
            assert not row[length:].any()  # padding is zeros
            position += 1
    batch = next(iter(EventStream(tmp_path / "shards", split="test").frames(16, split_by="number").batch(8)))
    frames, lengths = batch["frames"], batch["lengths"]
    assert tuple(frames.shape) == (3, 16, W) and lengths.tolist() == [16, 16, 16]


def test_sixty_four_channel_sensor_streams_too(tmp_path):
    raw = writers.write_ntidigits18(tmp_path / "raw")
    shardgen.convert("ntidigits18", raw, tmp_path / "shards", progress=False, verify=False)
    batch = next(iter(EventStream(tmp_path / "shards", split="train").frames(8, split_by="time").batch(8)))
    frames = batch["frames"]
    assert tuple(frames.shape) == (3, 8, 64) and batch["lengths"].tolist() == [8, 8, 8]
    sample = next(iter(EventStream(tmp_path / "shards", split="train")))
    assert frames[0].sum() == len(sample["events"]["t"])  # every event counted once


def test_two_dimensional_sensor_of_another_size_streams_too(tmp_path):
    raw = writers.write_hardvs(tmp_path / "raw")
    shardgen.convert("hardvs", raw, tmp_path / "shards", progress=False, verify=False)
    stream = EventStream(tmp_path / "shards", split="train")
    batch = next(iter(stream.frames(4, split_by="number").batch(3)))
    frames = batch["frames"]
    assert tuple(frames.shape) == (3, 4, 2, 260, 346) and batch["lengths"].tolist() == [4, 4, 4]
    first = next(iter(EventStream(tmp_path / "shards", split="train")))
    np.testing.assert_array_equal(frames[0].numpy(), integrate_2d(first["events"], "number", 4, 260, 346))


# Properties on any input ------------------------------------------------------------------------

events_1d = st.integers(0, 300).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 3_000_000), min_size=n, max_size=n).map(lambda t: np.sort(np.array(t, np.int64))),
        st.lists(st.integers(0, W + 5), min_size=n, max_size=n).map(lambda x: np.array(x, np.uint16)),
    )
)


@settings(max_examples=60, deadline=None)
@given(events=events_1d, frames_num=st.integers(1, 20))
def test_number_split_counts_spikingjellys_index_ranges(events, frames_num):
    t, x = events
    frames = shd.integrate_events_by_fixed_frames_number({"t": t, "x": x}, "number", frames_num, W)
    step = len(t) // frames_num
    for i in range(frames_num):
        stop = len(t) if i == frames_num - 1 else (i + 1) * step
        chosen = x[i * step : stop]
        np.testing.assert_array_equal(frames[i], np.bincount(chosen[chosen < W], minlength=W))


@settings(max_examples=60, deadline=None)
@given(events=events_1d, duration=st.integers(2_000, 500_000))  # at most 1,500 frames
def test_exact_duration_frames_put_each_event_in_its_window(events, duration):
    t, x = events
    frames = shd.integrate_events_by_fixed_duration({"t": t, "x": x}, duration, W, time_dtype=None)
    if len(t) == 0:
        assert frames.shape == (0, W)
        return
    assert len(frames) == max(1, int(np.ceil((t[-1] - t[0]) / duration)))
    window = np.minimum((t - t[0]) // duration, len(frames) - 1)
    expected = np.zeros((len(frames), W))
    keep = x < W
    np.add.at(expected, (window[keep], x[keep].astype(np.int64)), 1)
    np.testing.assert_array_equal(frames, expected)


@settings(max_examples=60, deadline=None)
@given(events=events_1d, frames_num=st.integers(1, 20))
def test_exact_time_split_uses_real_division_of_the_span(events, frames_num):
    t, x = events
    frames = shd.integrate_events_by_fixed_frames_number({"t": t, "x": x}, "time", frames_num, W, time_dtype=None)
    if len(t) == 0:
        assert not frames.any()
        return
    span = int(t[-1] - t[0])
    # window i holds i * span / T <= t - t0 < (i + 1) * span / T; the last one everything after its start
    window = (frames_num * (t - t[0])) // span if span else np.full(len(t), frames_num - 1)
    window = np.minimum(window, frames_num - 1)
    expected = np.zeros((frames_num, W))
    keep = x < W
    np.add.at(expected, (window[keep], x[keep].astype(np.int64)), 1)
    np.testing.assert_array_equal(frames, expected)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(-2, 9), max_size=30),
    st.lists(st.tuples(st.integers(-70, 70), st.integers(-70, 70)), max_size=5),
)
def test_channel_segments_beyond_the_events_select_what_python_slices_select(channels, segments):
    x = np.array(channels, np.int64)
    j_l, j_r = [lo for lo, _ in segments], [hi for _, hi in segments]
    frames = shd.integrate_channel_segments({"x": x}, j_l, j_r, 8)
    for frame, lo, hi in zip(frames, j_l, j_r):
        selected = x[lo:hi]
        np.testing.assert_array_equal(frame, np.bincount(selected[(selected >= 0) & (selected < 8)], minlength=8))
    assert frames.shape == (len(segments), 8)
