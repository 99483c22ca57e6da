"""The representations against live Tonic 1.7 (the ``test`` extra installs it).

Where Tonic returns, ours must return the same array: shape, dtype and every value, floats to the
last bit. Where Tonic raises or moves events (out-of-bounds coordinates, no events, a voxel grid
over one timestamp), the documented rules of ``streams.functional.representations`` hold, and are
checked against Tonic on an input where it does return: events outside the sensor are left out,
which is what Tonic computes on a sensor enlarged to hold them, cropped back to the sensor.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

tonic_transforms = pytest.importorskip("tonic.transforms")  # in the test extra; skip only outside it

from streams import transforms as ours  # noqa: E402
from streams.functional import representations as R  # noqa: E402

TONIC_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])  # tonic.io.events_struct
INT_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])  # most of Tonic's datasets
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_events(x, y, t, p, dtype=TONIC_DTYPE) -> np.ndarray:
    events = np.zeros(len(t), dtype)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events


@st.composite
def samples(draw, max_events=60, sorted_t=None, dtype=TONIC_DTYPE):
    """(events, sensor_size): a small sensor, timestamps with ties, sorted or not."""
    W, H = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    n = draw(st.integers(1, max_events))
    t = np.array(draw(st.lists(st.integers(0, draw(st.sampled_from([3, 50, 5000]))), min_size=n, max_size=n)))
    if sorted_t if sorted_t is not None else draw(st.booleans()):
        t = np.sort(t)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return make_events(rng.integers(0, W, n), rng.integers(0, H, n), t, rng.integers(0, 2, n), dtype), (W, H, 2)


def assert_same(actual, expected) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, (
        actual.shape,
        actual.dtype,
        expected.shape,
        expected.dtype,
    )
    np.testing.assert_array_equal(actual, expected)


FRAME_MODES = st.one_of(
    st.builds(
        lambda w, o, inc: {"time_window": w, "overlap": o * w // 4, "include_incomplete": inc},
        st.sampled_from([1, 7, 100, 1000, 250.5]),
        st.integers(0, 3),
        st.booleans(),
    ),
    st.builds(
        lambda c, o, inc: {"event_count": c, "overlap": min(o, c - 1), "include_incomplete": inc},
        st.integers(1, 20),
        st.integers(0, 5),
        st.booleans(),
    ),
    st.builds(lambda b, o: {"n_time_bins": b, "overlap": o}, st.integers(1, 9), st.sampled_from([0, 0.0, 0.25, 0.5])),
    st.builds(lambda b, o: {"n_event_bins": b, "overlap": o}, st.integers(1, 9), st.sampled_from([0, 0.25, 0.5])),
)


@SETTINGS
@given(samples(), FRAME_MODES)
def test_to_frame_equals_tonic(sample, mode):
    events, sensor_size = sample
    expected = tonic_transforms.ToFrame(sensor_size, **mode)(events.copy())
    assert_same(ours.ToFrame(sensor_size, **mode)(events), expected)
    dense = tonic_transforms.ToSparseTensor(sensor_size, **mode)(events.copy()).to_dense()
    assert np.array_equal(ours.ToSparseTensor(sensor_size, **mode)(events).to_dense().numpy(), dense.numpy())


@SETTINGS
@given(samples(), st.sampled_from([dict(time_window=10, start_time=-20, end_time=80), dict(time_window=30, start_time=5)]))
def test_to_frame_start_and_end_time_equal_tonic(sample, mode):
    events, sensor_size = sample
    assert_same(ours.ToFrame(sensor_size, **mode)(events), tonic_transforms.ToFrame(sensor_size, **mode)(events.copy()))


@SETTINGS
@given(samples(sorted_t=True), st.integers(1, 9))
def test_last_bin_to_end_counts_every_event_tonic_leaves_out(sample, bins):
    events, sensor_size = sample
    tonic_frames = tonic_transforms.ToFrame(sensor_size, n_time_bins=bins)(events.copy())
    corrected = ours.ToFrame(sensor_size, n_time_bins=bins, last_bin_to_end=True)(events)
    # The first bins are Tonic's; the last takes from its own start to the end of the recording.
    assert_same(corrected[:-1], tonic_frames[:-1])
    start = np.searchsorted(events["t"], events["t"][0] + (bins - 1) * ((events["t"][-1] - events["t"][0]) // bins))
    assert_same(corrected[-1], tonic_transforms.ToImage(sensor_size)(events[start:].copy()))


@SETTINGS
@given(samples())
def test_to_image_equals_tonic(sample):
    events, sensor_size = sample
    assert_same(ours.ToImage(sensor_size)(events), tonic_transforms.ToImage(sensor_size)(events.copy()))


@SETTINGS
@given(samples(dtype=INT_DTYPE), st.integers(1, 9))
def test_to_voxel_grid_equals_tonic(sample, bins):
    events, sensor_size = sample
    assume(len(events) > 1)  # one event: Tonic divides by zero; tested below
    events["t"][0] = events["t"].min()  # events before t[0] make Tonic wrap bins; tested below
    if events["t"][-1] == events["t"][0]:
        events["t"][-1] += 1  # Tonic divides by zero; tested below
    expected = tonic_transforms.ToVoxelGrid(sensor_size, bins)(events.copy())
    assert_same(ours.ToVoxelGrid(sensor_size, bins)(events), expected)
    t, x, y, p = R.event_fields(events)  # stripes of 8 bytes: every row on its own, as large sensors are summed
    assert_same(R.to_voxel_grid(t, x, y, p, sensor_size, bins, stripe_bytes=8), expected)


@SETTINGS
@given(samples(), st.sampled_from([1, 3, 10, 333]), st.sampled_from([1, 7.5, 1000]))
def test_to_timesurface_equals_tonic(sample, dt, tau):
    events, sensor_size = sample
    starts, stops = R.slice_by_time(events["t"], dt)
    assume(stops[0] > starts[0])  # an empty first window (unsorted t): Tonic raises; tested below
    assert_same(
        ours.ToTimesurface(sensor_size, dt, tau)(events), tonic_transforms.ToTimesurface(sensor_size, dt, tau)(events.copy())
    )


@SETTINGS
@given(
    samples(max_events=200, sorted_t=True),
    st.sampled_from([7, 100]),
    st.sampled_from([0.0, -5.0, 1e-3, 0.5, 1.0, 3.7]),
    st.sampled_from([0, 2**50, 1_700_000_000_000_000_000]),
)
def test_timesurface_cells_left_at_zero_keep_tonics_values(sample, dt, tau, offset):
    """Cells whose exponent lies surely below exp's underflow get 0.0 without numpy's exp: around
    that bound, with tau that is zero, negative or tiny beside the timestamps (nanoseconds since
    1970), every value is still Tonic's, NaN and inf included."""
    events, sensor_size = sample
    events["t"] += offset
    with np.errstate(all="ignore"):
        expected = tonic_transforms.ToTimesurface(sensor_size, dt, tau)(events.copy())
    assert_same(ours.ToTimesurface(sensor_size, dt, tau)(events), expected)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    samples(max_events=50),
    st.sampled_from([(3, 1), (3, 3), (5, 3), (4, 1)]),
    st.sampled_from([1e3, 20, 3.5]),
    st.sampled_from([100, 7.25]),
    st.sampled_from(["exp", "lin"]),
)
def test_to_averaged_timesurface_equals_tonic(sample, sizes, window, tau, decay):
    events, sensor_size = sample
    cell_size, surface_size = sizes
    kwargs = dict(surface_size=surface_size, cell_size=cell_size, time_window=window, tau=tau, decay=decay)
    expected = tonic_transforms.ToAveragedTimesurface(sensor_size, **kwargs)(events.copy())
    assert_same(ours.ToAveragedTimesurface(sensor_size, **kwargs)(events), expected)
    t, x, y, p = R.event_fields(events)  # a pair buffer of 2 makes many passes: the same sums
    assert_same(
        R.to_averaged_timesurface(t, x, y, p, sensor_size, cell_size, surface_size, window, tau, decay, pair_buffer=2), expected
    )


