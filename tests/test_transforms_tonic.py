"""streams.transforms against Tonic 1.7 itself (a test dependency), live.

Deterministic transforms: equal values and dtypes on random (hypothesis) and edge-case inputs
wherever Tonic returns; where Tonic raises, ours return the documented result. Random transforms:
the same distribution as Tonic's (two-sample KS or chi-square tests over fixed seeds, generous
thresholds, so the tests are deterministic and do not flake).
"""

from __future__ import annotations

import numpy as np
import pytest
import tonic.transforms as T
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import streams.transforms as S

SENSOR = (8, 6, 2)
TONIC_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])  # tonic.io.events_struct
NMNIST_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])  # most Tonic datasets
OUR_DTYPE = np.dtype([("t", np.int64), ("x", np.uint16), ("y", np.uint16), ("p", np.uint8)])  # our decoded columns
FLOAT_TIME_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.float32), ("p", bool)])
DTYPES = [TONIC_DTYPE, NMNIST_DTYPE, OUR_DTYPE, FLOAT_TIME_DTYPE]
# Tonic's differentiator divides by the last timestamp, which may be 0.
pytestmark = pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")


def structured(dtype, x, y, t, p) -> np.ndarray:
    events = np.zeros(len(x), dtype=dtype)
    events["x"], events["y"], events["t"], events["p"] = x, y, t, p
    return events


@st.composite
def event_arrays(draw, max_events: int = 40, sorted_time: bool | None = None) -> np.ndarray:
    """Events on and around an 8x6 sensor: maybe unsorted, maybe sharing timestamps, with
    out-of-bounds (and, for signed fields, negative) coordinates."""
    dtype = draw(st.sampled_from(DTYPES))
    n = draw(st.integers(0, max_events))
    low = 0 if dtype["x"].kind == "u" else -3
    x = draw(st.lists(st.integers(low, SENSOR[0] + 2), min_size=n, max_size=n))
    y = draw(st.lists(st.integers(low, SENSOR[1] + 2), min_size=n, max_size=n))
    t = draw(st.lists(st.integers(0, draw(st.sampled_from([0, 50, 3000]))), min_size=n, max_size=n))
    if sorted_time if sorted_time is not None else draw(st.booleans()):
        t = sorted(t)
    p = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return structured(dtype, x, y, t, p)


def run_tonic(transform, events):
    try:
        return transform(events.copy())
    except Exception as error:  # noqa: BLE001 - Tonic's failure is what is compared
        return error


def assert_same(expected, actual) -> None:
    assert isinstance(actual, np.ndarray)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape
    assert np.array_equal(actual, expected), (expected, actual)


def assert_matches_tonic(name, tonic_transform, ours, events) -> None:
    """Ours equals Tonic's result; where Tonic raises, see ``check_where_tonic_raises``."""
    expected = run_tonic(tonic_transform, events)
    if isinstance(expected, Exception):
        check_where_tonic_raises(name, tonic_transform, ours, events)
        return
    actual = ours(events.copy())
    if isinstance(expected, np.ndarray) and expected.dtype.names is None and expected.size == 0 and len(actual) == 0:
        return  # Tonic's Decimation gives a field-less empty array when it keeps nothing
    assert_same(expected, actual)


def downsampled_pair(method, **options):
    return (T.EventDownsampling(SENSOR, (3, 2), method, **options), S.EventDownsampling(SENSOR, (3, 2), method, **options))


