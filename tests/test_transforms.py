"""streams.transforms in a stream (apply_transform, mix_events) and the paper augmentations
beyond Tonic; the Tonic-named transforms are compared with Tonic in test_transforms_tonic.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tonic.transforms as T
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import streams.transforms as S
import streams.transforms._events as E
from shardgen.synthetic.shards import SENSOR, write_uneven_shards
from streams import EventStream, SampleError, ShardDataset
from streams.functional import geometry
from streams.functional.events import merge_sorted_times, stable_order
from streams.stages import sample_rng
from streams.transforms import SampleTransform, apply_transform, mix_events


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("transform_shards")
    write_uneven_shards(out, [3, 5, 2])
    return out


@pytest.fixture(scope="module")
def samples(shards) -> list[dict]:
    return list(EventStream(shards, split="train"))


def events_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


def test_apply_transform_draws_from_the_sample_seed(shards, samples) -> None:
    transform = S.Compose([S.DropEvent(p=0.3), S.RandomFlipLR(p=0.5), S.SpatialJitter(var_x=0.5, var_y=0.5)])
    streamed = list(EventStream(shards, split="train").compose(apply_transform(transform, seed=7)))
    assert [s["__key__"] for s in streamed] == [s["__key__"] for s in samples]
    for sample, plain in zip(streamed, samples):
        expected = transform(plain["events"], rng=sample_rng(7, plain), sensor_size=plain["sensor_size"])
        assert events_equal(sample["events"], expected), sample["__key__"]
        assert sample["label"] == plain["label"] and sample["sensor_size"] == plain["sensor_size"]
    again = list(EventStream(shards, split="train").compose(apply_transform(transform, seed=7)))
    assert all(events_equal(a["events"], b["events"]) for a, b in zip(streamed, again))  # a resumed run repeats
    other = list(EventStream(shards, split="train").compose(apply_transform(transform, seed=8)))
    assert not all(events_equal(a["events"], b["events"]) for a, b in zip(streamed, other))


def test_fluent_transforms_end_in_a_representation_that_batch_pads(shards, samples) -> None:
    augment, to_frame = S.RandomFlipLR(p=0.5), S.ToFrame(n_time_bins=3)
    stream = EventStream(shards, split="train").transform(augment, seed=3).transform(to_frame).batch(4)
    batches = list(stream)
    assert [len(batch["__key__"]) for batch in batches] == [4, 4, 2]
    for batch, group in zip(batches, [samples[0:4], samples[4:8], samples[8:10]]):
        for row, plain in zip(batch["frames"].numpy(), group):
            flipped = augment(plain["events"], rng=sample_rng(3, plain), sensor_size=plain["sensor_size"])
            np.testing.assert_array_equal(row, to_frame(flipped, sensor_size=plain["sensor_size"]))
        assert batch["label"].tolist() == [plain["label"] for plain in group]


def test_sample_transform_on_a_map_style_dataset_draws_as_the_stream(shards, samples) -> None:
    transform = S.Compose([S.RandomCrop(target_size=(3, 3)), S.DropEvent(p=(0.0, 0.5))])
    dataset = ShardDataset(shards, split="train", transform=SampleTransform(transform, seed=4))
    streamed = list(EventStream(shards, split="train").compose(apply_transform(transform, seed=4)))
    for item, sample in enumerate(streamed):
        assert events_equal(dataset[item]["events"], sample["events"]) and dataset[item]["sensor_size"] == (3, 3, 2)
    unseeded = ShardDataset(shards, split="train", transform=SampleTransform(S.DropEvent(p=0.5)))
    largest = int(np.argmax([len(sample["events"]["t"]) for sample in samples]))  # many ways to drop half
    assert len(samples[largest]["events"]["t"]) >= 10
    draws = [unseeded[largest]["events"]["t"].tobytes() for _ in range(5)]
    assert len(set(draws)) > 1  # without a seed, each call draws afresh, as Tonic's transforms do


def test_apply_transform_updates_the_sensor_size_and_frames_follow(shards, samples) -> None:
    transform = S.Compose([S.CenterCrop(size=(3, 2)), S.Downsample(spatial_factor=0.5)])
    stream = EventStream(shards, split="train").compose(apply_transform(transform)).frames(frames_number=2)
    for sample, plain in zip(stream, samples):
        assert sample["sensor_size"] == (2, 1, 2)
        assert sample["frames"].shape == (2, 2, 1, 2)
        cropped = S.CenterCrop(size=(3, 2))(plain["events"], sensor_size=SENSOR)
        assert sample["frames"].sum() == len(cropped["t"])  # every cropped event lands in a frame


def test_apply_transform_accepts_tonic_transforms_and_names_failing_samples(shards, samples) -> None:
    """A plain callable (here Tonic's own, on a dict it cannot read) gets the events alone."""
    merged = list(EventStream(shards, split="train").compose(apply_transform(lambda e: {**e, "p": 0 * e["p"]})))
    assert all(np.all(s["events"]["p"] == 0) for s in merged)
    with pytest.raises(SampleError, match=r"sample 'uneven_00000': transform .* failed"):
        list(EventStream(shards, split="train").compose(apply_transform(T.Denoise(filter_time=10))))


def test_transforms_on_decoded_samples_keep_the_dict_columns(samples) -> None:
    events = samples[0]["events"]
    out = S.Compose([S.TimeReversal(), S.Denoise(filter_time=500)])(events, sensor_size=SENSOR)
    assert isinstance(out, dict) and {k: v.dtype for k, v in out.items()} == {k: v.dtype for k, v in events.items()}
    assert all(v.flags.c_contiguous for v in out.values())  # torch can wrap them


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 9), max_size=30), st.lists(st.integers(0, 9), max_size=30), st.booleans())
def test_merge_sorted_times_is_a_stable_argsort(recorded, added, sort_recorded) -> None:
    t = np.array(sorted(recorded) if sort_recorded else recorded, dtype=np.int64)
    noise = np.array(added, dtype=np.int64)
    expected = np.argsort(np.concatenate((t, noise)), kind="stable")
    assert np.array_equal(merge_sorted_times(t, noise), expected)


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([np.int8, np.uint16, np.int32, np.int64, np.uint64, np.float32]),
    st.lists(st.integers(-(2**62), 2**62), max_size=40),
    st.sampled_from([3, 2**20, 2**62]),
)
def test_stable_order_is_a_stable_argsort(dtype, values, spread) -> None:
    """Sorting keys (narrow ranges, ties) and numpy's stable sort (ranges too wide, uint64, floats)."""
    t = (np.array(values, dtype=object) % spread).astype(np.int64).astype(dtype)
    assert np.array_equal(stable_order(t), np.argsort(t, kind="stable"))


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([np.int64, np.uint32, np.float32]),
    st.lists(st.integers(0, 60), max_size=40),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(0, 2**32),
)
def test_time_jitter_adds_one_draw_per_event_then_clips_and_sorts_stably(dtype, t, clip, sort, as_dict, seed) -> None:
    """The values a generator's draws give: t + rng.normal(0, std, n) stored as the container
    stores it (a dict's uint32 column widens below 0), then Tonic's clip and a stable sort, each
    step on whole events."""
    events = np.zeros(len(t), [("t", dtype), ("x", np.uint16), ("y", np.uint16), ("p", np.uint8)])
    events["t"], events["x"] = t, np.arange(len(t))
    if as_dict:
        events = {name: events[name] for name in events.dtype.names}
    shifts = np.random.default_rng(seed).normal(0, 8.0, len(t))
    expected = E.assign(events, t=np.asarray(events["t"]) + shifts)
    if clip:
        expected = E.select(expected, np.asarray(expected["t"]) >= 0)
    if sort:
        expected = E.select(expected, np.argsort(np.asarray(expected["t"]), kind="stable"))
    actual = S.TimeJitter(std=8.0, clip_negative=clip, sort_timestamps=sort)(events, rng=np.random.default_rng(seed))
    for name in ("t", "x", "y", "p"):
        assert np.asarray(actual[name]).dtype == np.asarray(expected[name]).dtype
        assert np.array_equal(actual[name], expected[name]), name