@SETTINGS
@given(samples(), st.integers(1, 3), st.integers(2, 6))
def test_to_bina_rep_equals_tonic(sample, n_frames, n_bits):
    events, sensor_size = sample
    frames = tonic_transforms.ToFrame(sensor_size, n_event_bins=n_frames * n_bits)(events.copy())
    assert_same(ours.ToBinaRep(n_frames, n_bits)(frames), tonic_transforms.ToBinaRep(n_frames, n_bits)(frames))


# ----------------------------------------------------------------------------------------------
# Edge cases: Tonic's value where it returns, the documented rule where it does not
# ----------------------------------------------------------------------------------------------

SENSOR = (6, 4, 2)
ONE_EVENT = make_events([2], [3], [1000], [1])
SAME_TIME = make_events([0, 5, 2, 2], [0, 3, 1, 1], [7, 7, 7, 7], [1, 0, 1, 1])
UNSORTED = make_events([0, 5, 2, 2, 1, 4], [0, 3, 1, 1, 2, 0], [10, 50, 90, 30, 30, 70], [1, 0, 1, 0, 1, 1])
FRAME_KWARGS = [
    dict(time_window=20),
    dict(time_window=20, include_incomplete=True),
    dict(event_count=2),
    dict(n_time_bins=3),
    dict(n_event_bins=3, overlap=0.5),
]