DETERMINISTIC = {
    "Denoise": (T.Denoise(filter_time=40), S.Denoise(filter_time=40)),
    "Denoise-fractional": (T.Denoise(filter_time=700.5), S.Denoise(filter_time=700.5)),
    "RefractoryPeriod": (T.RefractoryPeriod(delta=30), S.RefractoryPeriod(delta=30)),
    "RefractoryPeriod-0": (T.RefractoryPeriod(delta=0), S.RefractoryPeriod(delta=0)),
    "Decimation-1": (T.Decimation(n=1), S.Decimation(n=1)),
    "Decimation-3": (T.Decimation(n=3), S.Decimation(n=3)),
    "CenterCrop": (T.CenterCrop(SENSOR, 3), S.CenterCrop(SENSOR, 3)),
    "CenterCrop-pad": (T.CenterCrop(SENSOR, (11, 4)), S.CenterCrop(SENSOR, (11, 4))),
    "CropTime": (T.CropTime(min=10, max=1500), S.CropTime(min=10, max=1500)),
    "DropPixel": (
        T.DropPixel(coordinates=[(1, 2), (0, 0), (7, 5), (-1, 3)]),
        S.DropPixel(coordinates=[(1, 2), (0, 0), (7, 5), (-1, 3)]),
    ),
    "DropPixel-hot": (T.DropPixel(hot_pixel_frequency=1000), S.DropPixel(hot_pixel_frequency=1000)),
    "Downsample": (T.Downsample(time_factor=0.37, spatial_factor=0.5), S.Downsample(time_factor=0.37, spatial_factor=0.5)),
    "Downsample-xy": (T.Downsample(spatial_factor=(0.5, 0.25)), S.Downsample(spatial_factor=(0.5, 0.25))),
    "Downsample-target": (
        T.Downsample(sensor_size=SENSOR, target_size=(3, 5)),
        S.Downsample(sensor_size=SENSOR, target_size=(3, 5)),
    ),
    "EventDownsampling-integrator": downsampled_pair("integrator", dt=0.3, noise_threshold=1),
    "EventDownsampling-integrator-0": downsampled_pair("integrator", dt=0.5, noise_threshold=0),
    "EventDownsampling-integrator-negative": downsampled_pair("integrator", dt=0.4, noise_threshold=-1),
    "EventDownsampling-differentiator": downsampled_pair("differentiator", dt=0.6, noise_threshold=1, differentiator_time_bins=3),
    "EventDownsampling-differentiator-0": downsampled_pair(
        "differentiator", dt=0.4, noise_threshold=0, differentiator_time_bins=2
    ),
    "MergePolarities": (T.MergePolarities(), S.MergePolarities()),
    "NumpyAsType": (T.NumpyAsType(np.int64), S.NumpyAsType(np.int64)),
    "TimeSkew": (T.TimeSkew(coefficient=1.7, offset=-3.5), S.TimeSkew(coefficient=1.7, offset=-3.5)),
    "TimeReversal": (T.RandomTimeReversal(p=1.0), S.TimeReversal()),
    "TimeReversal-keep-polarity": (T.RandomTimeReversal(p=1.0, flip_polarities=False), S.TimeReversal(flip_polarities=False)),
    "RandomTimeReversal-never": (T.RandomTimeReversal(p=0.0), S.RandomTimeReversal(p=0.0)),
    "RandomFlipLR-always": (T.RandomFlipLR(SENSOR, p=1.0), S.RandomFlipLR(SENSOR, p=1.0)),
    "RandomFlipUD-always": (T.RandomFlipUD(SENSOR, p=1.0), S.RandomFlipUD(SENSOR, p=1.0)),
    "RandomFlipPolarity-always": (T.RandomFlipPolarity(p=1.0), S.RandomFlipPolarity(p=1.0)),
    "Compose": (
        T.Compose([T.Denoise(filter_time=200), T.CenterCrop(SENSOR, 4), T.Decimation(n=2)]),
        S.Compose([S.Denoise(filter_time=200), S.CenterCrop(SENSOR, 4), S.Decimation(n=2)]),
    ),
}


def indexable_by_tonic_frames(events: np.ndarray) -> np.ndarray:
    """The events whose downsampled pixel Tonic's (3, 2) frame can index (it raises on the others)."""
    x = (events["x"] * (3 / SENSOR[0])).astype(events.dtype["x"]).astype(int)
    y = (events["y"] * (2 / SENSOR[1])).astype(events.dtype["y"]).astype(int)
    return events[(x >= -3) & (x < 3) & (y >= -2) & (y < 2)]


def check_where_tonic_raises(name: str, tonic_transform, ours, events) -> None:
    """EventDownsampling drops the events Tonic's frame cannot index: Tonic's result on the others
    where that keeps the windows (else, and where Tonic fails on those too, for want of any emitted
    event or for its differentiator's window assertion, the output has Tonic's fields). Any other transform: events of the input's
    dtype, no more than given."""
    actual = ours(events.copy())
    if not name.startswith("EventDownsampling"):
        assert isinstance(actual, np.ndarray) and actual.dtype == events.dtype and len(actual) <= len(events)
        return
    indexable = indexable_by_tonic_frames(events)
    # The windows span the first to the last event and are found by searchsorted: without the
    # dropped events they are the same windows when those two stay and the times are sorted.
    same_windows = (
        len(indexable) > 0 and np.all(np.diff(events["t"]) >= 0) and indexable[0] == events[0] and indexable[-1] == events[-1]
    )
    expected = run_tonic(tonic_transform, indexable) if same_windows else None
    if expected is None or isinstance(expected, Exception):
        assert actual.dtype == np.dtype([(field, "i4") for field in "xypt"])
    else:
        assert_same(expected, actual)