# --- Paper augmentations ---------------------------------------------------------------------

PLANE = (16, 12, 2)
_Y, _X = np.divmod(np.arange(PLANE[0] * PLANE[1]), PLANE[0])
GRID = {
    "t": np.arange(len(_X), dtype=np.int64) * 10,
    "x": _X.astype(np.uint16),
    "y": _Y.astype(np.uint16),
    "p": (_X % 2).astype(np.uint8),
}


def test_event_drop_draws_as_tonic() -> None:
    structured = np.zeros(len(GRID["t"]), np.dtype([("x", int), ("y", int), ("t", int), ("p", int)]))
    for name in "xytp":
        structured[name] = GRID[name]
    ours = [len(S.EventDrop(PLANE)(structured, rng=np.random.default_rng(s))) for s in range(400)]
    theirs = []
    for seed in range(400):
        np.random.seed(seed)
        theirs.append(len(T.EventDrop(PLANE)(structured.copy())))
    assert stats.ks_2samp(ours, theirs).pvalue > 1e-3


def test_roll_wraps_and_keeps_every_event() -> None:
    rolled = S.Roll(max_shift=0.25)(GRID, rng=np.random.default_rng(1), sensor_size=PLANE)
    dx = (int(rolled["x"][0]) - 0) % PLANE[0]
    dy = (int(rolled["y"][0]) - 0) % PLANE[1]
    assert np.array_equal(rolled["x"], (GRID["x"] + dx) % PLANE[0]) and np.array_equal(rolled["y"], (GRID["y"] + dy) % PLANE[1])
    shifts = {int(S.Roll(max_shift=0.25)(GRID, rng=np.random.default_rng(s), sensor_size=PLANE)["x"][0]) for s in range(300)}
    assert shifts == {s % 16 for s in range(-4, 5)}  # ±4 pixels: all, and no more