@pytest.mark.parametrize("events", [ONE_EVENT, SAME_TIME, UNSORTED], ids=["one", "same-time", "unsorted"])
@pytest.mark.parametrize("kwargs", FRAME_KWARGS, ids=str)
def test_frames_on_edge_cases_equal_tonic(events, kwargs):
    assert_same(ours.ToFrame(SENSOR, **kwargs)(events), tonic_transforms.ToFrame(SENSOR, **kwargs)(events.copy()))
    assert_same(ours.ToImage(SENSOR)(events), tonic_transforms.ToImage(SENSOR)(events.copy()))
    assert_same(ours.ToTimesurface(SENSOR, 15, 20.0)(events), tonic_transforms.ToTimesurface(SENSOR, 15, 20.0)(events.copy()))
    hats = dict(cell_size=3, surface_size=3, time_window=100)
    assert_same(
        ours.ToAveragedTimesurface(SENSOR, **hats)(events), tonic_transforms.ToAveragedTimesurface(SENSOR, **hats)(events.copy())
    )


def test_voxel_grid_of_unsorted_events_equals_tonic_where_no_bin_wraps():
    events = UNSORTED.astype(INT_DTYPE)
    events["t"] = [50, 45, 90, 48, 60, 70]  # before t[0]: ts = -0.5, -0.2, bins 0 and 1 (negative share)
    assert_same(ours.ToVoxelGrid(SENSOR, 2)(events), tonic_transforms.ToVoxelGrid(SENSOR, 2)(events.copy()))


def test_voxel_grid_leaves_out_bins_before_the_first_that_tonic_wraps_to_the_last():
    events = UNSORTED.astype(INT_DTYPE)
    events["t"] = [50, 40, 90, 45, 55, 70]  # before t[0]: ts = -2, -1, whose bins Tonic wraps
    ts = 4 * (events["t"] - 50) / (70 - 50)
    assert (ts <= -1).any()
    tonic = tonic_transforms.ToVoxelGrid(SENSOR, 4)(events.copy())
    grid = ours.ToVoxelGrid(SENSOR, 4)(events)
    # Our bins are Tonic's once Tonic's wrapped contributions (bin -1 -> 3, ...) are taken out again.
    wrapped = np.zeros_like(grid).ravel()
    tis, flat = ts.astype(int), events["x"] + events["y"] * 6
    pols = np.where(events["p"] == 0, -1, events["p"])
    for k in np.flatnonzero(tis < 0):
        np.add.at(wrapped, flat[k] + (tis[k] % 4) * 24, pols[k] * (1 - (ts[k] - tis[k])))
        if tis[k] + 1 < 0:
            np.add.at(wrapped, flat[k] + ((tis[k] + 1) % 4) * 24, pols[k] * (ts[k] - tis[k]))
    np.testing.assert_allclose(grid, tonic - wrapped.reshape(grid.shape), rtol=0, atol=1e-12)
    t, x, y, p = R.event_fields(events)
    assert_same(R.to_voxel_grid(t, x, y, p, SENSOR, 4, stripe_bytes=8), grid)