@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_arrays())
def test_deterministic_transform_equals_tonic(name, events) -> None:
    assert_matches_tonic(name, *DETERMINISTIC[name], events)


@pytest.mark.parametrize("name", sorted(name for name in DETERMINISTIC if name.startswith("EventDownsampling")))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_arrays(), far=st.integers(-(2**40), 2**40), coordinate=st.sampled_from("xy"))
def test_event_downsampling_with_far_coordinates_equals_tonic(name, events, far, coordinate) -> None:
    """A coordinate range too wide to tabulate: each event's frame index is computed instead."""
    events = structured(NMNIST_DTYPE, events["x"], events["y"], events["t"], events["p"])
    if len(events):
        events[coordinate][len(events) // 2] = far
    assert_matches_tonic(name, *DETERMINISTIC[name], events)


@pytest.mark.parametrize("name", sorted(name for name in DETERMINISTIC if name.startswith("EventDownsampling")))
@pytest.mark.parametrize("dtype", [TONIC_DTYPE, OUR_DTYPE])
def test_event_downsampling_on_a_long_recording_equals_tonic(name, dtype) -> None:
    """Thousands of events over hundreds of windows: thousands of output events, hot pixels."""
    rng = np.random.default_rng(7)
    n = 5000
    x, y = rng.integers(0, SENSOR[0], n), rng.integers(0, SENSOR[1], n)
    x[::3], y[::3] = 5, 2
    events = structured(dtype, x, y, np.sort(rng.integers(0, 200_000, n)), rng.integers(0, 2, n))
    assert_matches_tonic(name, *DETERMINISTIC[name], events)


@pytest.mark.parametrize("method", ["integrator", "differentiator"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    threshold=st.integers(-1, 3),
    step_down=st.sampled_from([None, 0.1, 0.5, 0.99]),
    hot=st.booleans(),
)
def test_event_downsampling_on_many_cells_equals_tonic(method, seed, threshold, step_down, hot) -> None:
    """A 40x30 target (1200 cells: the fired ones found among many words of states, the last
    cell hot or not), sorted times or one step down somewhere (found in the kernel's pass over
    the events: the windows are then found again)."""
    rng = np.random.default_rng(seed)
    n = 3000
    sensor, target = (128, 96, 2), (40, 30)
    x, y = rng.integers(0, sensor[0], n), rng.integers(0, sensor[1], n)
    if hot:
        x[::4], y[::4] = 127, 95  # the last cell, in the bitmap's last word
    t = np.sort(rng.integers(0, 100_000, n))
    if step_down is not None:
        k = int(step_down * (n - 1))
        t[k], t[k + 1] = t[k + 1] + 5, t[k]
    events = structured(TONIC_DTYPE, x, y, t, rng.integers(0, 2, n))
    options = dict(dt=0.7, noise_threshold=threshold)
    if method == "differentiator":
        options["differentiator_time_bins"] = 2
    tonic_transform = T.EventDownsampling(sensor, target, method, **options)
    ours = S.EventDownsampling(sensor, target, method, **options)
    assert_matches_tonic(f"EventDownsampling-{method}", tonic_transform, ours, events)


@pytest.mark.parametrize("method", ["integrator", "differentiator"])
@pytest.mark.parametrize("threshold", [2.5, -0.5, 40, 1e12, -1e12, float("inf"), float("-inf"), float("nan")])
def test_event_downsampling_threshold_off_the_integers_equals_tonic(method, threshold) -> None:
    """Spikes are integers here, float64 in Tonic: a fractional, huge, infinite or NaN threshold
    fires the same cells (a hot ON pixel's spike passes 40 over a few windows)."""
    rng = np.random.default_rng(7)
    n = 3000
    sensor, target = (128, 96, 2), (40, 30)
    x, y, p = rng.integers(0, sensor[0], n), rng.integers(0, sensor[1], n), rng.integers(0, 2, n)
    x[::4], y[::4], p[::4] = 17, 33, 1
    events = structured(TONIC_DTYPE, x, y, np.sort(rng.integers(0, 100_000, n)), p)
    options = dict(dt=0.7, noise_threshold=threshold)
    tonic_transform = T.EventDownsampling(sensor, target, method, **options)
    ours = S.EventDownsampling(sensor, target, method, **options)
    assert_matches_tonic(f"EventDownsampling-{method}", tonic_transform, ours, events)


EDGE_CASES = {
    "empty": structured(TONIC_DTYPE, [], [], [], []),
    "one event": structured(TONIC_DTYPE, [3], [2], [17], [1]),
    "unsorted": structured(NMNIST_DTYPE, [1, 2, 1, 2, 3], [1, 1, 2, 2, 1], [900, 10, 500, 20, 11], [1, 0, 1, 1, 0]),
    "one timestamp": structured(TONIC_DTYPE, [1, 2, 2, 3, 1], [1, 1, 2, 2, 1], [5] * 5, [1, 0, 1, 1, 0]),
    "out of bounds": structured(TONIC_DTYPE, [-9, 8, 40, 2, -1], [1, 6, 2, -7, 0], [0, 1, 2, 3, 4], [1, 0, 1, 1, 0]),
}


@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_deterministic_transform_on_edge_cases(name, case) -> None:
    events = EDGE_CASES[case]
    assert_matches_tonic(name, *DETERMINISTIC[name], events)
    if len(events) == 0 and not name.startswith("NumpyAsType"):
        assert len(DETERMINISTIC[name][1](events)) == 0  # no events in, none out (Tonic raises for most transforms)


@settings(max_examples=40, deadline=None)
@given(events=event_arrays(sorted_time=True))
def test_one_dimensional_decimation_equals_tonic(events) -> None:
    dtype = np.dtype([(name, events.dtype[name]) for name in ("t", "x", "p")])
    line = np.zeros(len(events), dtype)
    for field in dtype.names:
        line[field] = events[field]
    assert_matches_tonic("Decimation", T.Decimation(n=2), S.Decimation(n=2), line)


@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
@settings(max_examples=25, deadline=None)
@given(events=event_arrays())
def test_dict_events_give_the_structured_values(name, events) -> None:
    """Our decoded dict in, a dict out, holding the structured result's values (on our dtypes,
    on-sensor coordinates: where a column cannot hold a result, it widens instead)."""
    _, ours = DETERMINISTIC[name]
    events = events[(events["x"] >= 0) & (events["x"] < SENSOR[0]) & (events["y"] >= 0) & (events["y"] < SENSOR[1])]
    events = structured(OUR_DTYPE, events["x"], events["y"], events["t"], events["p"])
    expected = ours(events.copy(), sensor_size=SENSOR)
    actual = ours({name: events[name] for name in "txyp"}, sensor_size=SENSOR)
    assert isinstance(actual, dict)
    if name.startswith("NumpyAsType"):
        assert all(np.array_equal(actual[field], events[field].astype(np.int64)) for field in "txyp")
        return
    for field in expected.dtype.names:
        assert np.array_equal(actual[field], expected[field].astype(np.int64)), field
        if not name.startswith("EventDownsampling"):
            assert actual[field].dtype == events.dtype[field] or actual[field].dtype.kind == "i"


def test_dict_column_widens_instead_of_wrapping() -> None:
    events = {
        "t": np.arange(3, dtype=np.int64),
        "x": np.array([0, 1, 7], np.uint16),
        "y": np.array([0, 1, 2], np.uint16),
        "p": np.ones(3, np.uint8),
    }
    shifted = S.TimeSkew(coefficient=1, offset=-1)(events)
    assert shifted["t"].tolist() == [-1, 0, 1]
    flipped = S.RandomFlipLR(p=1.0)(events, sensor_size=(4, 4, 2))  # x = 7 is off the 4-wide sensor
    assert flipped["x"].tolist() == [3, 2, -4] and flipped["x"].dtype.kind == "i"


# --- Tonic's odd rules kept, the corrected ones as options ------------------------------------


def test_denoise_memory_of_time_zero_is_tonics_and_optional() -> None:
    lone = structured(TONIC_DTYPE, [3], [3], [5], [1])  # no neighbour ever fired
    assert len(T.Denoise(filter_time=10)(lone.copy())) == 1  # Tonic: every pixel fired at t = 0
    assert len(S.Denoise(filter_time=10)(lone)) == 1
    assert len(S.Denoise(filter_time=10, memory_of_time_zero=False)(lone)) == 0
    pair = structured(TONIC_DTYPE, [3, 4], [3, 3], [100, 105], [1, 1])
    assert S.Denoise(filter_time=10, memory_of_time_zero=False)(pair)["t"].tolist() == [105]


def test_refractory_period_tonic_rule_and_corrected_rule() -> None:
    burst = structured(TONIC_DTYPE, [1] * 4, [1] * 4, [0, 6, 12, 30], [1] * 4)
    tonic_kept = T.RefractoryPeriod(delta=10)(burst.copy())["t"].tolist()
    assert S.RefractoryPeriod(delta=10)(burst)["t"].tolist() == tonic_kept == [30]
    # Only kept events start a refractory period, and a pixel's first event is kept.
    assert S.RefractoryPeriod(delta=10, tonic_rule=False)(burst)["t"].tolist() == [0, 12, 30]


def test_crop_time_without_max_uses_each_samples_latest_time() -> None:
    early = structured(TONIC_DTYPE, [1, 1], [1, 1], [0, 10], [1, 1])
    late = structured(TONIC_DTYPE, [1, 1], [1, 1], [0, 99], [1, 1])
    tonic_crop, ours = T.CropTime(), S.CropTime()
    tonic_crop(early.copy()), ours(early)
    assert len(tonic_crop(late.copy())) == 1  # Tonic kept the first sample's max
    assert len(ours(late)) == 2


# --- Random transforms: Tonic's distributions ------------------------------------------------

TRIALS = 300
_GRID_Y, _GRID_X = np.divmod(np.arange(SENSOR[0] * SENSOR[1]), SENSOR[0])
GRID = structured(NMNIST_DTYPE, _GRID_X, _GRID_Y, 0, 0)  # one event per pixel, row by row
GRID["t"] = np.arange(len(GRID)) * 10
GRID["p"] = np.arange(len(GRID)) % 2


def tonic_samples(transform, events, statistic, trials=TRIALS):
    values = []
    for seed in range(trials):
        np.random.seed(seed)
        values.append(statistic(transform(events.copy())))
    return np.asarray(values, dtype=float)


def our_samples(transform, events, statistic, trials=TRIALS, **call):
    return np.asarray(
        [statistic(transform(events.copy(), rng=np.random.default_rng(1000 + seed), **call)) for seed in range(trials)],
        dtype=float,
    )


def assert_same_distribution(ours, theirs) -> None:
    if np.all(ours == ours[0]) and np.all(theirs == theirs[0]):
        assert ours[0] == theirs[0]
        return
    assert stats.ks_2samp(ours, theirs).pvalue > 1e-3, (np.mean(ours), np.mean(theirs))


def assert_same_frequencies(ours, theirs) -> None:
    """Chi-square on the counts of each distinct value (two samples)."""
    values = np.union1d(ours, theirs)
    if len(values) == 1:
        return  # both always the same value (DropEvent's count, say)
    table = np.array([[np.sum(ours == v) for v in values], [np.sum(theirs == v) for v in values]])
    assert stats.chi2_contingency(table).pvalue > 1e-3, table


def kept(events) -> int:
    return len(events)


def first_x(events) -> float:
    return float(events["x"][0]) if len(events) else -1.0


RANDOM_BY_COUNT = {
    "DropEvent": (T.DropEvent(p=0.3), S.DropEvent(p=0.3)),
    "DropEvent-range": (T.DropEvent(p=(0.1, 0.8)), S.DropEvent(p=(0.1, 0.8))),
    "DropEventByTime": (T.DropEventByTime(duration_ratio=0.3), S.DropEventByTime(duration_ratio=0.3)),
    "DropEventByTime-range": (T.DropEventByTime(duration_ratio=(0.1, 0.6)), S.DropEventByTime(duration_ratio=(0.1, 0.6))),
    "DropEventByArea": (T.DropEventByArea(SENSOR, area_ratio=0.5), S.DropEventByArea(SENSOR, area_ratio=0.5)),
    "DropEventByArea-range": (T.DropEventByArea(SENSOR, area_ratio=(0.2, 0.4)), S.DropEventByArea(SENSOR, area_ratio=(0.2, 0.4))),
    "RefractoryPeriod-range": (T.RefractoryPeriod(delta=(0, 300)), S.RefractoryPeriod(delta=(0, 300))),
    "UniformNoise-range": (T.UniformNoise(SENSOR, n=(3, 40)), S.UniformNoise(SENSOR, n=(3, 40))),
}


@pytest.mark.parametrize("name", sorted(RANDOM_BY_COUNT))
def test_random_transform_keeps_tonics_number_of_events(name) -> None:
    tonic_transform, ours = RANDOM_BY_COUNT[name]
    events = GRID
    if "RefractoryPeriod" in name:  # each pixel fires 3 times, 100 µs apart: kept or not by the drawn delta
        repeats = [GRID.copy() for _ in range(3)]
        for k, copy in enumerate(repeats):
            copy["t"] += 100 * k
        events = np.sort(np.concatenate(repeats), order="t", kind="stable")
    assert_same_frequencies(our_samples(ours, events, kept), tonic_samples(tonic_transform, events, kept))


def test_drop_event_by_area_corrected_ratio_draw() -> None:
    """tonic_rule=False draws the ratio from [low, high): smaller boxes than Tonic's [high, 1)."""
    ours = our_samples(S.DropEventByArea(SENSOR, area_ratio=(0.2, 0.4), tonic_rule=False), GRID, kept)
    tonic = tonic_samples(T.DropEventByArea(SENSOR, area_ratio=(0.2, 0.4)), GRID, kept)
    dropped = len(GRID) - ours
    assert dropped.max() <= int(SENSOR[0] * 0.4) * int(SENSOR[1] * 0.4) and ours.mean() > tonic.mean()


# Transforms that act on a whole sample with some probability, or place a crop: the statistic
# recovers the draw (the first event's x tells where a crop or flip put the grid's first event).
RANDOM_BY_DRAW = {
    "RandomCrop": (T.RandomCrop(SENSOR, (3, 2)), S.RandomCrop(SENSOR, (3, 2)), lambda e: e["t"][0]),
    "RandomFlipLR": (T.RandomFlipLR(SENSOR, p=0.3), S.RandomFlipLR(SENSOR, p=0.3), first_x),
    "RandomFlipUD": (T.RandomFlipUD(SENSOR, p=0.6), S.RandomFlipUD(SENSOR, p=0.6), lambda e: e["y"][0]),
    "RandomFlipPolarity": (T.RandomFlipPolarity(p=0.3), S.RandomFlipPolarity(p=0.3), lambda e: e["p"][0]),
    "RandomTimeReversal": (T.RandomTimeReversal(p=0.7), S.RandomTimeReversal(p=0.7), first_x),
}


@pytest.mark.parametrize("name", sorted(RANDOM_BY_DRAW))
def test_random_transform_draws_as_tonic(name) -> None:
    tonic_transform, ours, statistic = RANDOM_BY_DRAW[name]
    assert_same_frequencies(our_samples(ours, GRID, statistic), tonic_samples(tonic_transform, GRID, statistic))


def float_events(n: int = 400) -> np.ndarray:
    dtype = np.dtype([("x", float), ("y", float), ("t", float), ("p", int)])
    events = np.zeros(n, dtype)
    events["x"], events["y"] = 4.0, 3.0
    events["t"] = np.linspace(0, 1000, n)
    return events


@pytest.mark.parametrize("options", [dict(var_x=1.0, var_y=2.0, sigma_xy=0.0), dict(var_x=2.0, var_y=1.0, sigma_xy=0.8)])
def test_spatial_jitter_shift_distribution(options) -> None:
    events = float_events()
    ours = S.SpatialJitter(SENSOR, **options)(events.copy(), rng=np.random.default_rng(5))
    np.random.seed(5)
    theirs = T.SpatialJitter(SENSOR, **options)(events.copy())
    for field in ("x", "y"):
        assert_same_distribution(ours[field] - events[field], theirs[field] - events[field])
    assert_same_distribution((ours["x"] - 4) * (ours["y"] - 3), (theirs["x"] - 4) * (theirs["y"] - 3))


def test_spatial_jitter_clips_as_tonic() -> None:
    statistic = kept
    ours = our_samples(S.SpatialJitter(SENSOR, var_x=4, var_y=4, clip_outliers=True), GRID, statistic, trials=100)
    tonic = tonic_samples(T.SpatialJitter(SENSOR, var_x=4, var_y=4, clip_outliers=True), GRID, statistic, trials=100)
    assert_same_distribution(ours, tonic)


@pytest.mark.parametrize("integer_time", [False, True])
@pytest.mark.parametrize("clip_negative", [False, True])
def test_time_jitter_distribution(clip_negative, integer_time) -> None:
    """Float and integer timestamps (the latter sorted by unique integer keys)."""
    events = float_events()
    if integer_time:
        events = structured(NMNIST_DTYPE, events["x"], events["y"], events["t"], events["p"])
    ours = S.TimeJitter(std=30, clip_negative=clip_negative, sort_timestamps=True)(events.copy(), rng=np.random.default_rng(2))
    np.random.seed(2)
    theirs = T.TimeJitter(std=30, clip_negative=clip_negative, sort_timestamps=True)(events.copy())
    assert np.all(np.diff(ours["t"]) >= 0)
    assert_same_distribution(np.sort(ours["t"]), np.sort(theirs["t"]))
    assert abs(len(ours) - len(theirs)) <= 12


def test_time_skew_range_distribution() -> None:
    events = structured(np.dtype([("x", int), ("y", int), ("t", float), ("p", int)]), [1], [1], [1000.0], [1])

    def statistic(e):
        return e["t"][0]

    assert_same_distribution(
        our_samples(S.TimeSkew(coefficient=(0.8, 1.2), offset=(0, 150)), events, statistic),
        tonic_samples(T.TimeSkew(coefficient=(0.8, 1.2), offset=(0, 150)), events, statistic),
    )


def test_uniform_noise_distribution() -> None:
    events = structured(NMNIST_DTYPE, [0, 1], [0, 1], [100, 5000], [0, 1])
    ours = S.UniformNoise(SENSOR, n=3000)(events.copy(), rng=np.random.default_rng(4))
    np.random.seed(4)
    theirs = T.UniformNoise(SENSOR, n=3000)(events.copy())
    assert len(ours) == len(theirs) == 3002 and np.all(np.diff(ours["t"]) >= 0)
    for field in ("x", "y", "p"):
        assert_same_frequencies(ours[field], theirs[field])
    assert_same_distribution(ours["t"], theirs["t"])


def test_random_transforms_vary_alone_and_repeat_with_a_seed() -> None:
    transform = S.Compose([S.DropEvent(p=0.5), S.SpatialJitter(SENSOR, var_x=3, var_y=3)])
    draws = [transform(GRID.copy()) for _ in range(5)]
    assert len({d.tobytes() for d in draws}) > 1
    seeded = [transform(GRID.copy(), rng=np.random.default_rng(9)) for _ in range(2)]
    assert_same(seeded[0], seeded[1])


@settings(max_examples=30, deadline=None)
@given(events=event_arrays(sorted_time=True))
def test_compose_chains_transforms_into_a_representation_as_tonic(events) -> None:
    """Compose passes the sensor size on to the representations (streams.transforms.ToFrame)."""
    inside = (events["x"] >= 0) & (events["x"] < SENSOR[0]) & (events["y"] >= 0) & (events["y"] < SENSOR[1])
    events = events[inside]
    theirs = T.Compose([T.Denoise(filter_time=300), T.CenterCrop(SENSOR, (6, 4)), T.ToFrame((6, 4, 2), n_time_bins=3)])
    ours = S.Compose([S.Denoise(filter_time=300), S.CenterCrop(size=(6, 4)), S.ToFrame(n_time_bins=3)])
    expected = run_tonic(theirs, events)
    actual = ours(events.copy(), sensor_size=SENSOR)
    if isinstance(expected, Exception):  # Tonic's ToFrame fails on some inputs; ours still gives the frames
        assert actual.dtype == np.int16 and actual.shape == (3, 2, 4, 6)
        return
    assert_same(expected, actual)  # frames, or the empty events where both stopped for want of events