def test_rotate_and_shear_are_nearest_pixel_maps_about_the_centre() -> None:
    half_turn = geometry.affine(GRID["x"], GRID["y"], geometry.rotation_matrix(180.0), PLANE[0], PLANE[1])
    assert np.array_equal(half_turn[0], PLANE[0] - 1 - GRID["x"]) and np.array_equal(half_turn[1], PLANE[1] - 1 - GRID["y"])
    assert half_turn[2].all()
    rotated = S.Rotate(degrees=30)(GRID, rng=np.random.default_rng(3), sensor_size=PLANE)
    assert 0 < len(rotated["t"]) < len(GRID["t"])  # the corners leave the sensor
    assert rotated["x"].max() < PLANE[0] and rotated["y"].max() < PLANE[1]
    half_slope = np.rad2deg(np.arctan(0.5))  # x moves by half a pixel per row: never a rounding tie
    sheared_x, sheared_y, _ = geometry.affine(GRID["x"], GRID["y"], geometry.shear_matrix(half_slope), PLANE[0], PLANE[1])
    assert np.array_equal(sheared_y, GRID["y"])  # a shear parallel to x keeps rows
    assert np.array_equal(sheared_x, np.rint(GRID["x"] + 0.5 * (GRID["y"] - 5.5)).astype(int))