@pytest.mark.parametrize("events", [ONE_EVENT, SAME_TIME], ids=["one", "same-time"])
def test_voxel_grid_of_one_timestamp_puts_every_event_in_bin_0(events):
    events = events.astype(INT_DTYPE)
    with np.errstate(all="ignore"):
        tonic = tonic_transforms.ToVoxelGrid(SENSOR, 3)(events.copy())
    assert np.isnan(tonic).any()  # Tonic divides by zero
    grid = ours.ToVoxelGrid(SENSOR, 3)(events)
    image = ours.ToImage(SENSOR)(events).astype(float)
    np.testing.assert_array_equal(grid[0, 0], image[1] - image[0])
    assert not grid[1:].any()
    assert_same(R.to_voxel_grid(*R.event_fields(events), SENSOR, 3, stripe_bytes=8), grid)


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_voxel_grid_of_a_large_sensor_equals_tonic(order):
    """A DAVIS346's grid (700 kB a bin) goes by plane and stripe; t[0] stays the earliest, so
    that no bin wraps in Tonic; some events fall off the sensor (left out by both)."""
    rng = np.random.default_rng(7)
    n, sensor = 50_000, (346, 260, 2)
    t = np.sort(rng.integers(0, 10**6, n))
    if order == "shuffled":
        t[1:] = rng.permutation(t[1:])
    events = make_events(rng.integers(0, 350, n), rng.integers(0, 262, n), t, rng.integers(0, 2, n), INT_DTYPE)
    events["x"][[0, -1]] = events["y"][[0, -1]] = 0  # on the sensor: both see the same t[0] and t[-1]
    inside = (events["x"] < 346) & (events["y"] < 260)
    expected = tonic_transforms.ToVoxelGrid(sensor, 7)(events[inside])
    assert_same(R.to_voxel_grid(*R.event_fields(events), sensor, 7, stripe_bytes=64 * 346 * 8), expected)


def test_voxel_grid_counts_polarity_0_as_minus_1_for_bool_p_where_tonic_counts_plus_1():
    events = make_events([1, 1], [1, 1], [0, 10], [False, True])
    as_int = events.astype(INT_DTYPE)
    assert_same(ours.ToVoxelGrid(SENSOR, 2)(events), tonic_transforms.ToVoxelGrid(SENSOR, 2)(as_int.copy()))
    assert tonic_transforms.ToVoxelGrid(SENSOR, 2)(events.copy())[0, 0, 1, 1] == 1.0  # Tonic: both +1


def test_timesurface_whose_first_window_is_empty_counts_from_the_first_event():
    events = make_events([1, 2], [0, 0], [1, 0], [1, 1])  # unsorted: searchsorted finds no event at t[0]
    with pytest.raises(IndexError):
        tonic_transforms.ToTimesurface(SENSOR, 1, 1.0)(events.copy())
    assert_same(ours.ToTimesurface(SENSOR, 1, 1.0)(events), np.zeros((1, 2, 4, 6)))  # no event in the window


def test_no_events():
    empty = make_events([], [], [], [])
    for kwargs, count in [
        (dict(time_window=10), 1),
        (dict(event_count=3), 1),
        (dict(n_time_bins=4), 4),
        (dict(n_event_bins=5), 5),
    ]:
        tonic = tonic_transforms.ToFrame(SENSOR, **kwargs)(empty.copy())
        assert tonic.shape == (count, 2, 6, 4) and not tonic.any()  # Tonic's empty frames are [T, P, W, H]
        assert_same(ours.ToFrame(SENSOR, **kwargs)(empty), np.zeros((count, 2, 4, 6), np.int16))
    with pytest.raises(UnboundLocalError):
        tonic_transforms.ToImage(SENSOR)(empty.copy())
    assert_same(ours.ToImage(SENSOR)(empty), np.zeros((2, 4, 6), np.int16))
    assert_same(ours.ToVoxelGrid(SENSOR, 3)(empty), np.zeros((3, 1, 4, 6)))
    assert_same(ours.ToTimesurface(SENSOR, 10, 5)(empty), np.zeros((1, 2, 4, 6)))
    hats = dict(cell_size=3, surface_size=3)
    assert_same(
        ours.ToAveragedTimesurface(SENSOR, **hats)(empty), tonic_transforms.ToAveragedTimesurface(SENSOR, **hats)(empty.copy())
    )