def test_cutout_removes_one_clipped_square() -> None:
    for seed in range(20):
        out = S.Cutout(length=0.5)(GRID, rng=np.random.default_rng(seed), sensor_size=PLANE)
        removed = np.setdiff1d(GRID["t"], out["t"]) // 10
        assert len(removed) > 0  # a 6-pixel square centred on the sensor always overlaps it
        xs, ys = removed % PLANE[0], removed // PLANE[0]
        assert len(removed) == (xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1)  # one full rectangle
        assert xs.max() - xs.min() < 6 and ys.max() - ys.min() < 6


def test_nda_applies_one_of_its_augmentations() -> None:
    nda = S.NDA()
    for seed in range(10):
        out = nda(GRID, rng=np.random.default_rng(seed), sensor_size=PLANE)
        rng = np.random.default_rng(seed)
        chosen = nda.augmentations[rng.integers(3)]
        assert events_equal(out, chosen(GRID, rng=rng, sensor_size=PLANE))


# --- Mixing samples of a batch ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["cutmix", "eventmix"])
def test_mix_events_mixes_pairs_of_a_batch(shards, samples, method) -> None:
    mixed = list(EventStream(shards, split="train").compose(mix_events(4, method=method, alpha=1.0, num_classes=10, seed=3)))
    by_key = {s["__key__"]: s for s in samples}
    assert [s["__key__"] for s in mixed] == [s["__key__"] for s in samples]
    labels = {s["label"] for s in samples}
    for sample in mixed:
        own, partner = sample["mix"]["labels"]
        w, rest = sample["mix"]["weights"]
        assert own == by_key[sample["__key__"]]["label"] and partner in labels
        assert 0 <= w <= 1 and abs(w + rest - 1) < 1e-12
        target = np.asarray(sample["label"])
        assert target.shape == (10,) and abs(target.sum() - 1) < 1e-9 and target[own] >= w - 1e-12
        # Every mixed event is an event of the sample or of its partner, in time order.
        sources = [by_key[s["__key__"]]["events"] for s in samples if s["label"] in (own, partner)]
        known = {tuple(row) for e in sources for row in zip(*(e[k] for k in "txyp"))}
        assert all(tuple(row) in known for row in zip(*(sample["events"][k] for k in "txyp")))
        assert np.all(np.diff(sample["events"]["t"]) >= 0)
    again = list(EventStream(shards, split="train").compose(mix_events(4, method=method, alpha=1.0, num_classes=10, seed=3)))
    assert all(events_equal(a["events"], b["events"]) for a, b in zip(mixed, again))


def test_cutmix_weight_is_the_share_outside_the_box() -> None:
    sample = {"__key__": "a", "events": GRID, "label": 1, "sensor_size": PLANE}
    partner = {"__key__": "b", "events": {k: v.copy() for k, v in GRID.items()}, "label": 2, "sensor_size": PLANE}
    partner["events"]["p"] = 1 - partner["events"]["p"]  # tells the partner's events apart
    originals = {"a": sample["events"], "b": partner["events"]}
    for sample_mixed in mix_events(2, method="cutmix", seed=5)([sample, partner]):
        events = sample_mixed["events"]
        own_share = float(np.mean(events["p"] == originals[sample_mixed["__key__"]]["p"][events["t"] // 10]))
        assert len(events["t"]) == len(GRID["t"])  # the grid fills every pixel once
        assert sample_mixed["mix"]["labels"] == ({"a": (1, 2), "b": (2, 1)}[sample_mixed["__key__"]])  # seed 5 swaps them
        assert own_share == pytest.approx(sample_mixed["mix"]["weights"][0])


def test_eventmix_region_covers_the_asked_share() -> None:
    rng = np.random.default_rng(0)
    points = rng.random((3, 20000))
    for share in (0.2, 0.5, 0.8):
        centre, scale = rng.random(3), rng.uniform(0.15, 0.5, 3)
        threshold = geometry.blob_threshold(centre, scale, share)
        covered = np.mean(geometry.blob_score(*points, (1.0, 1.0, 0.0, 1.0), centre, scale) > threshold)
        assert abs(covered - share) < 0.05