def tonic_on_enlarged_sensor(transform, events, sensor_size):
    """Tonic's output on a sensor enlarged (and shifted) to hold every event, cropped back."""
    shift_x, shift_y = max(0, -int(events["x"].min())), max(0, -int(events["y"].min()))
    shifted = events.astype(INT_DTYPE)
    shifted["x"] += shift_x
    shifted["y"] += shift_y
    W = max(sensor_size[0] + shift_x, int(shifted["x"].max()) + 1)
    H = max(sensor_size[1] + shift_y, int(shifted["y"].max()) + 1)
    out = transform((W, H, sensor_size[2]))(shifted)
    return out[..., shift_y : shift_y + sensor_size[1], shift_x : shift_x + sensor_size[0]]


OUT_OF_BOUNDS = make_events([2, 6, -1, 3, 9, 0], [1, 0, 2, -2, 7, 3], [0, 10, 20, 30, 40, 55], [1, 0, 1, 1, 0, 0], INT_DTYPE)


@pytest.mark.parametrize(
    "name, make",
    [
        ("frames-time", lambda s: tonic_transforms.ToFrame(s, time_window=20)),
        ("frames-bins", lambda s: tonic_transforms.ToFrame(s, n_time_bins=3)),
        ("frames-count", lambda s: tonic_transforms.ToFrame(s, event_count=2, overlap=1)),
        ("image", lambda s: tonic_transforms.ToImage(s)),
        ("voxel", lambda s: tonic_transforms.ToVoxelGrid(s, 3)),
        ("timesurface", lambda s: tonic_transforms.ToTimesurface(s, 10, 30.0)),
    ],
)
def test_events_outside_the_sensor_are_left_out(name, make):
    mine = {
        "frames-time": ours.ToFrame(SENSOR, time_window=20),
        "frames-bins": ours.ToFrame(SENSOR, n_time_bins=3),
        "frames-count": ours.ToFrame(SENSOR, event_count=2, overlap=1),
        "image": ours.ToImage(SENSOR),
        "voxel": ours.ToVoxelGrid(SENSOR, 3),
        "timesurface": ours.ToTimesurface(SENSOR, 10, 30.0),
    }[name]
    assert_same(mine(OUT_OF_BOUNDS), tonic_on_enlarged_sensor(make, OUT_OF_BOUNDS, SENSOR))


def test_tonic_raises_on_x_beyond_the_sensor_and_moves_negative_x():
    with pytest.raises(IndexError):
        tonic_transforms.ToImage(SENSOR)(OUT_OF_BOUNDS[[0, 4]].copy())
    negative = OUT_OF_BOUNDS[[2]].copy()  # x = -1, y = 2: Tonic counts it at x = 5
    assert tonic_transforms.ToImage(SENSOR)(negative)[1, 2, 5] == 1
    assert not ours.ToImage(SENSOR)(negative).any()


def test_averaged_timesurface_leaves_out_events_outside_the_sensor():
    inside = (OUT_OF_BOUNDS["x"] >= 0) & (OUT_OF_BOUNDS["x"] < 6) & (OUT_OF_BOUNDS["y"] >= 0) & (OUT_OF_BOUNDS["y"] < 4)
    hats = dict(cell_size=3, surface_size=3, time_window=100, tau=30)
    assert_same(
        ours.ToAveragedTimesurface(SENSOR, **hats)(OUT_OF_BOUNDS),
        tonic_transforms.ToAveragedTimesurface(SENSOR, **hats)(OUT_OF_BOUNDS[inside].copy()),
    )


def test_frame_counts_saturate_where_tonics_int16_wraps():
    events = make_events(np.zeros(40000, int), np.zeros(40000, int), np.arange(40000), np.ones(40000, int))
    assert tonic_transforms.ToImage(SENSOR)(events.copy())[1, 0, 0] == 40000 - 65536
    assert ours.ToImage(SENSOR)(events)[1, 0, 0] == 32767


def test_single_polarity_sensor():
    one_value = make_events([1, 2], [0, 3], [0, 5], [1, 1])
    assert_same(
        ours.ToFrame((6, 4, 1), event_count=1)(one_value), tonic_transforms.ToFrame((6, 4, 1), event_count=1)(one_value.copy())
    )
    both = make_events([1, 2], [0, 3], [0, 5], [0, 1])
    with pytest.raises(ValueError):
        tonic_transforms.ToFrame((6, 4, 1), event_count=1)(both.copy())
    merged = both.copy()
    merged["p"] = 0  # ours counts both in the one channel, and leaves the input alone
    assert_same(ours.ToFrame((6, 4, 1), event_count=1)(both), tonic_transforms.ToFrame((6, 4, 1), event_count=1)(merged))
    assert both["p"].tolist() == [False, True]


@SETTINGS
@given(samples(), FRAME_MODES)
def test_sensor_size_inferred_as_tonic_does(sample, mode):
    events, _ = sample
    assert_same(ours.ToFrame(None, **mode)(events), tonic_transforms.ToFrame(None, **mode)(events.copy()))


@SETTINGS
@given(samples(), FRAME_MODES)
def test_one_dimensional_sensor_frames_equal_tonic(sample, mode):
    events, (W, _, P) = sample
    audio = np.zeros(len(events), np.dtype([("t", int), ("x", int), ("p", int)]))
    audio["t"], audio["x"], audio["p"] = events["t"], events["x"], events["p"]
    assert_same(ours.ToFrame((W, 1, P), **mode)(audio), tonic_transforms.ToFrame((W, 1, P), **mode)(audio.copy()))


@SETTINGS
@given(samples())
def test_decoded_events_mapping_gives_the_structured_arrays_values(sample):
    events, sensor_size = sample
    decoded = {
        "t": events["t"].astype(np.int64),
        "x": events["x"].astype(np.uint16),
        "y": events["y"].astype(np.uint16),
        "p": events["p"].astype(np.uint8),
    }
    for transform in (
        ours.ToFrame(n_time_bins=3),
        ours.ToImage(),
        ours.ToVoxelGrid(n_time_bins=3),
        ours.ToTimesurface(dt=10, tau=5.0),
        ours.ToAveragedTimesurface(cell_size=3, surface_size=3),
    ):
        assert_same(transform(decoded, sensor_size=sensor_size), transform(events, sensor_size=sensor_size))


def test_invalid_parameters_raise_value_errors():
    with pytest.raises(ValueError, match="exactly one"):
        ours.ToFrame(SENSOR, time_window=10, n_time_bins=3)(ONE_EVENT)
    with pytest.raises(ValueError, match="positive"):
        ours.ToFrame(SENSOR, event_count=2, overlap=2)(ONE_EVENT)
    with pytest.raises(ValueError, match="below 1"):
        ours.ToFrame(SENSOR, n_time_bins=2, overlap=1)(ONE_EVENT)
    with pytest.raises(ValueError, match="odd"):
        ours.ToAveragedTimesurface(SENSOR, surface_size=4)(ONE_EVENT)
    with pytest.raises(ValueError, match="sensor_size"):
        ours.ToImage()(ONE_EVENT)
    with pytest.raises(ValueError, match="two polarities"):
        ours.ToVoxelGrid((6, 4, 1), 2)(ONE_EVENT)
    audio = {"t": np.array([1]), "x": np.array([2]), "p": np.array([0])}
    for transform in (ours.ToVoxelGrid((6, 1, 2), 2), ours.ToTimesurface((6, 1, 2), 5, 5), ours.ToAveragedTimesurface((6, 1, 2))):
        with pytest.raises(ValueError, match="needs events with y"):
            transform(audio)


@SETTINGS
@given(samples(), st.lists(st.tuples(st.integers(-90, 90), st.integers(-90, 90)), min_size=1, max_size=5))
def test_count_slices_beyond_the_events_count_what_python_slices_select(sample, ranges):
    events, sensor_size = sample
    starts, stops = (np.array(v, np.int64) for v in zip(*ranges))
    frames = R.count_slices(*R.event_fields(events)[1:], starts, stops, sensor_size)
    for frame, lo, hi in zip(frames, starts, stops):
        assert_same(frame, ours.ToImage(sensor_size)(events[lo:hi]))
